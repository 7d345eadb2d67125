"""Durable processes through the Python SDK (sync and async) against a real server."""

from __future__ import annotations

import asyncio
from typing import Callable

import pytest

from paddock import AsyncSandbox, Sandbox
from paddock._processes_common import ProcessExit, ProcessStart
from paddock.errors import CommandExitError, ConflictError, InvalidArgumentError, NotFoundError, TimeoutError
from paddock.models import CommandOutput

from .conftest import suite_metadata

pytestmark = pytest.mark.e2e


def test_background_handle_stdin_reattach_and_list(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox()
    p = sbx.commands.run("for i in $(seq 1 200); do echo line $i; done; read x; echo got $x", background=True)
    assert p.pid > 0
    p.send_stdin("yes\n")
    seen: list[str] = []
    result = p.wait()
    assert result.stdout.endswith("line 200\ngot yes\n")
    # Another handle resumes from a mid offset with exact continuity.
    again = sbx.commands.connect(p.id, from_offset=0, on_stdout=seen.append)
    whole = b"".join(ev.bytes for ev in again if isinstance(ev, CommandOutput))
    middle = len(whole) // 2
    tail = b"".join(ev.bytes for ev in again.stream(middle) if isinstance(ev, CommandOutput))
    assert whole[:middle] + tail == whole
    events = list(again.stream(0))
    assert isinstance(events[0], ProcessStart) and events[0].id == p.id
    assert isinstance(events[-1], ProcessExit) and events[-1].offset == len(whole)
    listed = [info for info in sbx.commands.list() if info.id == p.id]
    assert listed and not listed[0].running and listed[0].exit_code == 0 and listed[0].background
    assert again.wait().stdout == whole.decode() and "".join(seen) == whole.decode()


def test_kill_timeout_and_bad_input(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox()
    sleeper = sbx.commands.run("sleep 1000 & sleep 1000", background=True)
    sleeper.kill()
    with pytest.raises(CommandExitError) as exited:
        sleeper.wait()
    assert exited.value.signal == "SIGKILL"
    with pytest.raises(ConflictError, match="exited"):
        sleeper.send_stdin("x")
    with pytest.raises(InvalidArgumentError, match="signal"):
        sleeper.kill("SIGNOPE")
    with pytest.raises(NotFoundError):
        sbx.commands.connect("nosuchprocess")
    timed = sbx.commands.run("sleep 1000", background=True, timeout=0.3)
    with pytest.raises(TimeoutError):
        timed.wait()
    assert sbx.commands.run("echo ok").stdout == "ok\n"


def test_async_background_and_reattach(server: object) -> None:
    async def scenario() -> None:
        async with await AsyncSandbox.create(metadata=suite_metadata(test="async-processes")) as sbx:
            p = await sbx.commands.run("cat", background=True)
            await p.send_stdin("hello ", eof=False)
            await p.send_stdin("async", eof=True)
            assert (await p.wait()).stdout == "hello async"
            again = await sbx.commands.connect(p.id, from_offset=6)
            chunks = [ev.bytes async for ev in again if isinstance(ev, CommandOutput)]
            assert b"".join(chunks) == b"async"
            assert any(info.id == p.id for info in await sbx.commands.list())

    asyncio.run(scenario())
