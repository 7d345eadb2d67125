"""Named persistent volumes: ``AsyncVolume``."""

from __future__ import annotations

import builtins
from typing import Optional

from .._state_common import VolumeInfo
from .._transport import AsyncTransport, wait_for
from ..connection_config import ConnectionConfig
from ..models import parse_list


class AsyncVolume:
    """A named, size-capped volume that outlives sandboxes and server restarts.

    Example::

        await AsyncVolume.create("cache", size_mib=2048)
        await AsyncSandbox.create(volumes=[{"name": "cache", "path": "/mnt/cache"}])
    """

    @staticmethod
    async def _call(
        method: str,
        path: str,
        json: Optional[dict],
        api_url: Optional[str],
        api_key: Optional[str],
        request_timeout: Optional[float],
    ) -> object:
        transport = AsyncTransport(ConnectionConfig.resolve(api_url, api_key, request_timeout))
        try:
            return await transport.call(method, path, wait_for(transport.config, None), json=json)
        finally:
            await transport.close()

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
        json = {"name": name, "sizeMiB": size_mib}
        body = await AsyncVolume._call("POST", "/v1/volumes", json, api_url, api_key, request_timeout)
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
        body = await AsyncVolume._call("GET", f"/v1/volumes/{name}", None, api_url, api_key, request_timeout)
        return VolumeInfo.from_wire(body)

    @staticmethod
    async def list(
        *, api_url: Optional[str] = None, api_key: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> builtins.list[VolumeInfo]:
        """The volumes on the server."""
        body = await AsyncVolume._call("GET", "/v1/volumes", None, api_url, api_key, request_timeout)
        return parse_list(body, "volumes", VolumeInfo.from_wire)

    @staticmethod
    async def delete(
        name: str,
        *,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> None:
        """Deletes a volume and its data. Raises ConflictError while a sandbox mounts it."""
        await AsyncVolume._call("DELETE", f"/v1/volumes/{name}", None, api_url, api_key, request_timeout)
