# Generated from sandbox_async/volume.py by python/tools/gen_sync.py — do not edit
"""Named persistent volumes: ``Volume``."""

from __future__ import annotations

import builtins
from typing import Optional

from .._state_common import VolumeInfo
from ..connection_config import ConnectionConfig
from ..models import parse_list
from .one_off import one_off_call


class Volume:
    """A named, size-capped volume that outlives sandboxes and server restarts.

    Example::

        Volume.create("cache", size_mib=2048)
        Sandbox.create(volumes=[{"name": "cache", "path": "/mnt/cache"}])
    """

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
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        body = one_off_call(config, "POST", "/v1/volumes", json={"name": name, "sizeMiB": size_mib})
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
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        return VolumeInfo.from_wire(one_off_call(config, "GET", f"/v1/volumes/{name}"))

    @staticmethod
    def list(
        *, api_url: Optional[str] = None, api_key: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> builtins.list[VolumeInfo]:
        """The volumes on the server."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        return parse_list(one_off_call(config, "GET", "/v1/volumes"), "volumes", VolumeInfo.from_wire)

    @staticmethod
    def delete(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> None:
        """Deletes a volume and its data. Raises ConflictError while a sandbox mounts it."""
        one_off_call(ConnectionConfig.resolve(api_url, api_key, request_timeout), "DELETE", f"/v1/volumes/{name}")
