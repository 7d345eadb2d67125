"""Terminals (PTY sessions): what the sync and async ``sbx.pty`` share.

Wire: ``packages/protocol/src/pty.ts``. Output events are NDJSON: one ``{type: "start",
pid, offset}``, ``{type: "data", data (base64), offset}`` chunks, one ``{type: "exit",
exitCode, signal?}``.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional, Union

from ._wire import launch_fields
from .errors import InternalError, UnavailableError, error_from_body
from .models import _NUMBER, _get, _mapping, _opt, _time

InputData = Union[str, bytes]
"""Keystrokes: text (sent as UTF-8, e.g. ``"ls\\r"``) or raw bytes."""

DataCallback = Callable[[bytes], None]
"""Called with each chunk of terminal output (raw bytes, escape sequences included)."""

AsyncDataCallback = Callable[[bytes], Union[None, Awaitable[None]]]
"""The async SDK's :data:`DataCallback`: it may also be a coroutine function."""


@dataclass(frozen=True)
class PtyInfo:
    """A terminal session as ``sbx.pty.list()`` reports it."""

    id: str
    pid: int
    cols: int
    rows: int
    user: str
    created_at: datetime
    output_bytes: int
    """Bytes of output so far (the offset the next output byte gets)."""
    cmd: Optional[str] = None
    """The command line given at create; None for a login shell."""
    exit_code: Optional[int] = None
    """Set once the program exited."""

    @staticmethod
    def from_wire(value: Any) -> PtyInfo:
        obj = _mapping(value, "PTY session")
        what = "PTY session"
        return PtyInfo(
            id=_get(obj, "id", str, what),
            pid=int(_get(obj, "pid", _NUMBER, what)),
            cols=int(_get(obj, "cols", _NUMBER, what)),
            rows=int(_get(obj, "rows", _NUMBER, what)),
            user=_get(obj, "user", str, what),
            created_at=_time(obj, "createdAt", what),
            output_bytes=int(_get(obj, "outputBytes", _NUMBER, what)),
            cmd=_opt(obj, "cmd", str, what),
            exit_code=None if obj.get("exitCode") is None else int(_get(obj, "exitCode", _NUMBER, what)),
        )


def create_pty_body(
    cols: int,
    rows: int,
    cmd: Optional[str],
    cwd: Optional[str],
    envs: Optional[Mapping[str, str]],
    user: Optional[str],
) -> dict[str, Any]:
    """The body of ``POST /v1/sandboxes/:id/pty``; the server checks the bounds (1..1000)."""
    body: dict[str, Any] = {"cols": cols, "rows": rows}
    if cmd is not None:
        body["cmd"] = cmd
    return {**body, **launch_fields(cwd, envs, user)}


def created_of(value: Any) -> tuple[str, int]:
    """``(id, pid)`` of a create answer."""
    obj = _mapping(value, "PTY create answer")
    return _get(obj, "id", str, "PTY create answer"), int(_get(obj, "pid", _NUMBER, "PTY create answer"))


def input_bytes(data: InputData) -> bytes:
    """Keystrokes as bytes."""
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def pty_path(sandbox_id: str, pty_id: Optional[str] = None, action: Optional[str] = None) -> str:
    """The route of the sandbox's terminals, or of one session's ``action``."""
    base = f"/v1/sandboxes/{sandbox_id}/pty"
    return base if pty_id is None else f"{base}/{pty_id}/{action}"


class OutputDecoder:
    """Turns output events into bytes and the exit code, tracking the offset to resume from."""

    def __init__(self, pty_id: str, from_offset: int) -> None:
        self.pty_id = pty_id
        self.offset = from_offset
        self.exit_code: Optional[int] = None

    def decode(self, raw: Any) -> Optional[bytes]:
        """The bytes of a ``data`` event; None for ``start`` and ``exit`` (recorded in ``exit_code``)."""
        event = _mapping(raw, "PTY output event")
        kind = event.get("type")
        if kind == "data":
            data = base64.b64decode(_get(event, "data", str, "PTY output event"))
            self.offset = int(_get(event, "offset", _NUMBER, "PTY output event")) + len(data)
            return data
        if kind == "start":
            self.offset = int(_get(event, "offset", _NUMBER, "PTY output event"))
            return None
        if kind == "exit":
            self.exit_code = int(_get(event, "exitCode", _NUMBER, "PTY output event"))
            return None
        if kind == "error":
            raise error_from_body(event.get("error"), None)
        raise InternalError("INTERNAL", f"unexpected PTY output event from the server: {raw!r}")

    def broken(self) -> UnavailableError:
        """The error of a stream that ended before the exit event."""
        return UnavailableError(
            "UNAVAILABLE",
            f"the output stream of PTY session {self.pty_id} ended before the program exited; it still "
            f"runs: reattach with sbx.pty.connect({self.pty_id!r}, from_offset={self.offset}, on_data=...)",
        )
