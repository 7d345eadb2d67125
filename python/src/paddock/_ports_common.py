"""Wire shapes of exposed ports shared by the sync and async SDKs (``sbx.ports``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional
from urllib.parse import urlsplit

from .connection_config import seconds_to_ms
from .models import _NUMBER, _get, _mapping, _time


@dataclass(frozen=True)
class PortAccess:
    """A preview URL whose token opens one port of one sandbox until ``expires_at``."""

    url: str
    """``http://{port}-{id}.{domain}/?paddock_token=…``: open it in a browser."""
    token: str
    """Send as ``X-Paddock-Token``, the ``paddock_token`` query parameter or cookie."""
    expires_at: datetime
    host: str
    """``{port}-{id}.{domain}``: the Host that routes to the port."""
    headers: dict[str, str]
    """Header routing for clients without wildcard hosts: send these to the server's own URL."""

    @classmethod
    def from_wire(cls, value: Any) -> PortAccess:
        w, what = _mapping(value, "port access"), "port access"
        return cls(
            url=_get(w, "url", str, what),
            token=_get(w, "token", str, what),
            expires_at=_time(w, "expiresAt", what),
            host=_get(w, "host", str, what),
            headers={str(k): str(v) for k, v in _get(w, "headers", dict, what).items()},
        )


@dataclass(frozen=True)
class PortInfo:
    """One port of a sandbox: listening inside, made public, or both."""

    port: int
    listening: bool
    addresses: list[str]
    """Local addresses it listens on, e.g. ``0.0.0.0``, ``127.0.0.1``, ``::``."""
    public: bool
    """True when it needs no token."""

    @classmethod
    def from_wire(cls, value: Any) -> PortInfo:
        w, what = _mapping(value, "port info"), "port info"
        return cls(
            port=_get(w, "port", _NUMBER, what),
            listening=_get(w, "listening", bool, what),
            addresses=[str(a) for a in _get(w, "addresses", list, what)],
            public=_get(w, "public", bool, what),
        )


def ports_path(sandbox_id: str) -> str:
    return f"/v1/sandboxes/{sandbox_id}/ports"


def url_body(expires_in: Optional[float]) -> dict:
    """``{}`` or ``{"expiresInMs": …}`` (``expires_in`` is in seconds; the server's default is 1 hour)."""
    return {} if expires_in is None else {"expiresInMs": seconds_to_ms(expires_in, "expires_in")}


def host_of(api_url: str, sandbox_id: str, port: int) -> str:
    """``{port}-{id}.{domain}``: ``PADDOCK_DOMAIN``, else the server's host (``localhost:<port>`` on loopback)."""
    domain = os.environ.get("PADDOCK_DOMAIN")
    if not domain:
        url = urlsplit(api_url)
        server_port = url.port or (443 if url.scheme == "https" else 80)
        loopback = url.hostname in ("127.0.0.1", "::1", "localhost")
        domain = f"localhost:{server_port}" if loopback else url.netloc
    return f"{port}-{sandbox_id}.{domain}"
