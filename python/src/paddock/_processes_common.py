"""Durable processes, shared by the sync and async SDKs: the wire shapes of
``/v1/sandboxes/:id/processes`` and the decoding of their event streams.

Offsets count the bytes of a process's combined output (stdout and stderr interleaved in
arrival order, from 0); each output event carries the offset of its first byte and ``exit``
carries the total (see docs/api.md, "Processes").
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Optional, Union

from ._wire import base64_text
from .errors import InternalError, error_from_body
from .models import CommandExit, CommandOutput, OutputText, parse_list

SIGNAL_NAMES = (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2",
    "SIGTERM", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGWINCH",
)  # fmt: skip
"""Signals a process may be sent (others are refused with ``InvalidArgumentError``)."""


@dataclass(frozen=True)
class ProcessInfo:
    """A process of a sandbox: running, or finished (then with its exit code)."""

    id: str
    pid: int
    cmd: str
    cwd: str
    user: str
    started_at: datetime
    background: bool
    running: bool
    end_offset: int
    """The combined-output offset the next byte will get (= the output size so far)."""
    exit_code: Optional[int] = None
    signal: Optional[str] = None
    timed_out: bool = False

    @classmethod
    def from_wire(cls, value: Any) -> ProcessInfo:
        if not isinstance(value, dict):
            raise InternalError("INTERNAL", f"unexpected process info from the server: {value!r}")
        try:
            return cls(
                id=str(value["id"]),
                pid=int(value["pid"]),
                cmd=str(value["cmd"]),
                cwd=str(value["cwd"]),
                user=str(value["user"]),
                started_at=datetime.fromisoformat(str(value["startedAt"]).replace("Z", "+00:00")),
                background=bool(value["background"]),
                running=bool(value["running"]),
                end_offset=int(value["endOffset"]),
                exit_code=None if value.get("exitCode") is None else int(value["exitCode"]),
                signal=value.get("signal"),
                timed_out=bool(value.get("timedOut")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InternalError("INTERNAL", f"unexpected process info from the server: {exc}") from None


@dataclass(frozen=True)
class ProcessStart:
    """First event of every process stream."""

    id: str
    pid: int
    type: Literal["start"] = field(default="start", init=False)


@dataclass(frozen=True)
class ProcessTruncated:
    """The bytes ``[from_offset, to_offset)`` fell out of the retained buffer before this reader got them."""

    from_offset: int
    to_offset: int
    type: Literal["truncated"] = field(default="truncated", init=False)


@dataclass(frozen=True)
class ProcessExit:
    """The process ended; ``offset`` is its total output size."""

    exit_code: int
    offset: int
    signal: Optional[str] = None
    timed_out: bool = False
    oom_killed: bool = False
    type: Literal["exit"] = field(default="exit", init=False)

    def as_command_exit(self) -> CommandExit:
        return CommandExit(
            exit_code=self.exit_code, signal=self.signal, timed_out=self.timed_out, oom_killed=self.oom_killed
        )


ProcessEvent = Union[ProcessStart, CommandOutput, ProcessTruncated, ProcessExit]
"""One event of a process stream; output chunks are :class:`~paddock.CommandOutput` with combined offsets."""


class ProcessEventDecoder:
    """Turns wire process events into :data:`ProcessEvent` values (output text by :class:`OutputText`)."""

    def __init__(self) -> None:
        self._text = OutputText()

    def decode(self, raw: Any) -> ProcessEvent:
        if not isinstance(raw, dict):
            raise InternalError("INTERNAL", f"unexpected process event from the server: {raw!r}")
        kind = raw.get("type")
        try:
            if kind in ("stdout", "stderr"):
                chunk = base64.b64decode(str(raw["data"]), validate=True)
                return self._text.output(kind, chunk, int(raw["offset"]))
            if kind == "start":
                return ProcessStart(id=str(raw["id"]), pid=int(raw["pid"]))
            if kind == "truncated":
                return ProcessTruncated(from_offset=int(raw["fromOffset"]), to_offset=int(raw["toOffset"]))
            if kind == "exit":
                return ProcessExit(
                    exit_code=int(raw["exitCode"]),
                    offset=int(raw["offset"]),
                    signal=raw.get("signal"),
                    timed_out=bool(raw.get("timedOut")),
                    oom_killed=bool(raw.get("oomKilled")),
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise InternalError("INTERNAL", f"unexpected process event from the server: {exc}") from None
        if kind == "error":
            raise error_from_body(raw.get("error"))
        raise InternalError("INTERNAL", f"unexpected process event from the server: {raw!r}")


def stdin_body(data: Union[str, bytes, bytearray], eof: bool) -> dict[str, Any]:
    """The ``ProcessStdinRequest`` body."""
    body: dict[str, Any] = {"dataBase64": base64_text(data)}
    if eof:
        body["eof"] = True
    return body


def signal_body(signal: str, scope: str) -> dict[str, Any]:
    """The ``SignalProcessRequest`` body (checked by the server, which names ``signal``)."""
    return {"signal": signal, "scope": scope}


def parse_processes(value: object) -> list[ProcessInfo]:
    """``{processes: [...]}`` → ProcessInfo list."""
    return parse_list(value, "processes", ProcessInfo.from_wire)
