"""The code interpreter's shared parts (sync and async SDKs): request bodies, the result
models, and what ``run_code`` does with a stream of events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import InternalError, UnavailableError, error_from_body

DEFAULT_CODE_TIMEOUT = 300.0
"""Seconds before a cell is interrupted (KeyboardInterrupt), as on the server."""

FORMATS = ("text", "html", "markdown", "svg", "png", "jpeg", "pdf", "latex", "json", "javascript", "data", "chart")


@dataclass
class Result:
    """One displayed object with every representation it offers (images base64).

    ``data`` is a DataFrame's table (``columns``, ``index``, ``rows``; JSON-safe) and
    ``chart`` a matplotlib figure's values (``type``, ``title``, ``elements``, …)."""

    is_main_result: bool = False
    text: Optional[str] = None
    html: Optional[str] = None
    markdown: Optional[str] = None
    svg: Optional[str] = None
    png: Optional[str] = None
    jpeg: Optional[str] = None
    pdf: Optional[str] = None
    latex: Optional[str] = None
    json: Any = None
    javascript: Optional[str] = None
    data: Any = None
    chart: Optional[dict[str, Any]] = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def formats(self) -> list[str]:
        """The representations present, e.g. ``['text', 'html', 'data']``."""
        return [f for f in FORMATS if getattr(self, f) is not None]

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Result:
        kwargs = {f: raw.get(f) for f in FORMATS}
        return cls(is_main_result=bool(raw.get("isMainResult")), extra=dict(raw.get("extra") or {}), **kwargs)


@dataclass
class ExecutionError:
    """An exception the cell raised: its class name, message and traceback."""

    name: str
    value: str
    traceback: str


@dataclass
class Logs:
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


@dataclass
class Execution:
    """What a cell produced. A cell's exception is ``error``, not a raised error."""

    results: list[Result] = field(default_factory=list)
    logs: Logs = field(default_factory=Logs)
    error: Optional[ExecutionError] = None
    execution_count: Optional[int] = None
    timed_out: bool = False
    truncated: bool = False

    @property
    def text(self) -> Optional[str]:
        """The text of the main result (the value of the cell's last expression)."""
        for result in self.results:
            if result.is_main_result:
                return result.text
        return None


@dataclass
class CodeContext:
    """A code context: one kernel with its own variables and working directory."""

    id: str
    language: str
    cwd: str
    user: str
    running: bool

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> CodeContext:
        try:
            return cls(raw["id"], raw["language"], raw["cwd"], raw["user"], bool(raw["running"]))
        except (KeyError, TypeError) as err:
            raise InternalError("INTERNAL", f"unexpected code context from the server: {raw!r}") from err


def run_code_body(
    code: str, language: Optional[str], context: Any, timeout: float, env: Optional[dict[str, str]] = None
) -> dict[str, Any]:
    if not isinstance(code, str):
        raise TypeError("code must be a str")
    body: dict[str, Any] = {"code": code, "timeoutMs": int(round(timeout * 1000))}
    if env is not None:
        body["env"] = dict(env)
    if language is not None:
        body["language"] = language
    if context is not None:
        body["contextId"] = context.id if isinstance(context, CodeContext) else str(context)
    return body


def context_body(language: Optional[str], cwd: Optional[str], user: Optional[str]) -> dict[str, Any]:
    return {k: v for k, v in {"language": language, "cwd": cwd, "user": user}.items() if v is not None}


Callback = Optional[Callable[[Any], Any]]


class ExecutionCollector:
    """Turns the events of one run into an :class:`Execution`, calling the callbacks."""

    def __init__(self, on_stdout: Callback, on_stderr: Callback, on_result: Callback, on_error: Callback) -> None:
        self.execution = Execution()
        self._callbacks = {"stdout": on_stdout, "stderr": on_stderr, "result": on_result, "exception": on_error}
        self.ended = False

    def add(self, raw: Any) -> Any:
        """Records an event; returns what its callback returned (maybe awaitable)."""
        if not isinstance(raw, dict):
            raise InternalError("INTERNAL", f"unexpected code event: {raw!r}")
        kind = raw.get("type")
        ex = self.execution
        value: Any = None
        if kind in ("stdout", "stderr"):
            value = str(raw.get("text", ""))
            getattr(ex.logs, kind).append(value)
        elif kind == "result":
            value = Result.from_wire(raw.get("result") or {})
            ex.results.append(value)
        elif kind == "exception":
            err = raw.get("error") or {}
            value = ExecutionError(str(err.get("name", "")), str(err.get("value", "")), str(err.get("traceback", "")))
            ex.error = value
        elif kind == "end":
            self.ended = True
            ex.execution_count = raw.get("executionCount")
            ex.timed_out = bool(raw.get("timedOut"))
            ex.truncated = bool(raw.get("truncated"))
            return None
        elif kind == "error":
            raise error_from_body(raw.get("error"))
        else:
            return None
        callback = self._callbacks.get(kind)
        return callback(value) if callback is not None else None

    def finish(self) -> Execution:
        if not self.ended:
            raise UnavailableError("UNAVAILABLE", "the code stream ended before the cell did")
        return self.execution
