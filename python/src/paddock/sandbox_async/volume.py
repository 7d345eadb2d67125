"""Named persistent volumes: ``AsyncVolume``."""

from __future__ import annotations

import builtins
from typing import Optional

from .._state_common import VolumeInfo
from ..connection_config import ConnectionConfig
from ..models import parse_list
from .one_off import one_off_call


class AsyncVolume:
    """A named, size-capped volume that outlives sandboxes and server restarts.

    Example::

        await AsyncVolume.create("cache", size_mib=2048)
        await AsyncSandbox.create(volumes=[{"name": "cache", "path": "/mnt/cache"}])
    """

    @staticmethod
    async def create(
        name: str,
        *,
        size_mib: int,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> VolumeInfo:
        """Creates a volume. Raises ConflictError when the name is taken."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        body = await one_off_call(config, "POST", "/v1/volumes", json={"name": name, "sizeMiB": size_mib})
        return VolumeInfo.from_wire(body)

    @staticmethod
    async def get_info(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> VolumeInfo:
        """One volume by name. Raises NotFoundError when there is none."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        return VolumeInfo.from_wire(await one_off_call(config, "GET", f"/v1/volumes/{name}"))

    @staticmethod
    async def list(
        *, api_url: Optional[str] = None, api_key: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> builtins.list[VolumeInfo]:
        """The volumes on the server."""
        config = ConnectionConfig.resolve(api_url, api_key, request_timeout)
        return parse_list(await one_off_call(config, "GET", "/v1/volumes"), "volumes", VolumeInfo.from_wire)

    @staticmethod
    async def delete(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> None:
        """Deletes a volume and its data. Raises ConflictError while a sandbox mounts it."""
        await one_off_call(ConnectionConfig.resolve(api_url, api_key, request_timeout), "DELETE", f"/v1/volumes/{name}")
