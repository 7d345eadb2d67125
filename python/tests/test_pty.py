"""Terminals (``sbx.pty``) through the sync and async SDKs against a real server."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable

import pytest

from paddock import AsyncSandbox, ConflictError, InvalidArgumentError, NotFoundError, Sandbox

from .conftest import suite_metadata

pytestmark = pytest.mark.e2e


class Screen:
    """What a terminal showed, filled from the SDK's output thread or task."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()

    def on_data(self, data: bytes) -> None:
        with self._lock:
            self._chunks.append(data)

    @property
    def text(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode("utf-8", "replace")

    def shows(self, needle: str, timeout: float = 15.0) -> None:
        """Waits (bounded) until the output contains ``needle``."""
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if time.monotonic() > deadline:
                raise AssertionError(f"the terminal never showed {needle!r}; it shows {self.text[-400:]!r}")
            time.sleep(0.02)

    async def ashows(self, needle: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if time.monotonic() > deadline:
                raise AssertionError(f"the terminal never showed {needle!r}; it shows {self.text[-400:]!r}")
            await asyncio.sleep(0.02)


def test_sync_terminal(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox()
    screen = Screen()
    term = sbx.pty.create(cols=100, rows=30, on_data=screen.on_data)
    assert term.pid > 0
    screen.shows("$ ")
    # Typed once `read` runs (a line typed ahead while readline had the terminal raw is not
    # completed by gVisor's terminal when `read` makes it canonical).
    term.send_input("echo reading; read x; echo got:$x\r")
    screen.shows("reading\r\n")
    term.send_input(b"hello\r")
    screen.shows("got:hello")
    term.send_input("echo $TERM; sleep 100 & jobs\r")
    screen.shows("xterm-256color")
    screen.shows("Running")
    term.resize(77, 20)
    term.send_input("echo cols=$(tput cols)\r")
    screen.shows("cols=77")
    assert [s.cols for s in sbx.pty.list() if s.id == term.id] == [77]

    # Reconnect: the recent screen comes first.
    term.disconnect()
    again = Screen()
    attached = sbx.pty.connect(term.id, on_data=again.on_data)
    again.shows("got:hello")
    attached.send_input("exit 5\r")
    assert attached.wait(timeout=30) == 5
    with pytest.raises(ConflictError):
        attached.send_input("ls\r")
    assert [s.exit_code for s in sbx.pty.list() if s.id == term.id] == [5]


def test_sync_errors(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox()
    with pytest.raises(InvalidArgumentError, match="`cols`"):
        sbx.pty.create(cols=0, rows=24)
    with pytest.raises(InvalidArgumentError, match="`rows`"):
        sbx.pty.create(cols=80, rows=1001)
    term = sbx.pty.create(cols=80, rows=24, cmd="sleep 100")
    with pytest.raises(InvalidArgumentError, match="`cols`"):
        term.resize(5000, 24)
    term.kill()
    assert term.wait(timeout=30) == 137
    for call in (
        lambda: sbx.pty.connect("nosuchsession"),
        lambda: sbx.pty.send_input("nosuchsession", "x"),
        lambda: sbx.pty.resize("nosuchsession", 10, 10),
        lambda: sbx.pty.kill("nosuchsession"),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_async_terminal(server: dict[str, str]) -> None:
    async def body() -> None:
        async with await AsyncSandbox.create(metadata=suite_metadata(test="async-pty")) as sbx:
            screen = Screen()

            async def on_data(data: bytes) -> None:  # a coroutine callback
                screen.on_data(data)

            term = await sbx.pty.create(cols=90, rows=25, on_data=on_data, cmd="read x; echo got:$x; exit 7")
            await term.send_input("async\r")
            assert await term.wait(timeout=30) == 7
            assert "got:async" in screen.text
            with pytest.raises(ConflictError):
                await term.send_input("x")
            listed = [s for s in await sbx.pty.list() if s.id == term.id]
            assert listed[0].exit_code == 7 and listed[0].cmd == "read x; echo got:$x; exit 7"

            shell = await sbx.pty.create(cols=80, rows=24, on_data=screen.on_data)
            await screen.ashows("$ ")
            await shell.resize(61, 20)
            await shell.send_input("echo cols=$(tput cols)\r")
            await screen.ashows("cols=61")
            await shell.disconnect()
            again = Screen()
            attached = await sbx.pty.connect(shell.id, on_data=again.on_data)
            await again.ashows("cols=61")
            await attached.kill()
            assert await attached.wait(timeout=30) == 137
            with pytest.raises(InvalidArgumentError):
                await sbx.pty.create(cols=80, rows=0)
            with pytest.raises(NotFoundError):
                await sbx.pty.connect("nosuchsession")

    asyncio.run(body())
