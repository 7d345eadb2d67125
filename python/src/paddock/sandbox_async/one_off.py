"""Class-level calls (``AsyncTemplate.list()``, ``AsyncVolume.create()``, ``AsyncSandbox.list()``, …):
one JSON request on a connection of its own, closed once the answer is read."""

from __future__ import annotations

from typing import Any, Optional

from .._transport import AsyncTransport, Params, Wait, wait_for
from ..connection_config import ConnectionConfig


async def one_off_call(
    config: ConnectionConfig,
    method: str,
    path: str,
    *,
    wait: Optional[Wait] = None,
    params: Params = None,
    json: Any = None,
) -> Any:
    """Sends ``method path`` and returns the parsed answer (None for 204).

    ``wait`` defaults to the connection's ``request_timeout``.
    """
    wait = wait_for(config, None) if wait is None else wait
    transport = AsyncTransport(config)
    try:
        return await transport.call(method, path, wait, params=params, json=json)
    finally:
        await transport.close()
