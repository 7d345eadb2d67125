"""Files inside a sandbox (async): ``sbx.files`` of an ``AsyncSandbox``."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, List, Literal, Optional, Union, overload

import httpx

from .._files_common import with_user, UPLOAD_CHUNK_BYTES, AsyncWriteData, ReadFormat, check_format, sync_body
from .._transport import AsyncTransport, Wait, wait_for
from .._watch_common import (
    WATCH_SILENCE_S,
    ErrorCallback,
    ProgressCallback,
    ProgressCounter,
    WatchCallback,
    async_counted_chunks,
    size_of,
    watch_query,
)
from .._wire import file_query
from ..errors import NotFoundError
from ..models import FileInfo, parse_list
from .watch import AsyncWatchHandle


class AsyncFileStream:
    """The content of a file as an async iterator of byte chunks; close it to stop early.

    Example::

        async with await sbx.files.read("/data/big.bin", format="stream") as chunks:
            async for chunk in chunks:
                ...
    """

    def __init__(
        self,
        transport: AsyncTransport,
        response: httpx.Response,
        wait: Wait,
        on_progress: Optional[ProgressCallback] = None,
    ) -> None:
        self._response = response
        self._chunks = transport.iter_body(response, wait)
        length = response.headers.get("content-length")
        self.size_bytes: Optional[int] = int(length) if length and length.isdigit() else None
        """The file's size as the server announced it."""
        self._counter = None if on_progress is None else ProgressCounter(self.size_bytes, on_progress)

    def __aiter__(self) -> "AsyncFileStream":
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._chunks.__anext__()
        if self._counter is not None:
            result = self._counter.add(len(chunk))
            if asyncio.iscoroutine(result):
                await result
        return chunk

    async def aclose(self) -> None:
        """Stops reading and frees the connection."""
        await self._chunks.aclose()  # type: ignore[attr-defined]
        await self._response.aclose()

    async def __aenter__(self) -> "AsyncFileStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _file_chunks(fileobj: Any) -> AsyncIterator[bytes]:
    # Blocking reads run in a thread so a slow disk does not stall the event loop.
    while True:
        chunk = await asyncio.to_thread(fileobj.read, UPLOAD_CHUNK_BYTES)
        if not chunk:
            return
        if isinstance(chunk, str):
            raise TypeError("files.write got a text-mode file: open it with 'rb'")
        yield chunk


async def _sync_iter_chunks(chunks: Any) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _async_body(data: Any) -> Any:
    if hasattr(data, "__aiter__"):
        return data
    if hasattr(data, "read"):
        return _file_chunks(data)
    body = sync_body(data)
    return body if isinstance(body, bytes) else _sync_iter_chunks(body)


