"""``files.watch`` and transfer progress, sync and async, against a real server."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import time
from collections.abc import AsyncIterator
from typing import Callable

import pytest

import paddock
from paddock import AsyncSandbox, Sandbox, TransferProgress, WatchEvent

from .conftest import suite_metadata
from .test_e2e_sync import MiB, pattern_chunks

pytestmark = pytest.mark.e2e


def wait_until(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Polls ``check`` (the event is the condition; no fixed sleep) until it holds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


class Replay:
    """The paths a watcher believes exist, from its events (thread-safe)."""

    def __init__(self) -> None:
        self.events: list[WatchEvent] = []
        self.paths: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, ev: WatchEvent) -> None:
        with self._lock:
            self.events.append(ev)
            if ev.type in ("create", "write"):
                self.paths.add(ev.path)
            elif ev.type == "remove":
                self.paths.discard(ev.path)
            elif ev.old_path is not None:
                moved = {p for p in self.paths if p == ev.old_path or p.startswith(ev.old_path + "/")}
                self.paths -= moved
                self.paths |= {ev.path + p[len(ev.old_path) :] for p in moved}
                self.paths.add(ev.path)


def test_watch_sync(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox()
    sbx.files.mkdir("/home/user/w")
    replay, errors = Replay(), []
    with sbx.files.watch("/home/user/w", replay, on_error=errors.append) as w:
        assert w.running
        sbx.commands.run("cd /home/user/w && mkdir d && touch $(seq -f 'd/f%g' 0 499) a.txt")
        wait_until("the burst", lambda: len(replay.paths) == 502)
        sbx.files.rename("/home/user/w/a.txt", "/home/user/w/b.txt")
        def renamed_to_b() -> bool:
            return any(e.type == "rename" and e.path == "/home/user/w/b.txt" for e in replay.events)

        wait_until("the rename", renamed_to_b)
        renamed = next(e for e in replay.events if e.type == "rename")
        assert (renamed.old_path, renamed.file_type) == ("/home/user/w/a.txt", "file")
        sbx.commands.run("rm -r /home/user/w/d")
        wait_until("the removal", lambda: replay.paths == {"/home/user/w/b.txt"})
    assert not w.running
    assert errors == []

    filtered = Replay()
    with sbx.files.watch("/home/user/w", filtered, filter="*.py", recursive=False):
        sbx.commands.run("cd /home/user/w && touch x.py y.txt && mkdir -p sub && touch sub/z.py")
        wait_until("the filtered create", lambda: "/home/user/w/x.py" in filtered.paths)
    assert filtered.paths == {"/home/user/w/x.py"}

    with pytest.raises(paddock.NotFoundError):
        sbx.files.watch("/home/user/missing", lambda ev: None)
    with pytest.raises(paddock.InvalidArgumentError, match="filter"):
        sbx.files.watch("/home/user/w", lambda ev: None, filter="/etc")

    gone: list[Exception] = []
    sbx.files.mkdir("/home/user/doomed")
    handle = sbx.files.watch("/home/user/doomed", lambda ev: None, on_error=gone.append)
    sbx.files.remove("/home/user/doomed")
    wait_until("the end of the watch", lambda: not handle.running)
    assert isinstance(gone[0], paddock.NotFoundError)


def test_progress_sync(make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox()
    sent = hashlib.sha256()
    up: list[TransferProgress] = []
    chunks = pattern_chunks(64 * MiB, 7, sent)
    info = sbx.files.write("/home/user/big.bin", chunks, on_progress=up.append, size_bytes=64 * MiB)
    assert info.size_bytes == 64 * MiB
    assert len(up) == 64 and up[-1] == TransferProgress(64 * MiB, 64 * MiB)

    down: list[TransferProgress] = []
    got = hashlib.sha256()
    with sbx.files.read("/home/user/big.bin", format="stream", on_progress=down.append) as chunks:
        for chunk in chunks:
            got.update(chunk)
    assert got.hexdigest() == sent.hexdigest()
    assert down[-1] == TransferProgress(64 * MiB, 64 * MiB)
    assert all(a.bytes < b.bytes for a, b in zip(down, down[1:]))

    # In-memory data and file objects know their size by themselves.
    small: list[TransferProgress] = []
    sbx.files.write("/home/user/small.bin", b"x" * (3 * MiB + 5), on_progress=small.append)
    assert [p.bytes for p in small] == [MiB, 2 * MiB, 3 * MiB, 3 * MiB + 5]
    assert small[-1].total_bytes == 3 * MiB + 5
    from_file: list[TransferProgress] = []
    sbx.files.write("/home/user/f.bin", io.BytesIO(b"y" * 10), on_progress=from_file.append)
    assert from_file[-1].bytes == 10
    text: list[TransferProgress] = []
    assert sbx.files.read("/home/user/f.bin", on_progress=text.append) == "y" * 10
    assert text[-1] == TransferProgress(10, 10)


def test_watch_and_progress_async(server: dict[str, str]) -> None:
    async def body() -> None:
        async with await AsyncSandbox.create(metadata=suite_metadata(test="async-watch")) as sbx:
            await sbx.files.mkdir("/home/user/aw")
            replay = Replay()
            seen = asyncio.Event()

            async def on_event(ev: WatchEvent) -> None:  # a coroutine callback
                replay(ev)
                if len(replay.paths) == 201:
                    seen.set()

            w = await sbx.files.watch("/home/user/aw", on_event)
            await sbx.commands.run("cd /home/user/aw && mkdir d && touch $(seq -f 'd/f%g' 0 199)")
            await asyncio.wait_for(seen.wait(), 20)
            await w.stop()
            assert not w.running
            with pytest.raises(paddock.NotFoundError):
                await sbx.files.watch("/home/user/nope", on_event)

            up: list[TransferProgress] = []

            async def chunks() -> AsyncIterator[bytes]:
                for i in range(8):
                    yield bytes([i]) * MiB

            await sbx.files.write("/home/user/a.bin", chunks(), on_progress=up.append, size_bytes=8 * MiB)
            assert up[-1] == TransferProgress(8 * MiB, 8 * MiB)
            down: list[TransferProgress] = []

            async def on_down(p: TransferProgress) -> None:
                down.append(p)

            data = await sbx.files.read("/home/user/a.bin", format="bytes", on_progress=on_down)
            assert len(data) == 8 * MiB and down[-1] == TransferProgress(8 * MiB, 8 * MiB)

    asyncio.run(body())
