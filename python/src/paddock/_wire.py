"""Pure request building and response splitting, shared by the sync and async SDKs.

Nothing here does I/O: options in seconds and snake_case become the protocol's camelCase
JSON in milliseconds, and NDJSON byte chunks become parsed objects.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional, Union, cast

from ._protocol import CreateSandboxRequest, RunCommandRequest, SetTimeoutRequest
from .connection_config import seconds_to_ms
from .errors import InternalError

Cmd = Union[str, Sequence[str]]
"""A shell command line (run with ``bash -c``) or a program and its arguments."""

StdinData = Union[str, bytes, bytearray, memoryview]
"""Bytes for a command's stdin (text is sent as UTF-8)."""


def _drop_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _secret_body(secret: Mapping[str, Any]) -> dict[str, Any]:
    """One secret on the wire: ``headers`` pins it to those request headers; ``allow_insecure_http``
    also sends it over plain HTTP (by default the value leaves only over TLS)."""
    headers = secret.get("headers")
    insecure = secret.get("allow_insecure_http", secret.get("allowInsecureHttp"))
    return _drop_none(
        {
            "value": secret.get("value"),
            "hosts": list(secret.get("hosts") or []),
            "headers": None if headers is None else list(headers),
            "allowInsecureHttp": insecure,
        }
    )


def create_sandbox_body(
    template: Optional[str] = None,
    timeout: Optional[float] = None,
    memory_mib: Optional[int] = None,
    cpus: Optional[float] = None,
    disk_mib: Optional[int] = None,
    pids: Optional[int] = None,
    isolation: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    metadata: Optional[Mapping[str, str]] = None,
    *,
    on_timeout: Optional[str] = None,
    auto_resume: Optional[bool] = None,
    retention: Optional[float] = None,
    volumes: Optional[Sequence[Mapping[str, Any]]] = None,
    secrets: Optional[Mapping[str, Mapping[str, Any]]] = None,
    network: Optional[Mapping[str, Any]] = None,
) -> CreateSandboxRequest:
    """The ``CreateSandboxRequest`` body; ``timeout`` and ``retention`` (seconds) become milliseconds;
    ``volumes`` items are ``{"name", "path", "read_only"?}``; ``secrets`` maps a name to
    ``{"value", "hosts", "headers"?, "allow_insecure_http"?}``. The server validates the
    values; tests/test_wire.py checks the keys against the generated schema."""
    return cast(CreateSandboxRequest, _drop_none(
        {
            # ``{"egress", "allow", "bandwidth_mbit"}`` (snake_case) → the wire's ``bandwidthMbit``.
            "network": None
            if network is None
            else _drop_none(
                {
                    "egress": network.get("egress"),
                    "allow": None if network.get("allow") is None else list(network["allow"]),
                    "bandwidthMbit": network.get("bandwidth_mbit", network.get("bandwidthMbit")),
                }
            ),
            "secrets": None if secrets is None else {name: _secret_body(s) for name, s in secrets.items()},
            "onTimeout": on_timeout,
            "autoResume": auto_resume,
            "retentionMs": None if retention is None else seconds_to_ms(retention, "retention"),
            "volumes": None
            if volumes is None
            else [
                _drop_none({"name": v.get("name"), "path": v.get("path"), "readOnly": v.get("read_only")})
                for v in volumes
            ],
            "template": template,
            "timeoutMs": None if timeout is None else seconds_to_ms(timeout, "timeout"),
            "memoryMiB": memory_mib,
            "cpus": cpus,
            "diskMiB": disk_mib,
            "pids": pids,
            "isolation": isolation,
            "env": None if env is None else dict(env),
            "metadata": None if metadata is None else dict(metadata),
        }
    ))


