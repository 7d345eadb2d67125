"""Running commands in a sandbox (sync): ``sbx.commands``."""

from __future__ import annotations

from typing import Iterator, Mapping, Optional

import httpx

from .._command_run import OutputCallback, RunCollector, stream_silence
from .._transport import SyncTransport, Wait, wait_for
from .._wire import Cmd, NdjsonSplitter, StdinData, run_command_body
from ..connection_config import DEFAULT_COMMAND_TIMEOUT
from ..models import CommandEvent, CommandEventDecoder, CommandResult


class CommandStream:
    """The events of a running command: iterate it, and close it to stop early.

    Closing before the ``exit`` event disconnects, which kills the command in the
    sandbox. It is also a context manager.

    Example::

        with sbx.commands.stream("make") as events:
            for ev in events:
                if ev.type == "stdout":
                    print(ev.data, end="")
    """

    def __init__(self, transport: SyncTransport, response: httpx.Response, wait: Wait) -> None:
        self._response = response
        self._chunks = transport.iter_body(response, wait)
        self._events = self._decode()

    def _decode(self) -> Iterator[CommandEvent]:
        splitter, decoder = NdjsonSplitter(), CommandEventDecoder()
        for chunk in self._chunks:
            for raw in splitter.feed(chunk):
                yield decoder.decode(raw)
        for raw in splitter.close():
            yield decoder.decode(raw)

    def __iter__(self) -> "CommandStream":
        return self

    def __next__(self) -> CommandEvent:
        return next(self._events)

    def close(self) -> None:
        """Stops reading; a command still running is killed."""
        self._events.close()
        self._response.close()

    def __enter__(self) -> "CommandStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Commands:
    """Runs commands inside a sandbox. Reach it as ``sandbox.commands``."""

    def __init__(self, transport: SyncTransport, sandbox_id: str) -> None:
        self._transport = transport
        self._sandbox_id = sandbox_id

    def run(
        self,
        cmd: Cmd,
        *,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        envs: Optional[Mapping[str, str]] = None,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        stdin: Optional[StdinData] = None,
        on_stdout: Optional[OutputCallback] = None,
        on_stderr: Optional[OutputCallback] = None,
        throw_on_error: bool = True,
        request_timeout: Optional[float] = None,
    ) -> CommandResult:
        """Runs a command to completion and returns its output and exit code.

        A string runs through the shell (``bash -c``); a list runs the program directly.

        Args:
            cmd: a shell line, or a program and its arguments.
            cwd: absolute working directory; default the template's workdir.
            user: user name or uid to run as; default ``user``.
            envs: extra environment, over the sandbox's ``env``.
            timeout: seconds before the command is killed; 0 means no limit. Default 60.
            stdin: bytes (or text, sent as UTF-8) for stdin, which is then closed.
            on_stdout: called with each stdout chunk as it arrives (decoded text).
            on_stderr: called with each stderr chunk as it arrives.
            throw_on_error: raise :class:`~paddock.CommandExitError` on a non-zero exit.
            request_timeout: seconds to wait for the server to answer; default the sandbox's.

        Raises:
            CommandExitError: the exit code was not 0 (unless ``throw_on_error=False``).
            TimeoutError: ``timeout`` ran out and the command was killed.

        Example::

            r = sbx.commands.run("python3 -c 'print(6*7)'")   # r.stdout == "42\\n"
            sbx.commands.run(["ls", "-la"], cwd="/tmp", on_stdout=print)
        """
        collector = RunCollector(timeout, on_stdout, on_stderr, throw_on_error)
        with self.stream(
            cmd, cwd=cwd, user=user, envs=envs, timeout=timeout, stdin=stdin, request_timeout=request_timeout
        ) as events:
            for event in events:
                collector.add(event)
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
    ) -> CommandStream:
        """Starts a command and returns its events as they happen: ``start``, ``stdout`` /
        ``stderr`` chunks (text, raw bytes and byte offset), then ``exit``.

        The request is sent now, so a bad argument or an unknown sandbox raises here. The
        ``exit`` event reports a non-zero code or a timeout; nothing is raised for them.
        Options are those of :meth:`run`.

        Example::

            for ev in sbx.commands.stream("make"):
                if ev.type == "stdout":
                    print(ev.data, end="")
                elif ev.type == "exit":
                    print("exit", ev.exit_code)
        """
        body = run_command_body(cmd, cwd=cwd, envs=envs, user=user, timeout=timeout, stdin=stdin)
        config = self._transport.config
        wait = wait_for(config, request_timeout, stream_silence(timeout, config, request_timeout))
        response = self._transport.open("POST", f"/v1/sandboxes/{self._sandbox_id}/commands", wait, json=body)
        return CommandStream(self._transport, response, wait)
