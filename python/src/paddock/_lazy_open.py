"""Streams that send their request on first use, in an async and a sync half (a hand-written
pair, see python/tools/gen_sync.py). First use is entering the stream's ``with`` block, its
first iteration step, or (async only, where a plain call cannot send anything) awaiting it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

Self = TypeVar("Self", bound="AsyncLazyOpen")


class AsyncLazyOpen:
    """Base of an async stream opened by ``_open``; ``await stream`` opens it and returns it,
    so that an error such as an unknown sandbox surfaces at the ``await``."""

    async def _open(self) -> None:
        raise NotImplementedError

    def __await__(self: Self) -> Generator[Any, None, Self]:
        async def opened() -> Self:
            await self._open()
            return self

        return opened().__await__()


class LazyOpen:
    """Base of a sync stream opened by ``_open`` (on ``with`` or the first ``next``)."""

    def _open(self) -> None:
        raise NotImplementedError
