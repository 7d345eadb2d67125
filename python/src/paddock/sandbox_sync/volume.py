# Generated from sandbox_async/volume.py by python/tools/gen_sync.py — do not edit
"""Named persistent volumes: ``Volume``."""

from __future__ import annotations

import builtins
from typing import Optional

from .._state_common import VolumeInfo
from .._transport import SyncTransport, wait_for
from ..connection_config import ConnectionConfig
from ..models import parse_list


class Volume:
    """A named, size-capped volume that outlives sandboxes and server restarts.

    Example::

        Volume.create("cache", size_mib=2048)
        Sandbox.create(volumes=[{"name": "cache", "path": "/mnt/cache"}])
    """

    @staticmethod
    def _call(
        method: str,
        path: str,
        json: Optional[dict],
        api_url: Optional[str],
        api_key: Optional[str],
        request_timeout: Optional[float],
    ) -> object:
        transport = SyncTransport(ConnectionConfig.resolve(api_url, api_key, request_timeout))
        try:
            return transport.call(method, path, wait_for(transport.config, None), json=json)
        finally:
            transport.close()

    @staticmethod
    def create(
        name: str,
        *,
        size_mib: int,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> VolumeInfo:
        """Creates a volume. Raises ConflictError when the name is taken."""
        json = {"name": name, "sizeMiB": size_mib}
        body = Volume._call("POST", "/v1/volumes", json, api_url, api_key, request_timeout)
        return VolumeInfo.from_wire(body)

    @staticmethod
    def get_info(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> VolumeInfo:
        """One volume by name. Raises NotFoundError when there is none."""
        body = Volume._call("GET", f"/v1/volumes/{name}", None, api_url, api_key, request_timeout)
        return VolumeInfo.from_wire(body)

    @staticmethod
    def list(
        *, api_url: Optional[str] = None, api_key: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> builtins.list[VolumeInfo]:
        """The volumes on the server."""
        body = Volume._call("GET", "/v1/volumes", None, api_url, api_key, request_timeout)
        return parse_list(body, "volumes", VolumeInfo.from_wire)

    @staticmethod
    def delete(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> None:
        """Deletes a volume and its data. Raises ConflictError while a sandbox mounts it."""
        Volume._call("DELETE", f"/v1/volumes/{name}", None, api_url, api_key, request_timeout)
