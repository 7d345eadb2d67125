"""Option conversion, NDJSON splitting and event decoding: no server needed."""

from __future__ import annotations

import base64
import json
import re
from datetime import timezone
from pathlib import Path
from typing import get_args

import pytest

import paddock
from paddock._command_run import RunCollector, stream_silence
from paddock._transport import wait_for
from paddock._wire import (
    NdjsonSplitter,
    create_sandbox_body,
    list_sandboxes_query,
    run_command_body,
    set_timeout_body,
)
from paddock.connection_config import ConnectionConfig, seconds_to_ms
from paddock.models import CommandEventDecoder, FileInfo, SandboxInfo, decode_template_event


def test_seconds_to_ms() -> None:
    assert seconds_to_ms(1.5, "timeout") == 1500
    assert seconds_to_ms(0, "timeout") == 0
    assert seconds_to_ms(0.0004, "timeout") == 0
    with pytest.raises(ValueError, match="timeout"):
        seconds_to_ms(-1, "timeout")
    with pytest.raises(ValueError):
        seconds_to_ms(float("inf"), "timeout")
    with pytest.raises(TypeError):
        seconds_to_ms("5", "timeout")  # type: ignore[arg-type]


def test_create_body_converts_names_and_units() -> None:
    body = create_sandbox_body(
        "base", timeout=300, memory_mib=512, disk_mib=64, env={"FOO": "bar"}, metadata={"agent": "a1"}
    )
    assert body == {
        "template": "base",
        "timeoutMs": 300_000,
        "memoryMiB": 512,
        "diskMiB": 64,
        "env": {"FOO": "bar"},
        "metadata": {"agent": "a1"},
    }
    assert create_sandbox_body() == {}
    assert create_sandbox_body(memory_mib=0) == {"memoryMiB": 0}  # the server names the field


def test_run_command_body() -> None:
    assert run_command_body("echo hi", timeout=60) == {"cmd": "echo hi", "timeoutMs": 60_000}
    body = run_command_body(["ls", "-la"], cwd="/tmp", envs={"A": "1"}, user="root", timeout=0, stdin=b"\x00\xff")
    assert body == {
        "argv": ["ls", "-la"],
        "cwd": "/tmp",
        "env": {"A": "1"},
        "user": "root",
        "timeoutMs": 0,
        "stdinBase64": base64.b64encode(b"\x00\xff").decode(),
    }
    assert run_command_body("cat", stdin="é").get("stdinBase64") == base64.b64encode("é".encode()).decode()
    with pytest.raises(TypeError):
        run_command_body(b"echo")  # type: ignore[arg-type]


def test_list_query_and_set_timeout() -> None:
    assert list_sandboxes_query({"agent": "a1"}, ["running", "killed"]) == [
        ("state", "running,killed"),
        ("metadata.agent", "a1"),
    ]
    assert list_sandboxes_query(None, "running") == [("state", "running")]
    assert set_timeout_body(600) == {"timeoutMs": 600_000}


def test_connection_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PADDOCK_URL", raising=False)
    monkeypatch.delenv("PADDOCK_API_KEY", raising=False)
    c = ConnectionConfig.resolve()
    assert (c.api_url, c.api_key, c.request_timeout) == ("http://127.0.0.1:7070", None, 30.0)
    monkeypatch.setenv("PADDOCK_URL", "http://h:1/")
    monkeypatch.setenv("PADDOCK_API_KEY", "k")
    c = ConnectionConfig.resolve(request_timeout=0)
    assert (c.api_url, c.api_key, c.request_timeout) == ("http://h:1", "k", None)
    c = ConnectionConfig.resolve(api_url="http://x:2", api_key="arg", request_timeout=5)
    assert (c.api_url, c.api_key, c.request_timeout) == ("http://x:2", "arg", 5.0)


def test_waits() -> None:
    c = ConnectionConfig("http://h", None, 30.0)
    assert wait_for(c, None).request == 30.0 and wait_for(c, None).read == 30.0
    assert wait_for(c, 0).request is None
    assert wait_for(c, 5, None).read is None
    # A quiet command may print nothing until its own timeout kills it.
    assert stream_silence(60, c, None) == 90.0
    assert stream_silence(0, c, None) is None


def test_ndjson_splitter_handles_any_chunking() -> None:
    events = [{"type": "start", "pid": 1}, {"type": "exit", "exitCode": 0}]
    wire = "".join(json.dumps(e) + "\n" for e in events).encode()
    for size in (1, 2, 7, len(wire)):
        s = NdjsonSplitter()
        got = []
        for i in range(0, len(wire), size):
            got += s.feed(wire[i : i + size])
        got += s.close()
        assert got == events
    s = NdjsonSplitter()
    assert s.feed(b'{"a":1}\n\n  \n{"b"') == [{"a": 1}] and s.feed(b":2}\n") == [{"b": 2}] and s.close() == []
    s = NdjsonSplitter()
    assert s.feed(b'{"a":1}') == [] and s.close() == [{"a": 1}]
    with pytest.raises(paddock.InternalError):
        NdjsonSplitter().feed(b"nope\n")


def _out(kind: str, data: bytes, offset: int) -> dict:
    return {"type": kind, "data": base64.b64encode(data).decode(), "offset": offset}


