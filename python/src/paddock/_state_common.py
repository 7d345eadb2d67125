"""Wire shapes of stateful sandboxes shared by the sync and async SDKs: snapshots, volumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from .models import _NUMBER, _get, _mapping, _time

PAUSED_STATES = ("pausing", "paused", "hibernating", "hibernated", "resuming")


def hibernate_body(keep_memory: Optional[bool]) -> dict:
    """``{}`` or ``{"keepMemory": …}``: crun sandboxes need ``keep_memory=False``."""
    return {} if keep_memory is None else {"keepMemory": keep_memory}


@dataclass(frozen=True)
class SnapshotInfo:
    """A sandbox's filesystem saved as a template (``Sandbox.create(template=name)``)."""

    name: str
    sandbox_id: str
    base_template: str
    size_bytes: int
    created_at: datetime

    @classmethod
    def from_wire(cls, value: Any) -> SnapshotInfo:
        w, what = _mapping(value, "snapshot info"), "snapshot info"
        return cls(
            name=_get(w, "name", str, what),
            sandbox_id=_get(w, "sandboxId", str, what),
            base_template=_get(w, "baseTemplate", str, what),
            size_bytes=_get(w, "sizeBytes", _NUMBER, what),
            created_at=_time(w, "createdAt", what),
        )


@dataclass(frozen=True)
class VolumeInfo:
    """A named persistent volume and the sandboxes that mount it."""

    name: str
    size_mib: int
    created_at: datetime
    used_by: list[str]

    @classmethod
    def from_wire(cls, value: Any) -> VolumeInfo:
        w, what = _mapping(value, "volume info"), "volume info"
        return cls(
            name=_get(w, "name", str, what),
            size_mib=_get(w, "sizeMiB", _NUMBER, what),
            created_at=_time(w, "createdAt", what),
            used_by=list(_get(w, "usedBy", list, what)),
        )
