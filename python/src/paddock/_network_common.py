"""Wire shapes of a sandbox's network shared by the sync and async SDKs (``sbx.network``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .models import _NUMBER, _get, _mapping, _opt


@dataclass(frozen=True)
class DeniedAttempt:
    """One refused connection or lookup."""

    at: str
    """ISO-8601 time."""
    layer: str
    """``dns``, ``proxy`` or ``firewall``: which layer refused it."""
    target: str
    """The name or address the sandbox tried."""
    reason: str
    port: Optional[int] = None

    @classmethod
    def from_wire(cls, value: Any) -> DeniedAttempt:
        w, what = _mapping(value, "denied attempt"), "denied attempt"
        return cls(
            at=_get(w, "at", str, what),
            layer=_get(w, "layer", str, what),
            target=_get(w, "target", str, what),
            reason=_get(w, "reason", str, what),
            port=_opt(w, "port", int, what),
        )


@dataclass(frozen=True)
class NetworkStatus:
    """A sandbox's egress policy, address, bandwidth cap and recently refused attempts."""

    egress: str
    """``none``, ``open`` or ``allowlist``."""
    allow: list[str]
    bandwidth_mbit: float
    """Cap per direction in Mbit/s; 0 = none."""
    denied_total: int
    recent_denied: list[DeniedAttempt]
    address: Optional[str] = None
    """The sandbox's IPv4 address (absent for a gVisor sandbox with egress ``none``)."""

    @classmethod
    def from_wire(cls, value: Any) -> NetworkStatus:
        w, what = _mapping(value, "network status"), "network status"
        return cls(
            egress=_get(w, "egress", str, what),
            allow=[str(a) for a in _get(w, "allow", list, what)],
            bandwidth_mbit=_get(w, "bandwidthMbit", _NUMBER, what),
            denied_total=int(_get(w, "deniedTotal", _NUMBER, what)),
            recent_denied=[DeniedAttempt.from_wire(d) for d in _get(w, "recentDenied", list, what)],
            address=_opt(w, "address", str, what),
        )


def network_path(sandbox_id: str) -> str:
    return f"/v1/sandboxes/{sandbox_id}/network"


def update_body(egress: Optional[str], allow: Optional[Sequence[str]]) -> dict[str, Any]:
    """The ``UpdateNetworkRequest`` body; ``allow`` replaces the whole list."""
    body: dict[str, Any] = {}
    if egress is not None:
        body["egress"] = egress
    if allow is not None:
        body["allow"] = list(allow)
    return body
