"""The sync SDK against a real server (started by conftest's ``server`` fixture)."""

from __future__ import annotations

import builtins
import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest

import paddock
from paddock import Sandbox, Template

from .conftest import suite_metadata

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024

def pattern_chunks(total: int, seed: int, sink: hashlib._Hash) -> Iterator[bytes]:
    """Deterministic 1 MiB chunks, hashed as they are produced (never all in memory)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    for i in range(total // MiB):
        chunk = bytes([i % 251]) + block[1:]
        sink.update(chunk)
        yield chunk


# --- commands ---------------------------------------------------------------------------


def test_run_returns_output_and_exit_code(shared_sandbox: Sandbox) -> None:
    r = shared_sandbox.commands.run("python3 -c 'print(6*7)'")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "42\n", "")


def test_non_zero_exit_raises_unless_told_not_to(shared_sandbox: Sandbox) -> None:
    with pytest.raises(paddock.CommandExitError) as info:
        shared_sandbox.commands.run("echo out; echo err >&2; exit 3")
    assert (info.value.exit_code, info.value.stdout, info.value.stderr) == (3, "out\n", "err\n")
    r = shared_sandbox.commands.run("exit 4", throw_on_error=False)
    assert r.exit_code == 4


def test_argv_cwd_user_env_stdin_and_callbacks(shared_sandbox: Sandbox) -> None:
    out, err = [], []
    r = shared_sandbox.commands.run(
        ["sh", "-c", "pwd; id -un; echo $FOO $BAR; cat; echo e >&2"],
        cwd="/tmp",
        user="root",
        envs={"BAR": "b"},
        timeout=10,
        stdin=b"in\x00put",
        on_stdout=out.append,
        on_stderr=err.append,
    )
    assert r.stdout == "/tmp\nroot\nbar b\nin\x00put"  # FOO comes from the sandbox's env
    assert "".join(out) == r.stdout and "".join(err) == "e\n"
    assert shared_sandbox.commands.run("id -un").stdout == "user\n"


def test_stream_yields_start_output_and_exit(shared_sandbox: Sandbox) -> None:
    events = list(shared_sandbox.commands.stream("printf 'a☃'; printf 'b' >&2; printf '\\377' ; exit 2"))
    assert isinstance(events[0], paddock.CommandStart) and events[0].pid > 0
    assert isinstance(events[-1], paddock.CommandExit) and events[-1].exit_code == 2
    stdout = [e for e in events if isinstance(e, paddock.CommandOutput) and e.type == "stdout"]
    assert b"".join(e.bytes for e in stdout) == "a☃".encode() + b"\xff"
    assert stdout[0].offset == 0 and "".join(e.data for e in stdout).startswith("a☃")
    assert [e.data for e in events if isinstance(e, paddock.CommandOutput) and e.type == "stderr"] == ["b"]


def test_stream_can_be_closed_early(shared_sandbox: Sandbox) -> None:
    with shared_sandbox.commands.stream("echo ready; sleep 60", timeout=0) as events:
        for ev in events:
            if isinstance(ev, paddock.CommandOutput):
                break
    assert shared_sandbox.commands.run("echo still fine").stdout == "still fine\n"


def test_command_timeout(shared_sandbox: Sandbox) -> None:
    with pytest.raises(paddock.TimeoutError, match="timeout=1") as info:
        shared_sandbox.commands.run("echo started; sleep 30", timeout=1)
    assert isinstance(info.value, builtins.TimeoutError)
    assert info.value.details["stdout"] == "started\n"
    exit_event = list(shared_sandbox.commands.stream("sleep 30", timeout=0.5))[-1]
    assert isinstance(exit_event, paddock.CommandExit) and exit_event.timed_out


# --- files ------------------------------------------------------------------------------


def test_text_and_bytes(shared_sandbox: Sandbox) -> None:
    f = shared_sandbox.files
    info = f.write("/home/user/t/a.txt", "héllo")
    assert (info.path, info.type, info.size_bytes, info.owner) == ("/home/user/t/a.txt", "file", 6, "user")
    assert f.read("/home/user/t/a.txt") == "héllo"
    every_byte = bytes(range(256))
    f.write("/home/user/t/b.bin", every_byte, mode=0o600)
    assert f.read("/home/user/t/b.bin", format="bytes") == every_byte
    assert f.stat("/home/user/t/b.bin").mode & 0o777 == 0o600
    assert f.write("/home/user/t/io.bin", io.BytesIO(b"from a file object")).size_bytes == 18
    assert f.write("/home/user/t/it.bin", iter([b"a", b"b", b"c"])).size_bytes == 3


def test_streamed_64_mib_file(shared_sandbox: Sandbox, tmp_path: Path) -> None:
    sent = hashlib.sha256()
    local = tmp_path / "big"
    with open(local, "wb") as out:
        for chunk in pattern_chunks(64 * MiB, 1, sent):
            out.write(chunk)
    with open(local, "rb") as src:
        info = shared_sandbox.files.write("/home/user/big.bin", src)
    assert info.size_bytes == 64 * MiB
    got, n = hashlib.sha256(), 0
    with shared_sandbox.files.read("/home/user/big.bin", format="stream") as chunks:
        assert chunks.size_bytes == 64 * MiB
        for chunk in chunks:
            got.update(chunk)
            n += len(chunk)
    assert (n, got.hexdigest()) == (64 * MiB, sent.hexdigest())
    remote = shared_sandbox.commands.run("sha256sum /home/user/big.bin").stdout.split()[0]
    assert remote == sent.hexdigest()
    shared_sandbox.files.remove("/home/user/big.bin")


def test_list_stat_exists_mkdir_rename_remove(shared_sandbox: Sandbox) -> None:
    f = shared_sandbox.files
    assert f.mkdir("/home/user/d/sub").type == "dir"
    f.mkdir("/home/user/d/sub")  # existing is fine
    f.write("/home/user/d/x.txt", "x")
    f.write("/home/user/d/sub/y.txt", "y")
    assert [e.name for e in f.list("/home/user/d")] == ["sub", "x.txt"]
    deep = [e.path for e in f.list("/home/user/d", depth=2)]
    assert "/home/user/d/sub/y.txt" in deep
    assert f.exists("/home/user/d/x.txt") and not f.exists("/home/user/d/nope")
    moved = f.rename("/home/user/d/x.txt", "/home/user/d/z.txt")
    assert moved.path == "/home/user/d/z.txt" and not f.exists("/home/user/d/x.txt")
    f.remove("/home/user/d")
    assert not f.exists("/home/user/d")


def test_file_errors(shared_sandbox: Sandbox) -> None:
    f = shared_sandbox.files
    with pytest.raises(paddock.InvalidArgumentError, match="absolute"):
        f.read("relative/path")
    with pytest.raises(paddock.IsADirectoryError):
        f.read("/home/user")
    with pytest.raises(paddock.NotFoundError):
        f.read("/home/user/does-not-exist")
    with pytest.raises(paddock.NotFoundError):
        f.stat("/home/user/does-not-exist")
    with pytest.raises(ValueError, match="format"):
        f.read("/etc/hostname", format="json")  # type: ignore[call-overload]


def test_disk_full_keeps_earlier_files(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(disk_mib=64)
    sbx.files.write("/home/user/keep.txt", "kept")
    try:
        with pytest.raises(paddock.DiskFullError):
            sbx.files.write("/home/user/huge.bin", pattern_chunks(128 * MiB, 2, hashlib.sha256()), request_timeout=15)
    finally:
        assert sbx.files.read("/home/user/keep.txt") == "kept"
        assert not sbx.files.exists("/home/user/huge.bin")


# --- lifecycle --------------------------------------------------------------------------


def test_create_list_connect_set_timeout_kill(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(template="base", timeout=300, memory_mib=256, env={"FOO": "bar"}, metadata={"agent": "a1"})
    info = sbx.get_info()
    assert (info.state, info.template, info.memory_mib, info.metadata["agent"]) == ("running", "base", 256, "a1")
    assert sbx.is_running()

    listed = Sandbox.list(metadata=suite_metadata(agent="a1"), state=["running"])
    assert [i.id for i in listed] == [sbx.id]
    assert Sandbox.list(metadata=suite_metadata(agent="nobody")) == []

    other = Sandbox.connect(sbx.id)
    try:
        assert other.commands.run("echo $FOO").stdout == "bar\n"
        before = datetime.now(timezone.utc)
        updated = other.set_timeout(600)
        assert before + timedelta(seconds=590) < updated.expires_at < before + timedelta(seconds=620)
    finally:
        other.close()

    assert sbx.kill() is True
    assert sbx.kill() in (True, False)  # killing twice is fine
    assert sbx.get_info().state in ("stopping", "killed")
    assert sbx.id in [i.id for i in Sandbox.list(metadata=suite_metadata(agent="a1"), state=["killed"])]
    with pytest.raises((paddock.SandboxNotRunningError, paddock.NotFoundError)):
        sbx.commands.run("true")


def test_kill_by_id(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox()
    assert Sandbox.kill(sbx.id) is True
    assert Sandbox.kill("a" * 20) is False


def test_context_manager_kills(server: dict) -> None:
    with Sandbox.create(metadata=suite_metadata(test="context")) as sbx:
        sandbox_id = sbx.id
    assert sandbox_id not in [i.id for i in Sandbox.list(metadata=suite_metadata(test="context"))]


def test_template_list_and_get(server: dict) -> None:
    names = [t.name for t in Template.list()]
    assert "base" in names
    base = Template.get("base")
    assert base.user and base.workdir.startswith("/") and base.size_bytes > 0
    with pytest.raises(paddock.NotFoundError):
        Template.get("no-such-template")


# --- bad input --------------------------------------------------------------------------


def test_unknown_template(server: dict) -> None:
    with pytest.raises(paddock.NotFoundError, match="no-such-template"):
        Sandbox.create(template="no-such-template", metadata=suite_metadata())


def test_out_of_range_limit_names_the_field(server: dict) -> None:
    with pytest.raises(paddock.InvalidArgumentError, match="memoryMiB") as info:
        Sandbox.create(memory_mib=0, metadata=suite_metadata())
    assert info.value.status == 400


def test_unknown_sandbox(server: dict) -> None:
    with pytest.raises(paddock.NotFoundError):
        Sandbox.connect("a" * 20)


def test_wrong_key(server: dict) -> None:
    with pytest.raises(paddock.AuthenticationError) as info:
        Sandbox.list(api_key="pdk_wrong")
    assert info.value.status == 401


def test_unreachable_server() -> None:
    with pytest.raises(paddock.UnavailableError, match="127.0.0.1:9"):
        Sandbox.list(api_url="http://127.0.0.1:9", api_key="k", request_timeout=5)


# The spec of templates/base.yaml: building it under another name finds the cached build.
BASE_SPEC = {
    "from": "debian:bookworm",
    "packages": ["bash", "coreutils", "procps", "ca-certificates", "python3", "git"],
    "user": "user",
    "workdir": "/home/user",
    "env": {"LANG": "C.UTF-8"},
}


def test_template_build_and_remove(server: dict) -> None:
    name = f"py-sync-{suite_metadata()['suite'][-8:]}"
    events: list = []
    try:
        result = Template.build(name, BASE_SPEC, on_event=events.append)
        assert result.template.name == name and events[-1] == result
        assert name in [t.name for t in Template.list()]
    finally:
        Template.remove(name)
    assert name not in [t.name for t in Template.list()]
    with pytest.raises(paddock.TemplateBuildError, match="no-such-package-zzz"):
        Template.build(f"{name}-bad", {"packages": ["no-such-package-zzz"]})


def test_template_build_dockerfile_and_import(server: dict, make_sandbox) -> None:
    name = f"py-df-{suite_metadata()['suite'][-8:]}"
    dockerfile = "FROM base\nARG WHO=nobody\nCOPY greet.sh /opt/greet.sh\nRUN /opt/greet.sh \"$WHO\" > /opt/greeting\n"
    script = (b"#!/bin/sh\necho hello $1\n", 0o755)
    try:
        result = Template.build_dockerfile(name, dockerfile, context={"greet.sh": script}, build_args={"WHO": "py"})
        assert (result.template.source or {}).get("kind") == "dockerfile"
        again = Template.build_dockerfile(name, dockerfile, context={"greet.sh": script}, build_args={"WHO": "py"})
        assert again.cached
        sbx = make_sandbox(template=name)
        assert sbx.files.read("/opt/greeting") == "hello py\n"
        sbx.kill()  # a template in use cannot be removed
    finally:
        Template.remove(name)
    with pytest.raises(paddock.InvalidArgumentError, match="line 2"):
        Template.build_dockerfile(f"{name}-bad", "FROM base\nFROBNICATE x\n")
    with pytest.raises(paddock.InvalidArgumentError, match="not an image archive"):
        Template.import_archive(f"{name}-junk", b"not a tar" * 100)


def test_template_import_archive_streams_a_file(tmp_path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar either" * 200_000)  # 3 MiB: several pieces of the upload
    with pytest.raises(paddock.InvalidArgumentError, match="not an image archive"):
        Template.import_archive("py-import-junk", junk)
