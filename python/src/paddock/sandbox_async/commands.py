"""Running commands in a sandbox (async): ``sbx.commands`` of an ``AsyncSandbox``."""

from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Dict, Generator, List, Mapping, Optional
from urllib.parse import quote

import httpx

from .._command_run import OutputCallback, RunCollector, stream_silence
from .._transport import AsyncTransport, Wait, wait_for
from .._wire import Cmd, NdjsonSplitter, StdinData, run_command_body
from ..connection_config import DEFAULT_COMMAND_TIMEOUT
from ..models import CommandEvent, CommandEventDecoder, CommandResult
from .._processes_common import ProcessInfo
from .command_handle import AsyncCommandHandle
from ..sandbox_sync.command_handle import parse_processes


class AsyncCommandStream:
    """The events of a running command, as an async iterator; close it to stop early.

    The request is sent on the first iteration, or when the stream is awaited (which
    returns the stream itself, so errors like an unknown sandbox surface there). Closing
    before the ``exit`` event disconnects, which kills the command in the sandbox.

    Example::

        async for ev in sbx.commands.stream("make"):
            if ev.type == "stdout":
                print(ev.data, end="")

        async with await sbx.commands.stream("sleep 100") as events:
            ...  # leaving the block kills the command
    """

    def __init__(self, transport: AsyncTransport, path: str, body: Dict[str, Any], wait: Wait) -> None:
        self._transport, self._path, self._body, self._wait = transport, path, body, wait
        self._response: Optional[httpx.Response] = None
        self._events: Optional[AsyncIterator[CommandEvent]] = None

    async def _open(self) -> None:
        if self._events is None:
            self._response = await self._transport.open("POST", self._path, self._wait, json=self._body)
            self._events = self._decode(self._response)

    async def _decode(self, response: httpx.Response) -> AsyncIterator[CommandEvent]:
        splitter, decoder = NdjsonSplitter(), CommandEventDecoder()
        async for chunk in self._transport.iter_body(response, self._wait):
            for raw in splitter.feed(chunk):
                yield decoder.decode(raw)
        for raw in splitter.close():
            yield decoder.decode(raw)

    def __await__(self) -> Generator[Any, None, "AsyncCommandStream"]:
        async def opened() -> "AsyncCommandStream":
            await self._open()
            return self

        return opened().__await__()

    def __aiter__(self) -> "AsyncCommandStream":
        return self

    async def __anext__(self) -> CommandEvent:
        await self._open()
        assert self._events is not None
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stops reading; a command still running is killed."""
        if self._events is not None:
            await self._events.aclose()  # type: ignore[attr-defined]
        if self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> "AsyncCommandStream":
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncCommands:
    """Runs commands inside a sandbox (async). Reach it as ``sandbox.commands``."""

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
        """Runs a command to completion; see :meth:`paddock.Commands.run` for the options.

        ``on_stdout`` / ``on_stderr`` may be plain functions or coroutine functions.

        Example::

            r = await sbx.commands.run("echo hi")  # r.stdout == "hi\\n"
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
                returned = collector.add(event)
                if inspect.isawaitable(returned):
                    await returned
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
        """Runs a command and yields its events: ``start``, output chunks, ``exit``.

        Options are those of :meth:`run`; see :class:`AsyncCommandStream`.

        Example::

            async for ev in sbx.commands.stream("make"):
                ...
        """
        body = run_command_body(cmd, cwd=cwd, envs=envs, user=user, timeout=timeout, stdin=stdin)
        config = self._transport.config
        wait = wait_for(config, request_timeout, stream_silence(timeout, config, request_timeout))
        return AsyncCommandStream(self._transport, self._path, body, wait)

    async def list(self) -> List[ProcessInfo]:
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
        info = ProcessInfo.from_wire(await self._transport.call("GET", f"{self._processes}/{quote(process_id, safe='')}", wait))
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
        body = {**run_command_body(cmd, cwd=cwd, envs=envs, user=user, timeout=timeout, stdin=stdin), "background": True}
        wait = wait_for(self._transport.config, request_timeout)
        info = ProcessInfo.from_wire(await self._transport.call("POST", self._processes, wait, json=body))
        return AsyncCommandHandle(self._transport, self._sandbox_id, info, on_stdout=on_stdout, on_stderr=on_stderr)