def test_command_events_decode_utf8_across_chunks() -> None:
    d = CommandEventDecoder()
    assert d.decode({"type": "start", "pid": 7}) == paddock.CommandStart(pid=7)
    snow = "☃".encode()
    a = d.decode(_out("stdout", b"x" + snow[:1], 0))
    b = d.decode(_out("stdout", snow[1:] + b"\n", 2))
    assert isinstance(a, paddock.CommandOutput) and a.type == "stdout"
    assert isinstance(b, paddock.CommandOutput)
    assert (a.data + b.data, a.bytes + b.bytes, b.offset) == ("x☃\n", b"x" + snow + b"\n", 2)
    e = d.decode({"type": "exit", "exitCode": 137, "signal": "SIGKILL", "oomKilled": True})
    assert e == paddock.CommandExit(exit_code=137, signal="SIGKILL", timed_out=False, oom_killed=True)
    assert e.type == "exit"
    with pytest.raises(paddock.SandboxNotRunningError, match="gone"):
        d.decode({"type": "error", "error": {"code": "SANDBOX_NOT_RUNNING", "message": "gone"}})
    with pytest.raises(paddock.InternalError):
        d.decode({"type": "mystery"})


def test_run_collector() -> None:
    seen = []
    c = RunCollector(60, seen.append, None, True)
    c.add(paddock.CommandOutput(type="stdout", data="hi", bytes=b"hi", offset=0))
    c.add(paddock.CommandOutput(type="stderr", data="err", bytes=b"err", offset=0))
    c.add(paddock.CommandExit(exit_code=0))
    assert c.finish() == paddock.CommandResult(exit_code=0, stdout="hi", stderr="err")
    assert seen == ["hi"]

    c = RunCollector(60, None, None, True)
    c.add(paddock.CommandExit(exit_code=2))
    with pytest.raises(paddock.CommandExitError) as info:
        c.finish()
    assert info.value.exit_code == 2

    c = RunCollector(60, None, None, False)
    c.add(paddock.CommandExit(exit_code=2))
    assert c.finish().exit_code == 2

    c = RunCollector(1.5, None, None, False)
    c.add(paddock.CommandExit(exit_code=137, signal="SIGKILL", timed_out=True))
    with pytest.raises(paddock.TimeoutError, match="timeout=1.5"):
        c.finish()

    with pytest.raises(paddock.InternalError, match="without an exit"):
        RunCollector(1, None, None, True).finish()


def test_models_parse_wire_objects() -> None:
    info = SandboxInfo.from_wire(
        {
            "id": "abc",
            "template": "base",
            "isolation": "container",
            "state": "running",
            "createdAt": "2025-01-02T03:04:05.678Z",
            "expiresAt": "2025-01-02T03:09:05.678Z",
            "memoryMiB": 512,
            "cpus": 1,
            "diskMiB": 2048,
            "pids": 1024,
            "metadata": {"agent": "a1"},
        }
    )
    assert info.memory_mib == 512 and info.metadata == {"agent": "a1"} and info.reason is None
    assert info.reason_code is None
    assert info.created_at.tzinfo == timezone.utc and info.created_at.microsecond == 678000
    wire = {
        "name": "a",
        "path": "/a",
        "type": "file",
        "sizeBytes": 2,
        "mode": 0o644,
        "owner": "user",
        "group": "user",
        "modifiedAt": "2025-01-02T03:04:05Z",
    }
    f = FileInfo.from_wire(wire)
    assert f.size_bytes == 2 and f.mode == 0o644 and f.symlink_target is None
    with pytest.raises(paddock.InternalError, match="sizeBytes"):
        FileInfo.from_wire({**wire, "sizeBytes": "2"})


def test_template_events() -> None:
    assert decode_template_event({"type": "log", "line": "x"}) == paddock.TemplateBuildLog(line="x")
    p = decode_template_event({"type": "progress", "message": "m", "step": "s"})
    assert isinstance(p, paddock.TemplateBuildProgress) and p.step == "s"
    with pytest.raises(paddock.TemplateBuildError):
        decode_template_event({"type": "error", "error": {"code": "TEMPLATE_BUILD_FAILED", "message": "no pkg"}})


def test_sandbox_info_reason_code() -> None:
    wire = {
        "id": "abc",
        "template": "base",
        "isolation": "container",
        "state": "killed",
        "createdAt": "2025-01-02T03:04:05Z",
        "expiresAt": "2025-01-02T03:09:05Z",
        "memoryMiB": 512,
        "cpus": 1,
        "diskMiB": 2048,
        "pids": 1024,
        "metadata": {},
        "reason": "timeout expired",
        "reasonCode": "timeout",
    }
    info = SandboxInfo.from_wire(wire)
    assert (info.reason, info.reason_code) == ("timeout expired", "timeout")
    # A code a newer server adds still parses: it is a string, not a closed set.
    assert SandboxInfo.from_wire({**wire, "reasonCode": "later_code"}).reason_code == "later_code"
    with pytest.raises(paddock.InternalError, match="reasonCode"):
        SandboxInfo.from_wire({**wire, "reasonCode": 7})


def test_reason_codes_mirror_the_protocol() -> None:
    source = (Path(__file__).resolve().parents[2] / "packages/protocol/src/sandbox.ts").read_text()
    match = re.search(r"export const ReasonCode = z\.enum\(\[(.*?)\]\)", source, re.S)
    assert match, "ReasonCode not found in packages/protocol/src/sandbox.ts"
    protocol = re.findall(r"^\s*'([a-z_]+)',", match.group(1), re.M)
    assert protocol and list(get_args(paddock.ReasonCode)) == protocol
