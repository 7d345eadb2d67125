"""The user's callbacks: the async SDK also takes coroutine functions and awaits what they
return; the sync SDK calls plain functions. A hand-written pair (see python/tools/gen_sync.py):
generated sync code calls :func:`settle` where the async code awaits :func:`async_settle`.
"""

from __future__ import annotations

import inspect
from typing import Any


async def async_settle(returned: Any) -> None:
    """Awaits what a callback returned when it is awaitable (a coroutine function's call)."""
    if inspect.isawaitable(returned):
        await returned


def settle(returned: Any) -> None:
    """The sync twin of :func:`async_settle`: a sync callback has finished when it returns."""
