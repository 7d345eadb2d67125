"""Named persistent volumes: ``Volume`` (sync) and ``AsyncVolume``, kept importable from
here; they live in ``sandbox_sync/volume.py`` and ``sandbox_async/volume.py``."""

from .sandbox_async.volume import AsyncVolume
from .sandbox_sync.volume import Volume

__all__ = ["AsyncVolume", "Volume"]
