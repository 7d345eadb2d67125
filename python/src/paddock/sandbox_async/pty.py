"""Interactive terminals in a sandbox: ``sbx.pty``."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Mapping
from typing import Optional

import httpx

from .._background import AsyncWorker
from .._callbacks import async_settle
from .._pty_common import (
    AsyncDataCallback,
    InputData,
    OutputDecoder,
    PtyInfo,
    create_pty_body,
    created_of,
    input_bytes,
    pty_path,
)
from .._transport import AsyncTransport, Wait, wait_for
from .._wire import NdjsonSplitter
from ..errors import NotFoundError, TimeoutError
from ..models import parse_list

DISCONNECT_WAIT_S = 10.0
"""How long :meth:`AsyncPtyHandle.disconnect` waits for output delivery to end."""


class AsyncPtyHandle:
    """A terminal session you are attached to. Output is followed in the background (a
    thread in the sync SDK, a task in the async one) that calls ``on_data``; the program
    runs in the sandbox whether or not you are attached.

    Example::

        term = await sbx.pty.create(cols=80, rows=24, on_data=lambda b: print(b.decode(), end=""))
        await term.send_input("exit 3\\r")
        assert await term.wait() == 3
    """

    def __init__(
        self,
        terminals: AsyncPty,
        pty_id: str,
        pid: int,
        response: httpx.Response,
        chunks: AsyncIterator[bytes],
        on_data: Optional[AsyncDataCallback],
        from_offset: int,
    ) -> None:
        self.id = pty_id
        """The session id."""
        self.pid = pid
        """The program's pid inside the sandbox."""
        self._terminals = terminals
        self._chunks = chunks
        self._on_data = on_data
        self._decoder = OutputDecoder(pty_id, from_offset)
        self._detached = False
        self._worker = AsyncWorker(self._follow, f"paddock-pty-{pty_id}", response)

    @property
    def output_offset(self) -> int:
        """Offset after the last output received: pass it as ``from_offset`` to resume."""
        return self._decoder.offset

    async def send_input(self, data: InputData, *, request_timeout: Optional[float] = None) -> None:
        """Types into the terminal: text (sent as UTF-8) or raw bytes."""
        await self._terminals.send_input(self.id, data, request_timeout=request_timeout)

    async def resize(self, cols: int, rows: int, *, request_timeout: Optional[float] = None) -> None:
        """Changes the terminal size; the program gets SIGWINCH."""
        await self._terminals.resize(self.id, cols, rows, request_timeout=request_timeout)

    async def kill(self, *, request_timeout: Optional[float] = None) -> None:
        """Kills the program and everything it started in the terminal."""
        await self._terminals.kill(self.id, request_timeout=request_timeout)

    async def wait(self, timeout: Optional[float] = None) -> int:
        """Returns the exit code once the program exits (128 + n when signal n ended it).

        Raises:
            TimeoutError: ``timeout`` seconds passed first (the program keeps running).
            UnavailableError: the output stream broke first; the session still runs, and
                ``await sbx.pty.connect(id, from_offset=handle.output_offset)`` resumes.
        """
        if not await self._worker.join(timeout):
            message = f"PTY session {self.id} still runs after {timeout:g} s; pass a larger timeout"
            raise TimeoutError("TIMEOUT", message)
        return self._worker.result()

    async def disconnect(self) -> None:
        """Stops following the output; the program keeps running."""
        self._detached = True
        await self._worker.stop(DISCONNECT_WAIT_S)

    async def _follow(self) -> int:
        splitter = NdjsonSplitter()
        try:
            async for chunk in self._chunks:
                for raw in splitter.feed(chunk):
                    await self._deliver(raw)
            for raw in splitter.close():
                await self._deliver(raw)
        except BaseException:
            # Disconnecting interrupts the read (a cancelled task, a shut-down socket):
            # wait() then reports the broken stream, as when the connection drops.
            if self._detached:
                raise self._decoder.broken() from None
            raise
        if self._decoder.exit_code is None:
            raise self._decoder.broken()
        return self._decoder.exit_code

    async def _deliver(self, raw: object) -> None:
        data = self._decoder.decode(raw)
        if data is not None and self._on_data is not None:
            await async_settle(self._on_data(data))


