"""What ``commands.run`` does with a stream of events, shared by the sync and async SDKs:
collect output, call the callbacks, and turn the exit into a result or an error."""

from __future__ import annotations

from typing import Any, Callable, Optional

from .connection_config import ConnectionConfig
from .errors import CommandExitError, InternalError, TimeoutError
from .models import CommandEvent, CommandExit, CommandOutput, CommandResult

OutputCallback = Callable[[str], Any]
"""Called with each decoded output chunk; in the async SDK it may be a coroutine function."""


def stream_silence(timeout: float, config: ConnectionConfig, request_timeout: Optional[float]) -> Optional[float]:
    """How long a command stream may stay silent: the command's own ``timeout`` plus the
    request wait (the server sends ``exit`` once the timeout kills it); None when the
    command has no time limit."""
    if timeout == 0:
        return None
    wait = ConnectionConfig.request_timeout_of(request_timeout, config.request_timeout)
    return None if wait is None else float(timeout) + wait


class RunCollector:
    """Accumulates one command's events into a :class:`CommandResult`."""

    def __init__(
        self,
        timeout: float,
        on_stdout: Optional[OutputCallback],
        on_stderr: Optional[OutputCallback],
        throw_on_error: bool,
    ) -> None:
        self._timeout = timeout
        self._callbacks = {"stdout": on_stdout, "stderr": on_stderr}
        self._throw = throw_on_error
        self._out: dict = {"stdout": [], "stderr": []}
        self._exit: Optional[CommandExit] = None

    def add(self, event: CommandEvent) -> Any:
        """Records an event; returns what the output callback returned (maybe awaitable)."""
        if isinstance(event, CommandOutput):
            self._out[event.type].append(event.data)
            callback = self._callbacks[event.type]
            return callback(event.data) if callback is not None else None
        if isinstance(event, CommandExit):
            self._exit = event
        return None

    def finish(self) -> CommandResult:
        """The result; raises ``TimeoutError`` or ``CommandExitError`` as ``run`` documents."""
        if self._exit is None:
            raise InternalError("INTERNAL", "the command stream ended without an exit status")
        result = CommandResult(
            exit_code=self._exit.exit_code,
            stdout="".join(self._out["stdout"]),
            stderr="".join(self._out["stderr"]),
            signal=self._exit.signal,
            oom_killed=self._exit.oom_killed,
        )
        if self._exit.timed_out:
            raise TimeoutError(
                "TIMEOUT",
                f"command timed out after timeout={self._timeout:g} s and was killed; "
                "pass a larger timeout (0 = no limit)",
                {
                    "exitCode": result.exit_code,
                    "stdout": result.stdout,
                    "stderr": result.stderr,
                    "signal": result.signal,
                },
            )
        if self._throw and result.exit_code != 0:
            raise CommandExitError(result.exit_code, result.stdout, result.stderr, result.signal)
        return result

