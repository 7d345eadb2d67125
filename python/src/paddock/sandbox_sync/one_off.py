# Generated from sandbox_async/one_off.py by python/tools/gen_sync.py — do not edit
"""Class-level calls (``Template.list()``, ``Volume.create()``, ``Sandbox.list()``, …):
one JSON request on a connection of its own, closed once the answer is read."""

from __future__ import annotations

from typing import Any, Optional

from .._transport import SyncTransport, Params, Wait, wait_for
from ..connection_config import ConnectionConfig


def one_off_call(
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
    transport = SyncTransport(config)
    try:
        return transport.call(method, path, wait, params=params, json=json)
    finally:
        transport.close()
