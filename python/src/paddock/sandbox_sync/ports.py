# Generated from sandbox_async/ports.py by python/tools/gen_sync.py — do not edit
"""Exposed ports of a sandbox: ``sbx.ports``."""

from __future__ import annotations

import builtins
from typing import Optional

from .._ports_common import PortAccess, PortInfo, host_of, ports_path, url_body
from .._transport import SyncTransport, wait_for
from ..models import parse_list


class Ports:
    """Every TCP port a sandbox listens on is reachable through the server at
    ``http://{port}-{id}.{domain}``, with a token scoped to that port that expires, or
    without one once made public.

    Example::

        sbx.commands.run("python3 -m http.server 3000", background=True)
        url = sbx.ports.url(3000, expires_in=3600)
        sbx.ports.set_public(3000, True)
    """

    def __init__(self, transport: SyncTransport, sandbox_id: str) -> None:
        self._transport = transport
        self._sandbox_id = sandbox_id

    def url(
        self, port: int, *, expires_in: Optional[float] = None, request_timeout: Optional[float] = None
    ) -> str:
        """A preview URL that opens ``port`` for ``expires_in`` seconds (default 1 hour).

        Raises:
            InvalidArgumentError: ``port`` outside 1–65535 or a bad ``expiresInMs``.
        """
        return self.access(port, expires_in=expires_in, request_timeout=request_timeout).url

    def access(
        self, port: int, *, expires_in: Optional[float] = None, request_timeout: Optional[float] = None
    ) -> PortAccess:
        """Like :meth:`url`, with the token, its expiry, the Host and the routing headers."""
        wait = wait_for(self._transport.config, request_timeout)
        path = f"{ports_path(self._sandbox_id)}/{port}/url"
        body = self._transport.call("POST", path, wait, json=url_body(expires_in))
        return PortAccess.from_wire(body)

    def set_public(self, port: int, public: bool, *, request_timeout: Optional[float] = None) -> None:
        """Makes ``port`` reachable without a token (``True``) or needing one again (``False``)."""
        wait = wait_for(self._transport.config, request_timeout)
        self._transport.call("PUT", f"{ports_path(self._sandbox_id)}/{port}", wait, json={"public": public})

    def list(self, *, request_timeout: Optional[float] = None) -> builtins.list[PortInfo]:
        """The ports listening inside the sandbox (and the public ones)."""
        wait = wait_for(self._transport.config, request_timeout)
        answer = self._transport.call("GET", ports_path(self._sandbox_id), wait)
        return parse_list(answer, "ports", PortInfo.from_wire)

    def host(self, port: int) -> str:
        """The Host that routes to ``port``: ``{port}-{id}.{domain}``."""
        return host_of(self._transport.config.api_url, self._sandbox_id, port)
