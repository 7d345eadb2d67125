"""A sandbox's network from Python (sync and async): policy at create, live updates, DNS
answers of the host's resolver, refused attempts, and typed errors for bad input.

The test server has no uplink and asks no real DNS server, so nothing leaves the machine;
the resolver's answers for allow-listed names come from the host itself."""

from __future__ import annotations

import asyncio
from typing import Callable

import pytest

from paddock import AsyncSandbox, InvalidArgumentError, NetworkStatus, Sandbox
from paddock._wire import create_sandbox_body

from .conftest import suite_metadata

pytestmark = pytest.mark.e2e

LOOKUP = (
    "import socket, sys\n"
    "try: print(socket.gethostbyname(sys.argv[1]))\n"
    "except OSError as e: print('fail', type(e).__name__)"
)


def test_wire_body_carries_network() -> None:
    network = {"egress": "allowlist", "allow": ("a.test", "1.2.3.0/24:443"), "bandwidth_mbit": 10}
    body = create_sandbox_body(network=network)
    assert body == {"network": {"egress": "allowlist", "allow": ["a.test", "1.2.3.0/24:443"], "bandwidthMbit": 10}}


def test_network_sync(server: dict[str, str], make_sandbox: Callable[..., Sandbox]) -> None:
    sbx = make_sandbox(network={"egress": "allowlist", "allow": ["allowed.test", "*.allowed.test"]})
    info = sbx.get_info()
    assert info.network is not None and info.network["egress"] == "allowlist"
    address = info.network["address"]
    host_address = address.rsplit(".", 1)[0] + "." + str(int(address.rsplit(".", 1)[1]) - 1)
    sbx.files.write("/tmp/lookup.py", LOOKUP)
    assert sbx.commands.run("python3 /tmp/lookup.py api.allowed.test").stdout.strip() == host_address
    assert sbx.commands.run("python3 /tmp/lookup.py denied.test").stdout.startswith("fail")
    status = sbx.network.get()
    assert isinstance(status, NetworkStatus)
    assert status.allow == ["allowed.test", "*.allowed.test"]
    assert any(d.layer == "dns" and d.target == "denied.test" for d in status.recent_denied)
    assert status.denied_total >= 1
    updated = sbx.network.update(allow=["allowed.test", "denied.test"])
    assert updated.allow == ["allowed.test", "denied.test"]
    assert sbx.commands.run("python3 /tmp/lookup.py denied.test").stdout.strip() == host_address
    with pytest.raises(InvalidArgumentError, match=r"allow\.0.*0-32"):
        sbx.network.update(allow=["10.0.0.0/40"])


def test_bad_network_on_create(server: dict[str, str]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"network\.allow\.1.*IPv6 egress is not supported"):
        Sandbox.create(network={"egress": "allowlist", "allow": ["ok.test", "2001:db8::1"]}, metadata=suite_metadata())
    with pytest.raises(InvalidArgumentError, match=r"network\.egress"):
        Sandbox.create(network={"egress": "sometimes"}, metadata=suite_metadata())
    with pytest.raises(InvalidArgumentError, match=r"network\.bandwidthMbit"):
        Sandbox.create(network={"bandwidth_mbit": -5}, metadata=suite_metadata())


def test_network_async(server: dict[str, str]) -> None:
    async def main() -> None:
        sbx = await AsyncSandbox.create(network={"egress": "none"}, metadata=suite_metadata(test="network-async"))
        try:
            before = await sbx.network.get()
            assert before.egress == "none" and before.address is not None
            after = await sbx.network.update(egress="allowlist", allow=["allowed.test"])
            assert after.egress == "allowlist" and after.allow == ["allowed.test"]
            await sbx.files.write("/tmp/lookup.py", LOOKUP)
            result = await sbx.commands.run("python3 /tmp/lookup.py allowed.test")
            assert result.stdout.strip() != "" and not result.stdout.startswith("fail")
        finally:
            await sbx.kill()
            await sbx.close()

    asyncio.run(main())
