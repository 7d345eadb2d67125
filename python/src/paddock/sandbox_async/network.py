"""A sandbox's network: ``sbx.network``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from .._network_common import NetworkStatus, network_path, update_body
from .._transport import AsyncTransport, wait_for


class AsyncSandboxNetwork:
    """Egress policy, address and refused attempts; the policy changes live.

    Example::

        sbx = await AsyncSandbox.create(network={"egress": "allowlist", "allow": ["api.example.com"]})
        await sbx.network.update(allow=["api.example.com", "203.0.113.0/24:443"])
        print((await sbx.network.get()).recent_denied)
    """

    def __init__(self, transport: AsyncTransport, sandbox_id: str) -> None:
        self._transport = transport
        self._sandbox_id = sandbox_id

    async def get(self, *, request_timeout: Optional[float] = None) -> NetworkStatus:
        """Policy, address, bandwidth cap and the attempts DNS, proxy or firewall refused."""
        wait = wait_for(self._transport.config, request_timeout)
        return NetworkStatus.from_wire(await self._transport.call("GET", network_path(self._sandbox_id), wait))

    async def update(
        self,
        *,
        egress: Optional[str] = None,
        allow: Optional[Sequence[str]] = None,
        request_timeout: Optional[float] = None,
    ) -> NetworkStatus:
        """Changes ``egress`` and/or ``allow`` now (``allow`` replaces the list).

        Raises:
            InvalidArgumentError: a bad mode or entry; the message names ``allow.<i>``.
            ConflictError: a gVisor sandbox created with egress ``none`` cannot be opened.
        """
        wait = wait_for(self._transport.config, request_timeout)
        body = await self._transport.call("PUT", network_path(self._sandbox_id), wait, json=update_body(egress, allow))
        return NetworkStatus.from_wire(body)