class AsyncFiles:
    """File operations inside a sandbox (async); see :class:`paddock.Files`."""

    def __init__(self, transport: AsyncTransport, sandbox_id: str) -> None:
        self._transport = transport
        self._base = f"/v1/sandboxes/{sandbox_id}/files"

    def _wait(self, request_timeout: Optional[float]) -> Wait:
        return wait_for(self._transport.config, request_timeout)

    @overload
    async def read(
        self, path: str, *, format: Literal["text"] = "text", user: Optional[str] = None,
        request_timeout: Optional[float] = None, on_progress: Optional[ProgressCallback] = None,
    ) -> str: ...
    @overload
    async def read(
        self, path: str, *, format: Literal["bytes"], user: Optional[str] = None,
        request_timeout: Optional[float] = None, on_progress: Optional[ProgressCallback] = None,
    ) -> bytes: ...
    @overload
    async def read(
        self, path: str, *, format: Literal["stream"], user: Optional[str] = None,
        request_timeout: Optional[float] = None, on_progress: Optional[ProgressCallback] = None,
    ) -> AsyncFileStream: ...

    async def read(
        self,
        path: str,
        *,
        format: ReadFormat = "text",
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
    ) -> Union[str, bytes, AsyncFileStream]:
        """Reads a file: text (default), ``bytes``, or a ``stream`` of chunks.

        Example::

            text = await sbx.files.read("/home/user/a.txt")
        """
        check_format(format)
        wait = self._wait(request_timeout)
        response = await self._transport.open("GET", self._base, wait, params=file_query(path, user=user))
        stream = AsyncFileStream(self._transport, response, wait, on_progress)
        if format == "stream":
            return stream
        content = b"".join([chunk async for chunk in stream])
        return content if format == "bytes" else content.decode("utf-8")

    async def write(
        self,
        path: str,
        data: AsyncWriteData,
        *,
        user: Optional[str] = None,
        mode: Optional[int] = None,
        request_timeout: Optional[float] = None,
        on_progress: Optional[ProgressCallback] = None,
        size_bytes: Optional[int] = None,
    ) -> FileInfo:
        """Writes a file atomically, creating parent directories; see :meth:`paddock.Files.write`.

        Also accepts an async iterable of byte chunks. ``on_progress`` may be a coroutine function.
        """
        wait = self._wait(request_timeout)
        params = file_query(path, user=user, mode=mode)
        body = _async_body(data)
        if on_progress is not None:
            body = async_counted_chunks(body, ProgressCounter(size_of(data, size_bytes), on_progress))
        response = await self._transport.open("PUT", self._base, wait, params=params, content=body)
        return FileInfo.from_wire(await self._transport.read_json(response, wait))

    async def list(self, path: str, *, depth: int = 1, request_timeout: Optional[float] = None) -> List[FileInfo]:
        """Entries of a directory, ``depth`` levels deep (1 to 10), sorted by path."""
        body = await self._transport.call(
            "GET", self._base + "/list", self._wait(request_timeout), params=file_query(path, depth=depth)
        )
        return parse_list(body, "entries", FileInfo.from_wire)

    async def stat(self, path: str, *, request_timeout: Optional[float] = None) -> FileInfo:
        """Information about a path; a final symlink is reported, not followed."""
        body = await self._transport.call(
            "GET", self._base + "/stat", self._wait(request_timeout), params=file_query(path)
        )
        return FileInfo.from_wire(body)

    async def exists(self, path: str, *, request_timeout: Optional[float] = None) -> bool:
        """True when the path exists (a dangling symlink exists too)."""
        try:
            await self.stat(path, request_timeout=request_timeout)
            return True
        except NotFoundError:
            return False

    async def mkdir(self, path: str, *, user: Optional[str] = None, request_timeout: Optional[float] = None) -> FileInfo:
        """Creates a directory and its parents; an existing directory is fine."""
        body = await self._transport.call(
            "POST", self._base + "/mkdir", self._wait(request_timeout), json=with_user({"path": path}, user)
        )
        return FileInfo.from_wire(body)

    async def rename(
        self, old_path: str, new_path: str, *, user: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> FileInfo:
        """Moves or renames a file or directory; returns the :class:`FileInfo` at ``new_path``."""
        body = await self._transport.call(
            "POST",
            self._base + "/rename",
            self._wait(request_timeout),
            json=with_user({"from": old_path, "to": new_path}, user),
        )
        return FileInfo.from_wire(body)

    async def remove(self, path: str, *, user: Optional[str] = None, request_timeout: Optional[float] = None) -> None:
        """Removes a file, or a directory with its contents."""
        await self._transport.call(
            "POST", self._base + "/remove", self._wait(request_timeout), json=with_user({"path": path}, user)
        )

    async def watch(
        self,
        path: str,
        on_event: WatchCallback,
        *,
        recursive: bool = True,
        filter: Optional[str] = None,
        on_error: Optional[ErrorCallback] = None,
        request_timeout: Optional[float] = None,
    ) -> AsyncWatchHandle:
        """Watches a directory and calls ``on_event`` (a function or coroutine function) for
        each change, from a background task; see :meth:`paddock.Files.watch`.

        Example::

            w = await sbx.files.watch("/home/user/app", on_event, filter="src")
            ...
            await w.stop()
        """
        wait = wait_for(self._transport.config, request_timeout, WATCH_SILENCE_S)
        response = await self._transport.open(
            "GET", self._base + "/watch", wait, params=watch_query(path, recursive, filter)
        )
        return await AsyncWatchHandle(self._transport, response, wait, on_event, on_error)._start()
