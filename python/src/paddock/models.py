"""What the API reports, as typed dataclasses with snake_case fields.

Each ``from_wire`` parses one JSON object of the protocol (its shape is the ``TypedDict`` of
the same name in the generated :mod:`paddock._protocol`) and raises
:class:`~paddock.errors.InternalError` when the server sent something else, so that a broken
response fails at the boundary instead of deep in the caller's code. The literal types
(states, isolation, reason codes) are the generated ones.
"""

from __future__ import annotations

import base64
import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Literal, Optional, TypeVar, Union

from . import _protocol
from .errors import InternalError

T = TypeVar("T")

SandboxState = _protocol.SandboxState
"""Lifecycle states of a sandbox (all of the protocol's); ``killed`` and ``error`` are final."""

Isolation = _protocol.Isolation
"""``container`` (crun) or ``gvisor`` (runsc, hardened)."""

OnTimeout = _protocol.OnTimeout
"""What expiry does: ``kill``, ``pause`` or ``hibernate``."""

FileType = _protocol.FileType
"""Kinds of directory entries."""

ReasonCode = _protocol.ReasonCode
"""Why a sandbox is in its state (``SandboxInfo.reason_code``), generated from ``ReasonCode`` in
``packages/protocol/src/sandbox.ts``; docs/api.md says when each is set. A newer server may
add codes: ``reason_code`` is typed ``str``."""


