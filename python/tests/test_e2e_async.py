"""The async SDK against a real server. Each test drives its coroutine with ``asyncio.run``
(Debian's pytest-asyncio is old, and this keeps the suite on plain pytest)."""

from __future__ import annotations

import asyncio
import builtins
import hashlib
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

import paddock
from paddock import AsyncSandbox, AsyncTemplate

from .conftest import suite_metadata
from .test_e2e_sync import MiB, pattern_chunks

pytestmark = pytest.mark.e2e


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    """Runs an async test body to completion."""
    return asyncio.run(test())  # type: ignore[arg-type]


async def create(test: str, **options: Any) -> AsyncSandbox:
    """An async sandbox tagged with this run's metadata (the caller kills it)."""
    metadata = suite_metadata(test=test, **options.pop("metadata", {}))
    return await AsyncSandbox.create(metadata=metadata, **options)


def test_commands(server: dict[str, str]) -> None:
    async def body() -> None:
        async with await create("async-commands", env={"FOO": "bar"}) as sbx:
            r = await sbx.commands.run("python3 -c 'print(6*7)'")
            assert (r.exit_code, r.stdout) == (0, "42\n")

            seen: list[str] = []

            async def on_stdout(data: str) -> None:  # a coroutine callback
                seen.append(data)

            r = await sbx.commands.run(
                ["sh", "-c", "pwd; id -un; echo $FOO $BAR; cat"],
                cwd="/tmp", user="root", envs={"BAR": "b"}, stdin="in", on_stdout=on_stdout,
            )  # fmt: skip
            assert r.stdout == "/tmp\nroot\nbar b\nin" == "".join(seen)

            with pytest.raises(paddock.CommandExitError) as info:
                await sbx.commands.run("echo err >&2; exit 3")
            assert (info.value.exit_code, info.value.stderr) == (3, "err\n")
            assert (await sbx.commands.run("exit 5", throw_on_error=False)).exit_code == 5

            events = [ev async for ev in sbx.commands.stream("echo a; echo b >&2")]
            assert isinstance(events[0], paddock.CommandStart)
            assert isinstance(events[-1], paddock.CommandExit) and events[-1].exit_code == 0
            outputs = {(e.type, e.data, e.bytes, e.offset) for e in events if isinstance(e, paddock.CommandOutput)}
            assert outputs == {("stdout", "a\n", b"a\n", 0), ("stderr", "b\n", b"b\n", 0)}

            async with await sbx.commands.stream("echo ready; sleep 60", timeout=0) as stream:
                async for ev in stream:
                    if isinstance(ev, paddock.CommandOutput):
                        break

            with pytest.raises(paddock.TimeoutError, match="timeout=1") as timeout_info:
                await sbx.commands.run("sleep 30", timeout=1)
            assert isinstance(timeout_info.value, builtins.TimeoutError)

    run(body)


def test_files(server: dict[str, str]) -> None:
    async def big_upload(sink: hashlib._Hash) -> AsyncIterator[bytes]:
        for chunk in pattern_chunks(64 * MiB, 3, sink):
            yield chunk

    async def body() -> None:
        async with await create("async-files") as sbx:
            f = sbx.files
            assert (await f.write("/home/user/a.txt", b"hi")).size_bytes == 2
            assert await f.read("/home/user/a.txt") == "hi"
            assert await f.read("/home/user/a.txt", format="bytes") == b"hi"

            sent = hashlib.sha256()
            info = await f.write("/home/user/big.bin", big_upload(sent))
            assert info.size_bytes == 64 * MiB
            got = hashlib.sha256()
            async with await f.read("/home/user/big.bin", format="stream") as chunks:
                async for chunk in chunks:
                    got.update(chunk)
            assert got.hexdigest() == sent.hexdigest()

            await f.mkdir("/home/user/d/sub")
            await f.write("/home/user/d/x.txt", "x")
            assert [e.name for e in await f.list("/home/user/d")] == ["sub", "x.txt"]
            assert (await f.stat("/home/user/d")).type == "dir"
            assert await f.exists("/home/user/d/x.txt") and not await f.exists("/home/user/d/nope")
            assert (await f.rename("/home/user/d/x.txt", "/home/user/d/y.txt")).name == "y.txt"
            await f.remove("/home/user/d")
            assert not await f.exists("/home/user/d")

            with pytest.raises(paddock.InvalidArgumentError):
                await f.read("relative")
            with pytest.raises(paddock.IsADirectoryError):
                await f.read("/home/user")

    run(body)


def test_disk_full_keeps_earlier_files(server: dict[str, str]) -> None:
    async def body() -> None:
        async with await create("async-disk-full", disk_mib=64) as sbx:
            await sbx.files.write("/home/user/keep.txt", "kept")
            try:
                with pytest.raises(paddock.DiskFullError):
                    chunks = pattern_chunks(128 * MiB, 4, hashlib.sha256())
                    await sbx.files.write("/home/user/huge.bin", chunks, request_timeout=15)
            finally:
                assert await sbx.files.read("/home/user/keep.txt") == "kept"

    run(body)


def test_lifecycle(server: dict[str, str]) -> None:
    async def body() -> None:
        sbx = await create("async-lifecycle", timeout=300, memory_mib=256, metadata={"agent": "a2"})
        try:
            listed = await AsyncSandbox.list(metadata=suite_metadata(agent="a2"), state=["running"])
            assert [i.id for i in listed] == [sbx.id]
            other = await AsyncSandbox.connect(sbx.id)
            try:
                assert (await other.get_info()).memory_mib == 256
                before = datetime.now(timezone.utc)
                updated = await other.set_timeout(600)
                assert before + timedelta(seconds=590) < updated.expires_at < before + timedelta(seconds=620)
            finally:
                await other.close()
            assert await sbx.is_running()
            assert await sbx.kill() is True
            assert await sbx.kill() in (True, False)  # killing twice is fine
            assert await AsyncSandbox.kill("a" * 20) is False
        finally:
            await sbx.kill()
            await sbx.close()

    run(body)


def test_templates_and_bad_input(server: dict[str, str]) -> None:
    async def body() -> None:
        assert "base" in [t.name for t in await AsyncTemplate.list()]
        with pytest.raises(paddock.NotFoundError, match="no-such-template"):
            await AsyncSandbox.create(template="no-such-template", metadata=suite_metadata())
        with pytest.raises(paddock.InvalidArgumentError, match="memoryMiB"):
            await AsyncSandbox.create(memory_mib=0, metadata=suite_metadata())
        with pytest.raises(paddock.NotFoundError):
            await AsyncSandbox.connect("a" * 20)
        with pytest.raises(paddock.AuthenticationError):
            await AsyncSandbox.list(api_key="pdk_wrong")

    run(body)


def test_template_build(server: dict[str, str]) -> None:
    from .test_e2e_sync import BASE_SPEC

    async def body() -> None:
        name = f"py-async-{suite_metadata()['suite'][-8:]}"
        seen: list[Any] = []

        async def on_event(event: Any) -> None:
            seen.append(event)

        try:
            result = await AsyncTemplate.build(name, BASE_SPEC, on_event=on_event)
            assert result.template.name == name and seen[-1] == result
            assert (await AsyncTemplate.get(name)).name == name
        finally:
            await AsyncTemplate.remove(name)
        with pytest.raises(paddock.TemplateBuildError):
            await AsyncTemplate.build(f"{name}-bad", {"packages": ["no-such-package-zzz"]})

    run(body)
