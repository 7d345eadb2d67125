"""Running commands in a sandbox: ``sbx.commands``."""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Optional
from urllib.parse import quote

import httpx

from .._callbacks import async_settle
from .._command_run import OutputCallback, RunCollector, stream_silence
from .._lazy_open import AsyncLazyOpen
from .._processes_common import ProcessInfo, parse_processes
from .._protocol import RunCommandRequest
from .._transport import AsyncTransport, Wait, wait_for
from .._wire import Cmd, NdjsonSplitter, StdinData, run_command_body
from ..connection_config import DEFAULT_COMMAND_TIMEOUT
from ..models import CommandEvent, CommandEventDecoder
from .command_handle import AsyncCommandHandle


class AsyncCommandStream(AsyncLazyOpen):
    """The events of a running command: iterate it, and close it to stop early.

    The request is sent on first use: entering its ``async with`` block or the first
    iteration step (in the async SDK also awaiting the stream, which returns it). A bad
    argument or an unknown sandbox raises there. Closing before the ``exit`` event
    disconnects, which kills the command in the sandbox.

    Example::

        async with sbx.commands.stream("make") as events:
            async for ev in events:
                if ev.type == "stdout":
                    print(ev.data, end="")
    """

    def __init__(self, transport: AsyncTransport, path: str, body: RunCommandRequest, wait: Wait) -> None:
        self._transport, self._path, self._body, self._wait = transport, path, body, wait
        self._response: Optional[httpx.Response] = None
        self._events: Optional[AsyncGenerator[CommandEvent, None]] = None

    async def _open(self) -> None:
        if self._events is None:
            self._response = await self._transport.open("POST", self._path, self._wait, json=self._body)
            self._events = self._decode(self._response)

    async def _decode(self, response: httpx.Response) -> AsyncGenerator[CommandEvent, None]:
        splitter, decoder = NdjsonSplitter(), CommandEventDecoder()
        async for chunk in self._transport.iter_body(response, self._wait):
            for raw in splitter.feed(chunk):
                yield decoder.decode(raw)
        for raw in splitter.close():
            yield decoder.decode(raw)

    def __aiter__(self) -> AsyncCommandStream:
        return self

    async def __anext__(self) -> CommandEvent:
        await self._open()
        assert self._events is not None
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stops reading; a command still running is killed."""
        if self._events is not None:
            await self._events.aclose()
        if self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> AsyncCommandStream:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncCommands:
    """Runs commands inside a sandbox. Reach it as ``sandbox.commands``."""

    def __init__(self, transport: AsyncTransport, sandbox_id: str) -> None:
        self._transport = transport
        self._path = f"/v1/sandboxes/{sandbox_id}/commands"
        self._sandbox_id = sandbox_id
        self._processes = f"/v1/sandboxes/{sandbox_id}/processes"

    async def run(
        self,
        cmd: Cmd,
        *,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        envs: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        stdin: Optional[StdinData] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        throw_on_error: bool = True,
        request_timeout: Optional[float] = None,
        background: bool = False,
    ) -> Any:
        """Runs a command to completion and returns its output and exit code.

        A string runs through the shell (``bash -c``); a list runs the program directly.

        Args:
            cmd: a shell line, or a program and its arguments.
            cwd: absolute working directory; default the template's workdir.
            user: user name or uid to run as; default ``user``.
            envs: extra environment, over the sandbox's ``env``.
            timeout: seconds before the command is killed; 0 means no limit. Default 60.
            stdin: bytes (or text, sent as UTF-8) for stdin, which is then closed.
            on_stdout: called with each stdout chunk as it arrives (decoded text); in the
                async SDK it may be a coroutine function.
            on_stderr: called with each stderr chunk as it arrives.
            throw_on_error: raise :class:`~paddock.CommandExitError` on a non-zero exit.
            request_timeout: seconds to wait for the server to answer; default the sandbox's.
            background: start it and return a :class:`AsyncCommandHandle` at once; it keeps
                running when this client goes away, with no time limit unless ``timeout``.

        Raises:
            CommandExitError: the exit code was not 0 (unless ``throw_on_error=False``).
            TimeoutError: ``timeout`` ran out and the command was killed.

        Example::

            r = await sbx.commands.run("python3 -c 'print(6*7)'")   # r.stdout == "42\\n"
            await sbx.commands.run(["ls", "-la"], cwd="/tmp", on_stdout=print)
        """
        if background:
            # Background processes have no time limit unless one is given.
            return await self._start(cmd, cwd, user, envs, timeout or 0, stdin, on_stdout, on_stderr, request_timeout)
        timeout = DEFAULT_COMMAND_TIMEOUT if timeout is None else timeout
        collector = RunCollector(timeout, on_stdout, on_stderr, throw_on_error)
        stream = self.stream(
            cmd, cwd=cwd, user=user, envs=envs, timeout=timeout, stdin=stdin, request_timeout=request_timeout
        )
        async with stream:
            async for event in stream:
                await async_settle(collector.add(event))
        return collector.finish()

    def stream(
        self,
        cmd: Cmd,
        *,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        envs: Optional[Mapping[str, str]] = None,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        stdin: Optional[StdinData] = None,
        request_timeout: Optional[float] = None,
    ) -> AsyncCommandStream:
        """Runs a command and returns its events as they happen: ``start``, ``stdout`` /
        ``stderr`` chunks (text, raw bytes and byte offset), then ``exit``.

        The request is sent on the stream's first use (see :class:`AsyncCommandStream`). The
        ``exit`` event reports a non-zero code or a timeout; nothing is raised for them.
        Options are those of :meth:`run`.

        Example::

            async for ev in sbx.commands.stream("make"):
                if ev.type == "stdout":
                    print(ev.data, end="")
                elif ev.type == "exit":
                    print("exit", ev.exit_code)
        """
        body = run_command_body(cmd, cwd=cwd, envs=envs, user=user, timeout=timeout, stdin=stdin)
        config = self._transport.config
        wait = wait_for(config, request_timeout, stream_silence(timeout, config, request_timeout))
        return AsyncCommandStream(self._transport, self._path, body, wait)

    async def list(self) -> builtins.list[ProcessInfo]:
        """Every process of the sandbox: running ones and the recent finished ones (with exit codes)."""
        wait = wait_for(self._transport.config, None)
        return parse_processes(await self._transport.call("GET", self._processes, wait))

    async def connect(
        self,
        process_id: str,
        *,
        from_offset: int = 0,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
    ) -> AsyncCommandHandle:
        """Reattaches to a process by id; iterate the handle to replay from ``from_offset``
        and follow. Raises :class:`~paddock.NotFoundError` for an unknown id."""
        wait = wait_for(self._transport.config, None)
        path = f"{self._processes}/{quote(process_id, safe='')}"
        info = ProcessInfo.from_wire(await self._transport.call("GET", path, wait))
        return AsyncCommandHandle(
            self._transport, self._sandbox_id, info, from_offset=from_offset, on_stdout=on_stdout, on_stderr=on_stderr
        )

    async def _start(
        self,
        cmd: Cmd,
        cwd: Optional[str],
        user: Optional[str],
        envs: Optional[Mapping[str, str]],
        timeout: float,
        stdin: Optional[StdinData],
        on_stdout: Optional[OutputCallback],
        on_stderr: Optional[OutputCallback],
        request_timeout: Optional[float],
    ) -> AsyncCommandHandle:
        run_body = run_command_body(cmd, cwd=cwd, envs=envs, user=user, timeout=timeout, stdin=stdin)
        body = {**run_body, "background": True}
        wait = wait_for(self._transport.config, request_timeout)
        info = ProcessInfo.from_wire(await self._transport.call("POST", self._processes, wait, json=body))
        return AsyncCommandHandle(self._transport, self._sandbox_id, info, on_stdout=on_stdout, on_stderr=on_stderr)
