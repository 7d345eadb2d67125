# Generated from sandbox_async/code_interpreter.py by python/tools/gen_sync.py — do not edit
"""The code interpreter: ``sbx.run_code`` and ``sbx.code_contexts``."""

from __future__ import annotations

import builtins
from typing import Any, Callable, Optional, Union

from .._callbacks import settle
from .._code_common import (
    DEFAULT_CODE_TIMEOUT,
    CodeContext,
    Execution,
    ExecutionCollector,
    context_body,
    run_code_body,
)
from .._command_run import stream_silence
from .._transport import SyncTransport, wait_for
from .._wire import NdjsonSplitter

ContextRef = Union[str, CodeContext]


def _id(context: ContextRef) -> str:
    return context.id if isinstance(context, CodeContext) else str(context)


def run_code(
    transport: SyncTransport,
    sandbox_id: str,
    code: str,
    *,
    language: Optional[str] = None,
    context: Optional[ContextRef] = None,
    timeout: float = DEFAULT_CODE_TIMEOUT,
    env: Optional[dict[str, str]] = None,
    on_stdout: Optional[Callable[[str], Any]] = None,
    on_stderr: Optional[Callable[[str], Any]] = None,
    on_result: Optional[Callable[[Any], Any]] = None,
    on_error: Optional[Callable[[Any], Any]] = None,
    request_timeout: Optional[float] = None,
) -> Execution:
    """Runs one cell; see :meth:`Sandbox.run_code`."""
    body = run_code_body(code, language, context, timeout, env)
    config = transport.config
    wait = wait_for(config, request_timeout, stream_silence(timeout, config, request_timeout))
    response = transport.open("POST", f"/v1/sandboxes/{sandbox_id}/code", wait, json=body)
    collector = ExecutionCollector(on_stdout, on_stderr, on_result, on_error)
    splitter = NdjsonSplitter()
    for chunk in transport.iter_body(response, wait):
        for raw in splitter.feed(chunk):
            settle(collector.add(raw))
    for raw in splitter.close():
        settle(collector.add(raw))
    return collector.finish()


class CodeContexts:
    """Creates, lists, restarts and removes code contexts. Reach it as ``sbx.code_contexts``.

    Example::

        ctx = sbx.code_contexts.create(language="python", cwd="/tmp")
        sbx.run_code("import os; os.getcwd()", context=ctx).text  # "'/tmp'"
    """

    def __init__(self, transport: SyncTransport, sandbox_id: str) -> None:
        self._transport = transport
        self._base = f"/v1/sandboxes/{sandbox_id}/code/contexts"

    def create(
        self,
        *,
        language: Optional[str] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> CodeContext:
        """A new context with its own kernel (started on first use)."""
        wait = wait_for(self._transport.config, request_timeout)
        body = context_body(language, cwd, user)
        return CodeContext.from_wire(self._transport.call("POST", self._base, wait, json=body))

    def list(self, *, request_timeout: Optional[float] = None) -> builtins.list[CodeContext]:
        """Every context, the default ones included (their ids are language names)."""
        wait = wait_for(self._transport.config, request_timeout)
        body = self._transport.call("GET", self._base, wait)
        return [CodeContext.from_wire(c) for c in (body or {}).get("contexts", [])]

    def restart(self, context: ContextRef, *, request_timeout: Optional[float] = None) -> CodeContext:
        """Kills the context's kernel; the next run starts a fresh one (variables cleared)."""
        wait = wait_for(self._transport.config, request_timeout)
        return CodeContext.from_wire(self._transport.call("POST", f"{self._base}/{_id(context)}/restart", wait))

    def remove(self, context: ContextRef, *, request_timeout: Optional[float] = None) -> None:
        """Kills the context's kernel and forgets the context."""
        wait = wait_for(self._transport.config, request_timeout)
        self._transport.call("DELETE", f"{self._base}/{_id(context)}", wait)
