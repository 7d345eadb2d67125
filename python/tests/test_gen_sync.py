"""python/tools/gen_sync.py, which writes sandbox_sync/ from sandbox_async/: no server needed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import gen_sync  # noqa: E402 - python/tools is no package

ASYNC = '''"""Reads ``AsyncThing`` with ``await thing.get()``."""
import asyncio
from .._transport import AsyncTransport
from .._callbacks import async_settle


class AsyncThing:
    def __init__(self, transport: AsyncTransport) -> None:
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> "AsyncThing":
        return self

    async def state(self) -> str:
        # Example: ``(await sbx.get_info()).state``.
        async with self._lock:
            return (await self.get(1)).state

    async def lines(self, chunks) -> list:
        return [c async for c in chunks if await async_settle(c)]
'''

SYNC = '''"""Reads ``Thing`` with ``thing.get()``."""
import threading
from .._transport import SyncTransport
from .._callbacks import settle


class Thing:
    def __init__(self, transport: SyncTransport) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> "Thing":
        return self

    def state(self) -> str:
        # Example: ``sbx.get_info().state``.
        with self._lock:
            return self.get(1).state

    def lines(self, chunks) -> list:
        return [c for c in chunks if settle(c)]
'''


def test_unasync_rewrites_keywords_names_and_text() -> None:
    assert gen_sync.unasync(ASYNC, "x.py") == SYNC


def test_asyncio_without_a_twin_is_refused() -> None:
    with pytest.raises(gen_sync.GenerationError, match="create_task"):
        gen_sync.unasync("import asyncio\nasyncio.create_task(f())\n", "x.py")


def test_committed_sync_package_is_current() -> None:
    stale = [p.name for p, text in gen_sync.generated().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run `npm run gen:python`: {stale}"


def test_async_package_does_not_import_the_sync_one() -> None:
    for path in gen_sync.SOURCE.glob("*.py"):
        assert "sandbox_sync" not in path.read_text(), path.name
