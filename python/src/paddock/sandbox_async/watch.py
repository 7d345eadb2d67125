"""Watching a directory in a sandbox: ``sbx.files.watch``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Optional

import httpx

from .._background import AsyncWorker
from .._callbacks import async_settle
from .._transport import AsyncTransport, Wait
from .._watch_common import ErrorCallback, WatchCallback, WatchEvent, parse_watch_line
from .._wire import NdjsonSplitter
from ..errors import InternalError, UnavailableError


class AsyncWatchHandle:
    """A running watch: events are delivered in the background until :meth:`stop`.

    It is a context manager too.

    Example::

        async with await sbx.files.watch("/home/user/app", lambda ev: print(ev.type, ev.path)):
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
        self._worker: Optional[AsyncWorker[None]] = None

    async def _start(self) -> AsyncWatchHandle:
        """Waits for the server's ``ready``, then delivers events in the background."""
        try:
            first = await self._lines.__anext__()
        except StopAsyncIteration:
            first = None
        if first != "ready":
            await self._response.aclose()
            raise InternalError("INTERNAL", "the watch stream did not start with `ready`")
        self._worker = AsyncWorker(self._run, "paddock-watch", self._response)
        return self

    async def _run(self) -> None:
        try:
            async for item in self._lines:
                if self._stopped:
                    return
                if isinstance(item, WatchEvent):
                    await async_settle(self._on_event(item))
            if not self._stopped:
                raise UnavailableError("UNAVAILABLE", "the watch stream ended unexpectedly")
        except Exception as exc:  # noqa: BLE001 - reported to the caller's on_error
            if not self._stopped and self._on_error is not None:
                await async_settle(self._on_error(exc))
        finally:
            await self._response.aclose()

    @property
    def running(self) -> bool:
        """True until the watch is stopped or ends by itself."""
        return self._worker is not None and self._worker.running

    async def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Stops watching and waits (up to ``timeout`` seconds) for event delivery to end."""
        self._stopped = True
        if self._worker is not None:
            await self._worker.stop(timeout)

    async def __aenter__(self) -> AsyncWatchHandle:
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
