"""Files inside a sandbox: ``sbx.files``."""

from __future__ import annotations

import builtins
from typing import Literal, Optional, Union, overload

import httpx

from .._callbacks import async_settle
from .._files_common import AsyncWriteData, ReadFormat, async_upload_body, check_format, with_user
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
    """The content of a file as an iterator of byte chunks; close it to stop early.

    Example::

        async with await sbx.files.read("/data/big.bin", format="stream") as chunks:
            async for chunk in chunks:
                out.write(chunk)
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
        self.size_bytes: Optional[int] = _content_length(response)
        """The file's size as the server announced it."""
        self._counter = None if on_progress is None else ProgressCounter(self.size_bytes, on_progress)

    def __aiter__(self) -> AsyncFileStream:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._chunks.__anext__()
        if self._counter is not None:
            await async_settle(self._counter.add(len(chunk)))
        return chunk

    async def aclose(self) -> None:
        """Stops reading and frees the connection."""
        await self._chunks.aclose()
        await self._response.aclose()

    async def __aenter__(self) -> AsyncFileStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _content_length(response: httpx.Response) -> Optional[int]:
    value = response.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


class AsyncFiles:
    """File operations inside a sandbox. Reach it as ``sandbox.files``.

    They are done by the sandbox's agent, so paths and symlinks resolve inside the sandbox,
    never on the host. Paths are absolute.
    """

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
        """Reads a file: as text (UTF-8, the default), ``bytes``, or a ``stream`` of chunks.

        Raises:
            NotFoundError: the file does not exist.
            IsADirectoryError: the path is a directory.

        Example::

            text = await sbx.files.read("/home/user/a.txt")
            async for chunk in await sbx.files.read("/data/big.bin", format="stream"): ...
            await sbx.files.read("/data/big.bin", format="bytes", on_progress=lambda p: print(p.bytes, p.total_bytes))
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
        """Writes a file, creating parent directories, and returns its :class:`FileInfo`.

        The content lands atomically: readers see the old file or the whole new one.
        File objects (opened ``"rb"``) and iterables of bytes are streamed in chunks; the
        async SDK also takes async iterables.

        Args:
            path: absolute path inside the sandbox.
            data: text, bytes, a binary file object, or an iterable of byte chunks.
            user: owner of the new file; default ``user``.
            mode: permission bits, e.g. ``0o644``.
            request_timeout: seconds each send and the final answer may take.
            on_progress: called with a :class:`TransferProgress` as chunks are sent (in the
                async SDK it may be a coroutine function).
            size_bytes: the length of an iterable ``data``, for ``on_progress``'s ``total_bytes``
                (known by itself for bytes and regular files).

        Raises:
            DiskFullError: the sandbox's disk is full; the old file (if any) is intact.

        Example::

            await sbx.files.write("/home/user/a.txt", "hi")
            with open("big.bin", "rb") as f:
                await sbx.files.write("/data/big.bin", f)
        """
        wait = self._wait(request_timeout)
        params = file_query(path, user=user, mode=mode)
        body = async_upload_body(data)
        if on_progress is not None:
            body = async_counted_chunks(body, ProgressCounter(size_of(data, size_bytes), on_progress))
        response = await self._transport.open("PUT", self._base, wait, params=params, content=body)
        return FileInfo.from_wire(await self._transport.read_json(response, wait))

    async def list(
        self, path: str, *, depth: int = 1, request_timeout: Optional[float] = None
    ) -> builtins.list[FileInfo]:
        """Entries of a directory, ``depth`` levels deep (1 to 10), sorted by path.

        Example::

            names = [e.name for e in await sbx.files.list("/home/user")]
        """
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

    async def mkdir(
        self, path: str, *, user: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> FileInfo:
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
        """Watches a directory and calls ``on_event`` for each change, in the background (a
        thread in the sync SDK; a task in the async one, where it may be a coroutine function).

        Returns once the watch is set up: every later change is reported. Events may be
        coalesced, but always add up to the directory's current state.

        Args:
            path: absolute directory inside the sandbox.
            on_event: called with each :class:`WatchEvent` (``type``, ``path``, ``old_path``, ``file_type``).
            recursive: also watch every subdirectory, present and future.
            filter: only report matching paths: a path prefix relative to ``path`` (or absolute,
                inside it), or a glob (``src/**/*.py``; ``*.py`` matches names at any depth).
            on_error: called once if the watch ends by itself (directory removed, sandbox gone).
            request_timeout: seconds to wait for the watch to be set up.

        Raises:
            NotFoundError: the directory does not exist.
            NotADirectoryError: the path is a file.

        Example::

            w = await sbx.files.watch("/home/user/app", lambda ev: print(ev.type, ev.path))
            ...
            await w.stop()
        """
        wait = wait_for(self._transport.config, request_timeout, WATCH_SILENCE_S)
        response = await self._transport.open(
            "GET", self._base + "/watch", wait, params=watch_query(path, recursive, filter)
        )
        return await AsyncWatchHandle(self._transport, response, wait, on_event, on_error)._start()
