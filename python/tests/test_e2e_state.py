"""Stateful sandboxes from Python (sync and async) against a real server."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Callable

import pytest

import paddock
from paddock import AsyncSandbox, AsyncVolume, Sandbox, Volume

from .conftest import suite_metadata

pytestmark = pytest.mark.e2e


def test_pause_resume_hibernate_sync(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(isolation="container")
    sbx.commands.run("echo 1 > /home/user/a.txt")
    assert sbx.pause().state == "paused"
    assert sbx.pause().state == "paused"
    with pytest.raises(paddock.SandboxPausedError):
        sbx.commands.run("true")
    assert Sandbox.connect(sbx.id).get_info().state == "running"  # connect resumes
    with pytest.raises(paddock.InvalidArgumentError, match="keepMemory"):
        sbx.hibernate()
    assert sbx.hibernate(keep_memory=False).state == "hibernated"
    info = sbx.resume()
    assert info.state == "running" and info.processes_restarted
    assert info.capabilities == {"pause": True, "hibernateWithMemory": False, "fork": False, "perProcessOom": True}
    assert sbx.files.read("/home/user/a.txt") == "1\n"


def test_auto_resume_and_on_timeout_sync(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(isolation="container", timeout=1, on_timeout="pause", auto_resume=True, retention=3600)
    deadline = time.monotonic() + 20
    while sbx.get_info().state != "paused":
        assert time.monotonic() < deadline, "the timeout did not pause the sandbox"
        time.sleep(0.1)
    assert sbx.get_info().retention_ms == 3_600_000
    assert sbx.commands.run("echo back").stdout == "back\n"
    with pytest.raises(paddock.InvalidArgumentError, match="onTimeout"):
        make_sandbox(isolation="container", on_timeout="hibernate")


def test_fork_bad_input_and_snapshot_sync(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(isolation="container")
    with pytest.raises(paddock.InvalidArgumentError):
        Sandbox.fork(sbx.id, count=0)
    with pytest.raises(paddock.InvalidArgumentError, match="gvisor"):
        Sandbox.fork(sbx.id, count=1)
    sbx.files.write("/home/user/s.txt", "snap")
    name = f"py-snap-{os.getpid()}"
    assert sbx.snapshot(name).name == name
    with pytest.raises(paddock.ConflictError):
        sbx.snapshot(name)
    child = make_sandbox(template=name)
    assert child.files.read("/home/user/s.txt") == "snap"
    child.kill()


def test_volumes_sync(make_sandbox: Callable[..., Sandbox]) -> None:
    name = f"py-vol-{os.getpid()}"
    Volume.create(name, size_mib=32)
    try:
        with pytest.raises(paddock.ConflictError):
            Volume.create(name, size_mib=32)
        sbx = make_sandbox(volumes=[{"name": name, "path": "/mnt/v"}])
        sbx.files.write("/mnt/v/x.txt", "v")
        with pytest.raises(paddock.ConflictError):
            Volume.delete(name)
        assert Volume.get_info(name).used_by == [sbx.id]
        sbx.kill()
        assert [v.name for v in Volume.list()].count(name) == 1
    finally:
        Volume.delete(name)


def test_async_state(server: dict) -> None:
    async def scenario() -> None:
        sbx = await AsyncSandbox.create(isolation="gvisor", metadata=suite_metadata(test="async-state"))
        try:
            await sbx.commands.run("echo hi > /home/user/h.txt")
            assert (await sbx.pause()).state == "paused"
            assert (await sbx.resume()).state == "running"
            assert (await sbx.hibernate()).state == "hibernated"
            assert (await sbx.resume()).processes_restarted is False
            forks = await AsyncSandbox.fork(sbx.id, count=2, metadata=suite_metadata(test="async-state"))
            try:
                for f in forks:
                    assert (await f.files.read("/home/user/h.txt")) == "hi\n"
            finally:
                for f in forks:
                    await f.kill()
            name = f"py-avol-{os.getpid()}"
            await AsyncVolume.create(name, size_mib=16)
            await AsyncVolume.delete(name)
        finally:
            await sbx.kill()

    asyncio.run(scenario())
