# Generated from sandbox_async/watch.py by python/tools/gen_sync.py — do not edit
"""Watching a directory in a sandbox: ``sbx.files.watch``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

import httpx

from .._background import Worker
from .._callbacks import settle
from .._transport import SyncTransport, Wait
from .._watch_common import ErrorCallback, WatchCallback, WatchEvent, parse_watch_line
from .._wire import NdjsonSplitter
from ..errors import InternalError, UnavailableError


class WatchHandle:
    """A running watch: events are delivered in the background until :meth:`stop`.

    It is a context manager too.

    Example::

        with sbx.files.watch("/home/user/app", lambda ev: print(ev.type, ev.path)):
            ...
    """

    def __init__(
        self,
        transport: SyncTransport,
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
        self._worker: Optional[Worker[None]] = None

    def _start(self) -> WatchHandle:
        """Waits for the server's ``ready``, then delivers events in the background."""
        try:
            first = self._lines.__next__()
        except StopIteration:
            first = None
        if first != "ready":
            self._response.close()
            raise InternalError("INTERNAL", "the watch stream did not start with `ready`")
        self._worker = Worker(self._run, "paddock-watch", self._response)
        return self

    def _run(self) -> None:
        try:
            for item in self._lines:
                if self._stopped:
                    return
                if isinstance(item, WatchEvent):
                    settle(self._on_event(item))
            if not self._stopped:
                raise UnavailableError("UNAVAILABLE", "the watch stream ended unexpectedly")
        except Exception as exc:  # noqa: BLE001 - reported to the caller's on_error
            if not self._stopped and self._on_error is not None:
                settle(self._on_error(exc))
        finally:
            self._response.close()

    @property
    def running(self) -> bool:
        """True until the watch is stopped or ends by itself."""
        return self._worker is not None and self._worker.running

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Stops watching and waits (up to ``timeout`` seconds) for event delivery to end."""
        self._stopped = True
        if self._worker is not None:
            self._worker.stop(timeout)

    def __enter__(self) -> WatchHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _lines(chunks: Iterator[bytes]) -> Iterator[object]:
    splitter = NdjsonSplitter()
    for chunk in chunks:
        for raw in splitter.feed(chunk):
            item = parse_watch_line(raw)
            if item != "keepalive":
                yield item
    for raw in splitter.close():
        item = parse_watch_line(raw)
        if item != "keepalive":
            yield item