class AsyncPty:
    """Interactive terminals in a sandbox (``sandbox.pty``): a real pseudo-terminal with
    ``TERM=xterm-256color``, so job control, colors, ``vim`` and ``top`` work.

    Example::

        term = await sbx.pty.create(cols=120, rows=40, on_data=sys.stdout.buffer.write)
        await term.send_input("ls --color\\r")
        await term.resize(80, 24)
    """

    def __init__(self, transport: AsyncTransport, sandbox_id: str) -> None:
        self._transport = transport
        self._sandbox_id = sandbox_id
        # Keystrokes sent at the same time must not overtake each other.
        self._input_lock = asyncio.Lock()

    async def create(
        self,
        cols: int,
        rows: int,
        *,
        on_data: Optional[AsyncDataCallback] = None,
        cmd: Optional[str] = None,
        cwd: Optional[str] = None,
        envs: Optional[Mapping[str, str]] = None,
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> AsyncPtyHandle:
        """Starts a terminal (the user's login shell unless ``cmd`` is given) and follows
        its output from the first byte.

        Args:
            cols: width in character cells, 1 to 1000.
            rows: height in character cells, 1 to 1000.
            on_data: called in the background with each output chunk (bytes); in the async
                SDK it may be a coroutine function.
            cmd: a shell command line to run instead of the login shell.
            cwd: absolute working directory; default the template's workdir.
            envs: extra environment, over the sandbox's ``env``.
            user: user name or uid; default ``user``.
            request_timeout: seconds to wait for the server to answer.

        Raises:
            InvalidArgumentError: a size out of bounds (the message names ``cols`` or ``rows``).
        """
        wait = wait_for(self._transport.config, request_timeout)
        body = create_pty_body(cols, rows, cmd, cwd, envs, user)
        pty_id, pid = created_of(await self._transport.call("POST", pty_path(self._sandbox_id), wait, json=body))
        response, chunks = await self._open_output(pty_id, 0, request_timeout)
        return AsyncPtyHandle(self, pty_id, pid, response, chunks, on_data, 0)

    async def connect(
        self,
        pty_id: str,
        *,
        on_data: Optional[AsyncDataCallback] = None,
        from_offset: Optional[int] = None,
        request_timeout: Optional[float] = None,
    ) -> AsyncPtyHandle:
        """Attaches to a running (or recently exited) session: the recent screen output
        first (or from ``from_offset``), then live output.

        Raises:
            NotFoundError: no such session in this sandbox.
        """
        info = next((s for s in await self.list(request_timeout=request_timeout) if s.id == pty_id), None)
        if info is None:
            message = f"no PTY session {pty_id!r} in sandbox {self._sandbox_id}; see sbx.pty.list()"
            raise NotFoundError("NOT_FOUND", message)
        response, chunks = await self._open_output(pty_id, from_offset, request_timeout)
        return AsyncPtyHandle(self, pty_id, info.pid, response, chunks, on_data, from_offset or 0)

    async def list(self, *, request_timeout: Optional[float] = None) -> builtins.list[PtyInfo]:
        """The sandbox's terminal sessions, running and recently exited (with ``exit_code``)."""
        wait = wait_for(self._transport.config, request_timeout)
        value = await self._transport.call("GET", pty_path(self._sandbox_id), wait)
        return parse_list(value, "sessions", PtyInfo.from_wire)

    async def send_input(self, pty_id: str, data: InputData, *, request_timeout: Optional[float] = None) -> None:
        """Types into session ``pty_id``."""
        wait = wait_for(self._transport.config, request_timeout)
        async with self._input_lock:
            response = await self._transport.open(
                "POST", pty_path(self._sandbox_id, pty_id, "input"), wait, content=input_bytes(data)
            )
            await self._transport.read_json(response, wait)

    async def resize(self, pty_id: str, cols: int, rows: int, *, request_timeout: Optional[float] = None) -> None:
        """Resizes session ``pty_id``; the program gets SIGWINCH."""
        wait = wait_for(self._transport.config, request_timeout)
        path = pty_path(self._sandbox_id, pty_id, "resize")
        await self._transport.call("POST", path, wait, json={"cols": cols, "rows": rows})

    async def kill(self, pty_id: str, *, request_timeout: Optional[float] = None) -> None:
        """Kills session ``pty_id`` and everything it started."""
        wait = wait_for(self._transport.config, request_timeout)
        await self._transport.call("POST", pty_path(self._sandbox_id, pty_id, "kill"), wait)

    async def _open_output(
        self, pty_id: str, from_offset: Optional[int], request_timeout: Optional[float]
    ) -> tuple[httpx.Response, AsyncIterator[bytes]]:
        # A terminal may print nothing for hours: no read bound on the stream.
        wait = Wait(wait_for(self._transport.config, request_timeout).request, None)
        params = None if from_offset is None else {"fromOffset": str(from_offset)}
        path = pty_path(self._sandbox_id, pty_id, "output")
        response = await self._transport.open("GET", path, wait, params=params)
        return response, self._transport.iter_body(response, wait)