def list_sandboxes_query(
    metadata: Optional[Mapping[str, str]] = None,
    state: Union[str, Sequence[str], None] = None,
) -> list[tuple[str, str]]:
    """Query of ``GET /v1/sandboxes``: ``state=a,b`` and ``metadata.KEY=VALUE`` pairs."""
    query: list[tuple[str, str]] = []
    if state:
        query.append(("state", state if isinstance(state, str) else ",".join(state)))
    for key, value in (metadata or {}).items():
        query.append((f"metadata.{key}", value))
    return query


def set_timeout_body(timeout: float) -> SetTimeoutRequest:
    """The ``SetTimeoutRequest`` body for a lifetime of ``timeout`` seconds from now."""
    return {"timeoutMs": seconds_to_ms(timeout, "timeout")}


def run_command_body(
    cmd: Cmd,
    cwd: Optional[str] = None,
    envs: Optional[Mapping[str, str]] = None,
    user: Optional[str] = None,
    timeout: Optional[float] = None,
    stdin: Optional[StdinData] = None,
) -> RunCommandRequest:
    """The ``RunCommandRequest`` body: a string runs through the shell, a list directly.

    ``timeout`` is in seconds (0 = no limit) and ``stdin`` is sent base64-encoded.
    """
    if isinstance(cmd, (bytes, bytearray)):
        raise TypeError("cmd must be a str (a shell line) or a list of str (argv), not bytes")
    program = {"cmd": cmd} if isinstance(cmd, str) else {"argv": [str(a) for a in cmd]}
    return cast(
        RunCommandRequest,
        _drop_none(
            {
                **program,
                "stdinBase64": None if stdin is None else base64_text(stdin),
                **launch_fields(cwd, envs, user),
                "timeoutMs": None if timeout is None else seconds_to_ms(timeout, "timeout"),
            }
        ),
    )


def launch_fields(cwd: Optional[str], envs: Optional[Mapping[str, str]], user: Optional[str]) -> dict[str, Any]:
    """Where and as whom a program starts (``cwd``, ``env``, ``user``), in every body that starts
    one (a command, a terminal); a field left None is the sandbox's default."""
    return _drop_none({"cwd": cwd, "env": None if envs is None else dict(envs), "user": user})


def base64_text(data: Union[str, bytes, bytearray, memoryview]) -> str:
    """Bytes (text as UTF-8) as the base64 text that JSON bodies carry."""
    return base64.b64encode(data.encode("utf-8") if isinstance(data, str) else bytes(data)).decode("ascii")


def file_query(path: str, **params: Any) -> dict[str, str]:
    """Query of the file routes: ``path`` plus the given params that are not None."""
    query = {"path": path}
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return query


class NdjsonSplitter:
    """Splits a byte stream into NDJSON values, whatever the chunk boundaries.

    Example::

        s = NdjsonSplitter()
        s.feed(b'{"a":1}\\n{"b"') + s.feed(b':2}\\n') + s.close()  # [{'a': 1}, {'b': 2}]
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Any]:
        """Adds bytes and returns the values of every line they completed."""
        self._buffer += chunk
        if b"\n" not in chunk:
            return []
        *lines, self._buffer = self._buffer.split(b"\n")
        return [self._parse(line) for line in lines if line.strip()]

    def close(self) -> list[Any]:
        """Returns the value of a last line that had no newline, if any."""
        rest, self._buffer = self._buffer, b""
        return [self._parse(rest)] if rest.strip() else []

    @staticmethod
    def _parse(line: bytes) -> Any:
        try:
            return json.loads(line)
        except ValueError:
            raise InternalError("INTERNAL", f"the server sent a line that is not JSON: {line[:200]!r}") from None


def iter_file_chunks(fileobj: Any, chunk_size: int) -> Iterable[bytes]:
    """Reads a binary file object in chunks, so an upload never holds it whole."""
    while True:
        chunk = fileobj.read(chunk_size)
        if not chunk:
            return
        if isinstance(chunk, str):
            raise TypeError("files.write got a text-mode file: open it with 'rb'")
        yield chunk
