"""Watching a directory in a sandbox (async): ``sbx.files.watch`` of an ``AsyncSandbox``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Optional

import httpx

from .._transport import AsyncTransport, Wait
from .._watch_common import ErrorCallback, WatchCallback, WatchEvent, parse_watch_line
from .._wire import NdjsonSplitter
from ..errors import InternalError, UnavailableError


class AsyncWatchHandle:
    """A running watch: events are delivered by a background task until :meth:`stop`.

    ``on_event`` may be a plain function or a coroutine function (awaited in order).

    Example::

        async with await sbx.files.watch("/home/user/app", on_event):
            ...
    """

    def __init__(
        self,
        transport: AsyncTransport,
        response: httpx.Response,
        wait: Wait,
        on_event: WatchCallback,
        on_error: Optional[ErrorCallback],
    ) -> None:
        self._response = response
        self._lines = _lines(transport.iter_body(response, wait))
        self._on_event = on_event
        self._on_error = on_error
        self._stopped = False
        self._task: Optional["asyncio.Task[None]"] = None

    async def _start(self) -> "AsyncWatchHandle":
        first = await self._lines.__anext__()
        if first != "ready":
            await self._response.aclose()
            raise InternalError("INTERNAL", "the watch stream did not start with `ready`")
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        try:
            async for item in self._lines:
                if isinstance(item, WatchEvent):
                    result = self._on_event(item)
                    if asyncio.iscoroutine(result):
                        await result
            if not self._stopped:
                raise UnavailableError("UNAVAILABLE", "the watch stream ended unexpectedly")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the caller's on_error
            if not self._stopped and self._on_error is not None:
                result = self._on_error(exc)
                if asyncio.iscoroutine(result):
                    await result
        finally:
            await self._response.aclose()

    @property
    def running(self) -> bool:
        """True until the watch is stopped or ends by itself."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stops watching; no event is delivered after this returns."""
        self._stopped = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._response.aclose()

    async def __aenter__(self) -> "AsyncWatchHandle":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[object]:
    splitter = NdjsonSplitter()
    async for chunk in chunks:
        for raw in splitter.feed(chunk):
            item = parse_watch_line(raw)
            if item != "keepalive":
                yield item
    for raw in splitter.close():
        item = parse_watch_line(raw)
        if item != "keepalive":
            yield item
