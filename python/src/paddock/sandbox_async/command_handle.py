"""A durable process: :class:`AsyncCommandHandle`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Optional, Union
from urllib.parse import quote

from .._callbacks import async_settle
from .._command_run import OutputCallback, RunCollector
from .._processes_common import ProcessEvent, ProcessEventDecoder, ProcessExit, ProcessInfo, signal_body, stdin_body
from .._transport import AsyncTransport, wait_for
from .._wire import NdjsonSplitter
from ..models import CommandOutput, CommandResult


class AsyncCommandHandle:
    """A process running in a sandbox (``commands.run(..., background=True)`` or
    ``commands.connect(id)``). It keeps running when this handle or the whole client goes
    away; any client can reattach by id and resume from a byte offset.

    ``on_stdout`` / ``on_stderr`` are called while :meth:`wait` reads the output (in the
    async SDK they may be coroutine functions).

    Example::

        p = await sbx.commands.run("npm run dev", background=True)
        await p.send_stdin("y\\n")
        again = await sbx.commands.connect(p.id, from_offset=0)
        async for ev in again:
            if ev.type == "stdout":
                print(ev.data, end="")
        await p.kill()
    """

    def __init__(
        self,
        transport: AsyncTransport,
        sandbox_id: str,
        info: ProcessInfo,
        *,
        from_offset: int = 0,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
    ) -> None:
        self._transport = transport
        self._path = f"/v1/sandboxes/{sandbox_id}/processes/{quote(info.id, safe='')}"
        self._info = info
        self._from_offset = from_offset
        self._callbacks = (on_stdout, on_stderr)

    @property
    def id(self) -> str:
        """The process id (give it to ``commands.connect``)."""
        return self._info.id

    @property
    def pid(self) -> int:
        """Its pid inside the sandbox."""
        return self._info.pid

    async def stream(self, from_offset: Optional[int] = None) -> AsyncIterator[ProcessEvent]:
        """Events from ``from_offset`` (default the handle's): replay, then live, until ``exit``."""
        offset = self._from_offset if from_offset is None else from_offset
        wait = wait_for(self._transport.config, None, None)
        response = await self._transport.open("GET", f"{self._path}/events", wait, params={"fromOffset": str(offset)})
        splitter, decoder = NdjsonSplitter(), ProcessEventDecoder()
        async for chunk in self._transport.iter_body(response, wait):
            for raw in splitter.feed(chunk):
                yield decoder.decode(raw)
        for raw in splitter.close():
            yield decoder.decode(raw)

    def __aiter__(self) -> AsyncIterator[ProcessEvent]:
        return self.stream()

    async def wait(self, *, throw_on_error: bool = True) -> CommandResult:
        """Waits for the exit and returns the output read (from the handle's offset).

        Raises:
            CommandExitError: non-zero exit (unless ``throw_on_error=False``).
            TimeoutError: the process's ``timeout`` ran out and it was killed.
        """
        collector = RunCollector(0, self._callbacks[0], self._callbacks[1], throw_on_error)
        async for event in self.stream():
            if isinstance(event, CommandOutput):
                await async_settle(collector.add(event))
            elif isinstance(event, ProcessExit):
                collector.add(event.as_command_exit())
        return collector.finish()

    async def send_stdin(self, data: Union[str, bytes], *, eof: bool = False) -> None:
        """Writes to its stdin (text as UTF-8); ``eof=True`` closes stdin afterwards."""
        await self._call("POST", "/stdin", stdin_body(data, eof))

    async def close_stdin(self) -> None:
        """Closes its stdin: the process reads EOF."""
        await self._call("POST", "/stdin", {"eof": True})

    async def kill(self, signal: str = "SIGKILL", *, scope: str = "tree") -> ProcessInfo:
        """Sends ``signal`` to the ``tree`` (default: everything it started, daemons
        included), its ``group``, or the ``process`` alone."""
        return ProcessInfo.from_wire(await self._call("POST", "/signal", signal_body(signal, scope)))

    async def info(self) -> ProcessInfo:
        """Its current state: running, exit code, output size."""
        return ProcessInfo.from_wire(await self._call("GET", "", None))

    async def _call(self, method: str, rest: str, json: object) -> object:
        wait = wait_for(self._transport.config, None)
        return await self._transport.call(method, self._path + rest, wait, json=json)
