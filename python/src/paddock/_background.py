"""Work that follows a response in the background (watch events, terminal output): an
asyncio task in the async SDK, a daemon thread in the sync one. A hand-written pair (see
python/tools/gen_sync.py), because tasks and threads start, stop and report differently.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable
from typing import Callable, Generic, Optional, TypeVar, cast

import httpx

T = TypeVar("T")


class AsyncWorker(Generic[T]):
    """Runs ``target()`` as a task of the running loop while it reads ``response``."""

    def __init__(self, target: Callable[[], Awaitable[T]], name: str, response: httpx.Response) -> None:
        self._response = response
        self._task = asyncio.get_running_loop().create_task(_awaited(target), name=name)
        # The outcome is read through result(); unread, it must not log "exception never retrieved".
        self._task.add_done_callback(lambda task: task.cancelled() or task.exception())

    @property
    def running(self) -> bool:
        """True until the work has ended."""
        return not self._task.done()

    async def join(self, timeout: Optional[float]) -> bool:
        """Waits up to ``timeout`` seconds (None: as long as it takes); False if it still runs."""
        await asyncio.wait({self._task}, timeout=timeout)
        return self._task.done()

    def result(self) -> T:
        """What the ended work returned; raises what it raised."""
        return self._task.result()

    async def stop(self, timeout: Optional[float]) -> None:
        """Interrupts the work (the task is cancelled) and waits up to ``timeout`` seconds for
        it to end. Called from the work itself, it only returns."""
        if asyncio.current_task() is self._task:
            return
        self._task.cancel()
        await self.join(timeout)
        await self._response.aclose()


async def _awaited(target: Callable[[], Awaitable[T]]) -> T:
    return await target()


class Worker(Generic[T]):
    """Runs ``target()`` on a daemon thread while it reads ``response``."""

    def __init__(self, target: Callable[[], T], name: str, response: httpx.Response) -> None:
        self._response = response
        self._result: Optional[T] = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)
        self._thread.start()

    def _run(self, target: Callable[[], T]) -> None:
        try:
            self._result = target()
        except BaseException as exc:  # noqa: BLE001 - kept for result(), which re-raises it
            self._error = exc

    @property
    def running(self) -> bool:
        """True until the work has ended."""
        return self._thread.is_alive()

    def join(self, timeout: Optional[float]) -> bool:
        """Waits up to ``timeout`` seconds (None: as long as it takes); False if it still runs."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def result(self) -> T:
        """What the ended work returned; raises what it raised."""
        if self._error is not None:
            raise self._error
        return cast(T, self._result)

    def stop(self, timeout: Optional[float]) -> None:
        """Interrupts the work (its read fails) and waits up to ``timeout`` seconds for it to
        end. Called from the work itself, it only returns."""
        if threading.current_thread() is self._thread:
            return
        # The thread is blocked reading the socket: closing the response from here would not
        # wake it, shutting the socket down does.
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            self._response.close()
        else:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.join(timeout)
