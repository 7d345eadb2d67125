# Generated from sandbox_async/state.py by python/tools/gen_sync.py — do not edit
"""Pause, resume, hibernate, snapshot and fork: a mixin of ``Sandbox``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from .._state_common import SnapshotInfo, hibernate_body
from .._transport import SyncTransport, wait_for
from ..connection_config import ConnectionConfig
from ..models import SandboxInfo, parse_list
from .one_off import one_off_call


class SyncStateMixin:
    """State calls; the host class provides ``id`` and ``_transport``."""

    id: str
    _transport: SyncTransport

    def _state_call(self, verb: str, body: Any, request_timeout: Optional[float]) -> Any:
        # Hibernate and resume from disk take seconds on a loaded host: no request bound by default.
        wait = wait_for(self._transport.config, 0 if request_timeout is None else request_timeout)
        return self._transport.call("POST", f"/v1/sandboxes/{self.id}/{verb}", wait, json=body)

    def pause(self, *, request_timeout: Optional[float] = None) -> SandboxInfo:
        """Freezes every process in RAM (milliseconds to resume). Pausing twice is fine."""
        return SandboxInfo.from_wire(self._state_call("pause", {}, request_timeout))

    def resume(self, *, request_timeout: Optional[float] = None) -> SandboxInfo:
        """Brings a paused or hibernated sandbox back; resuming a running one is fine."""
        return SandboxInfo.from_wire(self._state_call("resume", {}, request_timeout))

    def hibernate(
        self, *, keep_memory: Optional[bool] = None, request_timeout: Optional[float] = None
    ) -> SandboxInfo:
        """Writes the sandbox to disk and frees its RAM. gVisor keeps memory and processes;
        ``container`` sandboxes need ``keep_memory=False`` (files only, processes restart).

        Raises:
            InvalidArgumentError: memory cannot be kept by this isolation (names ``keepMemory``).
        """
        return SandboxInfo.from_wire(self._state_call("hibernate", hibernate_body(keep_memory), request_timeout))

    def snapshot(self, name: str, *, request_timeout: Optional[float] = None) -> SnapshotInfo:
        """Saves the sandbox's filesystem as a template named ``name``.

        Raises:
            ConflictError: a template or snapshot has this name.
        """
        return SnapshotInfo.from_wire(self._state_call("snapshot", {"name": name}, request_timeout))


def fork_sandboxes(
    sandbox_id: str,
    count: int,
    metadata: Optional[Mapping[str, str]],
    config: ConnectionConfig,
    request_timeout: Optional[float],
) -> list[SandboxInfo]:
    """``POST /fork``: the infos of the new sandboxes."""
    body: dict = {"count": count}
    if metadata is not None:
        body["metadata"] = dict(metadata)
    wait = wait_for(config, 0 if request_timeout is None else request_timeout)
    answer = one_off_call(config, "POST", f"/v1/sandboxes/{sandbox_id}/fork", wait=wait, json=body)
    return parse_list(answer, "sandboxes", SandboxInfo.from_wire)