def _get(obj: Mapping[str, Any], key: str, kind: Union[type[Any], tuple], what: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InternalError("INTERNAL", f"unexpected {what} from the server: `{key}` is {value!r}")
    return value


def _opt(obj: Mapping[str, Any], key: str, kind: Union[type[Any], tuple], what: str) -> Any:
    return None if obj.get(key) is None else _get(obj, key, kind, what)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InternalError("INTERNAL", f"unexpected {what} from the server: {value!r}")
    return value


def _time(obj: Mapping[str, Any], key: str, what: str) -> datetime:
    raw = _get(obj, key, str, what)
    try:
        # fromisoformat before 3.11 does not accept the `Z` suffix that JavaScript writes.
        return datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        raise InternalError("INTERNAL", f"unexpected {what} from the server: `{key}` is {raw!r}") from None


_NUMBER = (int, float)


def _secret_info(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A secret of ``SandboxInfo``: name and hosts, plus its options when set."""
    info: dict[str, Any] = {"name": raw["name"], "hosts": list(raw["hosts"])}
    if raw.get("headers") is not None:
        info["headers"] = list(raw["headers"])
    if raw.get("allowInsecureHttp") is not None:
        info["allow_insecure_http"] = bool(raw["allowInsecureHttp"])
    return info


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox as the API reports it (``Sandbox.list``, ``sbx.get_info()``)."""

    id: str
    template: str
    isolation: str
    """See :data:`Isolation`."""
    state: str
    """See :data:`SandboxState`; typed ``str`` so that a newer server's state still parses."""
    created_at: datetime
    expires_at: datetime
    """When the sandbox is killed unless its timeout is extended with ``set_timeout``."""
    memory_mib: int
    cpus: float
    disk_mib: int
    pids: int
    metadata: dict[str, str]
    reason: Optional[str] = None
    """Why the sandbox is in ``error`` (or was killed by the platform, e.g. out of memory)."""
    reason_code: Optional[str] = None
    """``reason`` as a stable code (see :data:`ReasonCode`): ``api``, ``timeout``, ``oom``, …"""
    on_timeout: Optional[str] = None
    """``kill``, ``pause`` or ``hibernate``: what expiry does."""
    auto_resume: Optional[bool] = None
    retention_ms: Optional[float] = None
    """How long it is kept while paused or hibernated (then ``expires_at`` is its deletion)."""
    capabilities: Optional[dict[str, bool]] = None
    """``pause``, ``hibernateWithMemory`` (gVisor), ``fork`` (gVisor), ``perProcessOom`` (crun)."""
    processes_restarted: bool = False
    """True after a filesystem-only hibernate (crun): memory was not kept."""
    secrets: Optional[list[dict[str, Any]]] = None
    """``[{"name", "hosts", "headers"?, "allow_insecure_http"?}]`` of the sandbox's secrets (never their values)."""
    network: Optional[dict[str, Any]] = None
    """``{"egress", "allow", "address"?}``: the egress policy and the sandbox's IPv4 address."""

    @classmethod
    def from_wire(cls, value: Any) -> SandboxInfo:
        """Parses a protocol ``SandboxInfo`` object."""
        w, what = _mapping(value, "sandbox info"), "sandbox info"
        return cls(
            id=_get(w, "id", str, what),
            template=_get(w, "template", str, what),
            isolation=_get(w, "isolation", str, what),
            state=_get(w, "state", str, what),
            created_at=_time(w, "createdAt", what),
            expires_at=_time(w, "expiresAt", what),
            memory_mib=_get(w, "memoryMiB", _NUMBER, what),
            cpus=_get(w, "cpus", _NUMBER, what),
            disk_mib=_get(w, "diskMiB", _NUMBER, what),
            pids=_get(w, "pids", _NUMBER, what),
            metadata=dict(_get(w, "metadata", Mapping, what)),
            reason=_opt(w, "reason", str, what),
            reason_code=_opt(w, "reasonCode", str, what),
            on_timeout=_opt(w, "onTimeout", str, what),
            auto_resume=_opt(w, "autoResume", bool, what),
            retention_ms=_opt(w, "retentionMs", _NUMBER, what),
            capabilities=None if w.get("capabilities") is None else dict(_get(w, "capabilities", Mapping, what)),
            processes_restarted=bool(_opt(w, "processesRestarted", bool, what)),
            secrets=None
            if w.get("secrets") is None
            else [_secret_info(s) for s in _get(w, "secrets", list, what)],
            network=None if w.get("network") is None else dict(_get(w, "network", Mapping, what)),
        )


@dataclass(frozen=True)
class FileInfo:
    """What ``stat``, ``list`` and ``write`` report about a path inside the sandbox."""

    name: str
    path: str
    type: str
    """See :data:`FileType`: ``file``, ``dir``, ``symlink`` or ``other``."""
    size_bytes: int
    mode: int
    """Permission bits, e.g. ``0o644``."""
    owner: str
    group: str
    modified_at: datetime
    symlink_target: Optional[str] = None
    """For symlinks: where the link points (not followed)."""

    @classmethod
    def from_wire(cls, value: Any) -> FileInfo:
        """Parses a protocol ``FileInfo`` object."""
        w, what = _mapping(value, "file info"), "file info"
        return cls(
            name=_get(w, "name", str, what),
            path=_get(w, "path", str, what),
            type=_get(w, "type", str, what),
            size_bytes=_get(w, "sizeBytes", _NUMBER, what),
            mode=_get(w, "mode", _NUMBER, what),
            owner=_get(w, "owner", str, what),
            group=_get(w, "group", str, what),
            modified_at=_time(w, "modifiedAt", what),
            symlink_target=_opt(w, "symlinkTarget", str, what),
        )


@dataclass(frozen=True)
class TemplateInfo:
    """A template as listed by the API."""

    name: str
    spec_hash: str
    size_bytes: int
    created_at: datetime
    env: dict[str, str]
    """Environment variables that sandboxes from this template start with."""
    workdir: str
    user: str
    source: Optional[dict[str, Any]] = None
    """Where the files came from: ``kind`` (``debian``, ``image``, ...), ``ref``, ``digest``."""
    entrypoint: Optional[list[str]] = None
    """The image's ``Entrypoint``, kept as the template's default."""
    cmd: Optional[list[str]] = None
    """The image's ``Cmd``, kept as the template's default."""
    start: Optional[dict[str, Any]] = None
    """The process every fresh boot starts: ``command`` and its ``ready`` check (``command``,
    ``port`` or ``url``, ``timeoutMs``). It is listed by ``commands.list()`` in each sandbox."""

    @classmethod
    def from_wire(cls, value: Any) -> TemplateInfo:
        """Parses a protocol ``TemplateInfo`` object."""
        w, what = _mapping(value, "template info"), "template info"
        return cls(
            name=_get(w, "name", str, what),
            spec_hash=_get(w, "specHash", str, what),
            size_bytes=_get(w, "sizeBytes", _NUMBER, what),
            created_at=_time(w, "createdAt", what),
            env=dict(_get(w, "env", Mapping, what)),
            workdir=_get(w, "workdir", str, what),
            user=_get(w, "user", str, what),
            source=None if w.get("source") is None else dict(_get(w, "source", Mapping, what)),
            entrypoint=None if w.get("entrypoint") is None else list(_get(w, "entrypoint", list, what)),
            cmd=None if w.get("cmd") is None else list(_get(w, "cmd", list, what)),
            start=None if w.get("start") is None else dict(_get(w, "start", Mapping, what)),
        )


@dataclass(frozen=True)
class CommandResult:
    """The outcome of a finished command (``commands.run``)."""

    exit_code: int
    stdout: str
    stderr: str
    signal: Optional[str] = None
    """Signal that ended the command, e.g. ``SIGKILL``."""
    oom_killed: bool = False
    """True when the kernel's OOM killer ended it (the sandbox's memory limit was hit)."""


@dataclass(frozen=True)
class CommandStart:
    """The command started; ``pid`` is its process id inside the sandbox."""

    pid: int
    type: Literal["start"] = field(default="start", init=False)


@dataclass(frozen=True)
class CommandOutput:
    """A chunk of stdout or stderr: decoded text, the raw bytes, and the byte offset.

    ``offset`` counts the bytes of that stream sent before this chunk. ``data`` is decoded
    as UTF-8 across chunk boundaries, so a character split between chunks is not mangled.
    """

    type: Literal["stdout", "stderr"]
    data: str
    bytes: bytes
    offset: int


@dataclass(frozen=True)
class CommandExit:
    """The command ended."""

    exit_code: int
    signal: Optional[str] = None
    timed_out: bool = False
    """True when the command's ``timeout`` ran out and it was killed."""
    oom_killed: bool = False
    type: Literal["exit"] = field(default="exit", init=False)


class OutputText:
    """Turns stdout and stderr chunks into :class:`CommandOutput` values, with one incremental
    UTF-8 decoder per stream so that a character split between chunks decodes whole."""

    def __init__(self) -> None:
        self._decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")("replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")("replace"),
        }

    def output(self, kind: Literal["stdout", "stderr"], chunk: bytes, offset: int) -> CommandOutput:
        return CommandOutput(type=kind, data=self._decoders[kind].decode(chunk), bytes=chunk, offset=offset)


CommandEvent = Union[CommandStart, CommandOutput, CommandExit]
"""One event of ``commands.stream``: start, an output chunk, or exit."""


@dataclass(frozen=True)
class TemplateBuildProgress:
    """A build step began."""

    message: str
    step: str
    type: Literal["progress"] = field(default="progress", init=False)


@dataclass(frozen=True)
class TemplateBuildLog:
    """One line of build output."""

    line: str
    type: Literal["log"] = field(default="log", init=False)


@dataclass(frozen=True)
class TemplateBuildResult:
    """The built (or cached) template; also the last event of a build."""

    template: TemplateInfo
    cached: bool
    type: Literal["done"] = field(default="done", init=False)


TemplateBuildEvent = Union[TemplateBuildProgress, TemplateBuildLog, TemplateBuildResult]
"""One event of a template build, passed to ``Template.build(on_event=...)``."""


class CommandEventDecoder:
    """Turns wire command events (parsed NDJSON objects) into :data:`CommandEvent` values.

    Output is decoded by :class:`OutputText`. An ``error`` event raises its typed error.
    """

    def __init__(self) -> None:
        self._text = OutputText()

    def decode(self, raw: Any) -> CommandEvent:
        """Decodes one wire event; raises the typed error for an ``error`` event."""
        from .errors import error_from_body

        w = _mapping(raw, "command event")
        kind = w.get("type")
        what = "command event"
        if kind in ("stdout", "stderr"):
            try:
                chunk = base64.b64decode(_get(w, "data", str, what), validate=True)
            except ValueError:
                raise InternalError("INTERNAL", f"unexpected command event: {kind} data is not base64") from None
            return self._text.output(kind, chunk, int(_get(w, "offset", _NUMBER, what)))
        if kind == "start":
            return CommandStart(pid=int(_get(w, "pid", _NUMBER, what)))
        if kind == "exit":
            return CommandExit(
                exit_code=int(_get(w, "exitCode", _NUMBER, what)),
                signal=_opt(w, "signal", str, what),
                timed_out=bool(w.get("timedOut")),
                oom_killed=bool(w.get("oomKilled")),
            )
        if kind == "error":
            raise error_from_body(w.get("error"))
        raise InternalError("INTERNAL", f"unexpected command event from the server: {raw!r}")


def decode_template_event(raw: Any) -> TemplateBuildEvent:
    """Turns one wire template build event into a typed event; ``error`` raises."""
    from .errors import error_from_body

    w = _mapping(raw, "template build event")
    kind, what = w.get("type"), "template build event"
    if kind == "progress":
        return TemplateBuildProgress(message=_get(w, "message", str, what), step=_get(w, "step", str, what))
    if kind == "log":
        return TemplateBuildLog(line=_get(w, "line", str, what))
    if kind == "done":
        return TemplateBuildResult(template=TemplateInfo.from_wire(w.get("template")), cached=bool(w.get("cached")))
    if kind == "error":
        raise error_from_body(w.get("error"))
    raise InternalError("INTERNAL", f"unexpected template build event from the server: {raw!r}")


def parse_list(value: Any, key: str, parse: Callable[[Any], T]) -> list[T]:
    """Parses ``{key: [...]}`` with ``parse`` applied to each element."""
    items = _mapping(value, key).get(key)
    if not isinstance(items, list):
        raise InternalError("INTERNAL", f"unexpected response from the server: `{key}` is not a list")
    return [parse(item) for item in items]
