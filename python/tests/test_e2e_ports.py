"""Exposed ports from Python (sync and async) against a real server."""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional
from urllib.parse import urlsplit

import httpx
import pytest

import paddock
from paddock import AsyncSandbox, Sandbox

from .conftest import suite_metadata

pytestmark = pytest.mark.e2e

SERVE = "cd /tmp && exec python3 -m http.server {port} --bind {host}"


def _wait_listening(sbx: Sandbox, port: int) -> None:
    deadline = time.monotonic() + 20
    while not any(p.port == port and p.listening for p in sbx.ports.list()):
        assert time.monotonic() < deadline, f"port {port} never listened"
        time.sleep(0.05)


def _get(
    server: dict[str, str], host: str, path: str = "/", headers: Optional[dict[str, str]] = None
) -> httpx.Response:
    # Everything goes to the Paddock server on loopback; the Host picks the sandbox and port.
    return httpx.get(server["url"] + path, headers={"host": host, **(headers or {})})


def test_ports_sync(server: dict[str, str], make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox()
    sbx.files.write("/tmp/hello.txt", "hi from the sandbox\n")
    sbx.commands.run(SERVE.format(port=3000, host="127.0.0.1"), background=True)
    _wait_listening(sbx, 3000)
    listed = [p for p in sbx.ports.list() if p.port == 3000]
    assert listed == [paddock.PortInfo(port=3000, listening=True, addresses=["127.0.0.1"], public=False)]

    url = sbx.ports.url(3000, expires_in=60)
    parts = urlsplit(url)
    assert parts.netloc == sbx.get_host(3000) == f"3000-{sbx.id}.localhost:{urlsplit(server['url']).port}"
    answer = _get(server, parts.netloc, f"/hello.txt?{parts.query}")
    assert answer.status_code == 200 and answer.text == "hi from the sandbox\n"
    assert "paddock_token=" in answer.headers.get("set-cookie", "")

    access = sbx.ports.access(3000)
    assert access.expires_at.timestamp() - time.time() > 3500
    by_headers = httpx.get(server["url"] + "/hello.txt", headers=access.headers)
    assert by_headers.status_code == 200

    assert _get(server, parts.netloc, "/hello.txt").status_code == 401
    assert _get(server, sbx.get_host(3001), "/", {"x-paddock-token": access.token}).status_code == 403
    sbx.ports.set_public(3000, True)
    assert _get(server, parts.netloc, "/hello.txt").status_code == 200
    assert [p.public for p in sbx.ports.list() if p.port == 3000] == [True]
    sbx.ports.set_public(3000, False)
    assert _get(server, parts.netloc, "/hello.txt").status_code == 401

    with pytest.raises(paddock.InvalidArgumentError, match="expiresInMs"):
        sbx.ports.url(3000, expires_in=0.5)
    with pytest.raises(ValueError, match="expires_in"):
        sbx.ports.url(3000, expires_in=-1)
    with pytest.raises(paddock.InvalidArgumentError, match="port"):
        sbx.ports.url(70000)
    not_open = _get(server, sbx.get_host(3999), "/", {"x-paddock-token": sbx.ports.access(3999).token})
    assert not_open.status_code == 502 and not_open.json()["code"] == "PORT_NOT_OPEN"
    assert isinstance(paddock.error_from_body(not_open.json(), 502), paddock.PortNotOpenError)


def test_ports_async(server: dict[str, str]) -> None:
    async def main() -> None:
        sbx = await AsyncSandbox.create(metadata=suite_metadata(test="ports-async"))
        try:
            await sbx.files.write("/tmp/a.txt", "async\n")
            await sbx.commands.run(SERVE.format(port=8000, host="0.0.0.0"), background=True)
            deadline = time.monotonic() + 20
            while not any(p.port == 8000 and p.listening for p in await sbx.ports.list()):
                assert time.monotonic() < deadline, "port 8000 never listened"
                await asyncio.sleep(0.05)
            access = await sbx.ports.access(8000)
            assert access.host == sbx.get_host(8000)
            async with httpx.AsyncClient() as client:
                answer = await client.get(server["url"] + "/a.txt", headers=access.headers)
            assert answer.status_code == 200 and answer.text == "async\n"
            await sbx.ports.set_public(8000, True)
            assert [p.public for p in await sbx.ports.list() if p.port == 8000] == [True]
            with pytest.raises(paddock.NotFoundError):
                await AsyncSandbox("zzzzzzzzzzzzzzzzzzzz", sbx._transport).ports.url(8000)
        finally:
            await sbx.kill()
            await sbx.close()

    asyncio.run(main())
