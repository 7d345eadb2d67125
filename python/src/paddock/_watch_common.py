"""Pieces of ``files.watch`` and transfer progress shared by the sync and async SDKs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional, Union

from .errors import InternalError, error_from_body

WATCH_KEEPALIVE_S = 15.0
"""How often a quiet watch stream carries a keep-alive line (``WATCH_KEEPALIVE_MS``)."""

WATCH_SILENCE_S = 2 * WATCH_KEEPALIVE_S + 5.0
"""A watch that hears nothing, not even a keep-alive, for this long is taken as broken."""

PROGRESS_SLICE_BYTES = 1024 * 1024
"""In-memory uploads are sent in slices of this size when progress is reported."""

WatchEventType = Literal["create", "write", "remove", "rename"]


@dataclass(frozen=True)
class WatchEvent:
    """One change under a watched directory.

    Events may be coalesced, but always add up to the directory's current state. A removed
    directory reports its contents removed first; a renamed directory is one ``rename`` and
    its contents move with it.
    """

    type: WatchEventType
    path: str
    """Absolute path inside the sandbox (the new path for a rename)."""
    file_type: str
    """``file``, ``dir``, ``symlink`` or ``other``."""
    old_path: Optional[str] = None
    """For ``rename``: where the entry was before."""


@dataclass(frozen=True)
class TransferProgress:
    """How far a transfer is: bytes moved so far, and the total when it is known."""

    bytes: int
    total_bytes: Optional[int] = None


ProgressCallback = Callable[[TransferProgress], Any]
"""Called as a transfer moves bytes (once per chunk)."""

WatchCallback = Callable[[WatchEvent], Any]
"""Called with each change; in the async SDK it may be a coroutine function."""

ErrorCallback = Callable[[Exception], Any]
"""Called once if a watch ends by itself (directory removed, sandbox gone, connection lost)."""


def watch_query(path: str, recursive: bool, filter: Optional[str]) -> dict[str, str]:
    """Query of ``GET /v1/sandboxes/:id/files/watch``."""
    query = {"path": path, "recursive": "true" if recursive else "false"}
    if filter is not None:
        query["filter"] = filter
    return query


def parse_watch_line(raw: Any) -> Union[WatchEvent, str]:
    """A watch line as a :class:`WatchEvent`, or ``"ready"`` / ``"keepalive"``; an ``error``
    line raises its typed error."""
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise InternalError("INTERNAL", f"unexpected watch line from the server: {raw!r}")
    kind = raw["type"]
    if kind in ("ready", "keepalive"):
        return kind
    if kind == "error":
        raise error_from_body(raw.get("error"), None)
    if kind not in ("create", "write", "remove", "rename") or not isinstance(raw.get("path"), str):
        raise InternalError("INTERNAL", f"unexpected watch line from the server: {raw!r}")
    old = raw.get("oldPath")
    return WatchEvent(type=kind, path=raw["path"], file_type=str(raw.get("fileType")), old_path=old)


class ProgressCounter:
    """Counts bytes and reports each step to a callback."""

    def __init__(self, total_bytes: Optional[int], on_progress: ProgressCallback) -> None:
        self.bytes = 0
        self.total_bytes = total_bytes
        self._on_progress = on_progress

    def add(self, count: int) -> Any:
        """Adds ``count`` bytes; returns the callback's result (awaited by the async SDK)."""
        self.bytes += count
        return self._on_progress(TransferProgress(self.bytes, self.total_bytes))


def size_of(data: Any, size_bytes: Optional[int]) -> Optional[int]:
    """The upload's length when it can be known: given, in memory, or a regular file's rest."""
    if size_bytes is not None:
        return size_bytes
    if isinstance(data, (str, bytes, bytearray, memoryview)):
        return len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if hasattr(data, "fileno") and hasattr(data, "tell"):
        try:
            return os.fstat(data.fileno()).st_size - data.tell()
        except (OSError, ValueError):
            return None
    return None


def counted_chunks(body: Any, counter: ProgressCounter) -> Iterator[bytes]:
    """The sync upload body (bytes or an iterable of chunks) in chunks, counted as they go."""
    chunks: Iterable[bytes]
    if isinstance(body, bytes):
        chunks = (body[i : i + PROGRESS_SLICE_BYTES] for i in range(0, len(body), PROGRESS_SLICE_BYTES))
    else:
        chunks = body
    for chunk in chunks:
        counter.add(len(chunk))
        yield chunk


async def async_counted_chunks(body: Any, counter: ProgressCounter) -> AsyncIterator[bytes]:
    """The async upload body (bytes or an async iterable of chunks), counted as it goes."""
    if isinstance(body, bytes):
        for i in range(0, len(body), PROGRESS_SLICE_BYTES):
            chunk = body[i : i + PROGRESS_SLICE_BYTES]
            await _maybe_await(counter.add(len(chunk)))
            yield chunk
        return
    source: AsyncIterable[bytes] = body
    async for chunk in source:
        await _maybe_await(counter.add(len(chunk)))
        yield chunk


async def _maybe_await(value: Any) -> None:
    if hasattr(value, "__await__"):
        await value
