"""Watching a directory in a sandbox (sync): ``sbx.files.watch``."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Iterator, Optional

import httpx

from .._transport import SyncTransport, Wait
from .._watch_common import ErrorCallback, WatchCallback, WatchEvent, parse_watch_line
from .._wire import NdjsonSplitter
from ..errors import InternalError, UnavailableError


class WatchHandle:
    """A running watch: events are delivered on a background thread until :meth:`stop`.

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
        self._stopped = threading.Event()
        first = next(self._lines, None)
        if first != "ready":
            response.close()
            raise InternalError("INTERNAL", "the watch stream did not start with `ready`")
        self._thread = threading.Thread(target=self._run, name="paddock-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._lines:
                if self._stopped.is_set():
                    return
                if isinstance(item, WatchEvent):
                    self._on_event(item)
            if not self._stopped.is_set():
                raise UnavailableError("UNAVAILABLE", "the watch stream ended unexpectedly")
        except Exception as exc:  # noqa: BLE001 - reported to the caller's on_error
            if not self._stopped.is_set() and self._on_error is not None:
                self._on_error(exc)
        finally:
            self._response.close()

    @property
    def running(self) -> bool:
        """True until the watch is stopped or ends by itself."""
        return self._thread.is_alive()

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Stops watching and waits (up to ``timeout`` seconds) for the event thread to end."""
        self._stopped.set()
        if threading.current_thread() is self._thread:
            return
        # The event thread is blocked reading the socket; closing the response from here
        # would not wake it, shutting the socket down does.
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout)

    def __enter__(self) -> "WatchHandle":
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
