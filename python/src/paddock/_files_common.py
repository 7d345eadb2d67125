"""Pieces of ``sbx.files`` shared by the sync and async SDKs, and the hand-written pair
:func:`async_upload_body` / :func:`upload_body` (see python/tools/gen_sync.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import IO, Any, Literal, Optional, Union

from ._wire import iter_file_chunks

UPLOAD_CHUNK_BYTES = 1024 * 1024
"""Uploads read file objects in chunks of this size."""

ReadFormat = Literal["text", "bytes", "stream"]
"""How ``files.read`` returns the content: ``str``, ``bytes``, or an iterator of chunks."""

WriteData = Union[str, bytes, bytearray, memoryview, IO[bytes], Iterable[bytes]]
"""What ``files.write`` accepts: text (UTF-8), bytes, a binary file object or an iterable
of byte chunks. File objects and iterables are streamed, never held whole in memory."""

AsyncWriteData = Union[WriteData, AsyncIterable[bytes]]
"""What ``AsyncFiles.write`` accepts: :data:`WriteData` or an async iterable of chunks."""


def upload_body(data: Any) -> Any:
    """The httpx ``content`` for ``data`` (sync): bytes, or an iterator of chunks for file
    objects and iterables."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "read"):
        return iter_file_chunks(data, UPLOAD_CHUNK_BYTES)
    if isinstance(data, Iterable) and not isinstance(data, dict):
        return data
    raise TypeError(
        f"files.write takes str, bytes, a binary file object or an iterable of bytes, not {type(data).__name__}"
    )


def check_format(fmt: str) -> None:
    """Raises ``ValueError`` for a ``format`` that ``files.read`` does not know."""
    if fmt not in ("text", "bytes", "stream"):
        raise ValueError(f"format must be 'text', 'bytes' or 'stream', not {fmt!r}")


def with_user(body: dict[str, Any], user: Optional[str]) -> dict[str, Any]:
    """Adds ``user`` to a JSON body when given."""
    if user is not None:
        body["user"] = user
    return body


def async_upload_body(data: Any) -> Any:
    """The httpx ``content`` for ``data`` (async): bytes, or an async iterator of chunks for
    async iterables, file objects and iterables."""
    if hasattr(data, "__aiter__"):
        return data
    if hasattr(data, "read"):
        return _file_chunks(data)
    body = upload_body(data)
    return body if isinstance(body, bytes) else _chunks_of(body)


async def _file_chunks(fileobj: Any) -> AsyncIterator[bytes]:
    # Blocking reads run in a thread so a slow disk does not stall the event loop.
    while True:
        chunk = await asyncio.to_thread(fileobj.read, UPLOAD_CHUNK_BYTES)
        if not chunk:
            return
        if isinstance(chunk, str):
            raise TypeError("files.write got a text-mode file: open it with 'rb'")
        yield chunk


async def _chunks_of(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
