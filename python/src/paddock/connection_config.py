"""How to reach the server: arguments first, then ``PADDOCK_URL`` / ``PADDOCK_API_KEY``.

Times are seconds (floats) here, as Python users expect; the wire speaks milliseconds and
:func:`seconds_to_ms` converts at the boundary.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional

DEFAULT_API_URL = "http://127.0.0.1:7070"
"""Where the server listens when neither ``api_url=`` nor ``PADDOCK_URL`` says otherwise."""

DEFAULT_REQUEST_TIMEOUT = 30.0
"""Seconds to wait for the server to answer one request."""

DEFAULT_COMMAND_TIMEOUT = 60.0
"""Seconds a command may run before it is killed (``commands.run(timeout=...)``)."""


def seconds_to_ms(seconds: float, option: str) -> int:
    """Converts a duration in seconds to the wire's whole milliseconds.

    Raises ``ValueError`` naming ``option`` for a negative, NaN or infinite value.

    Example::

        seconds_to_ms(1.5, "timeout")  # 1500
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{option} must be a number of seconds, not {type(seconds).__name__}")
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"{option} must be a finite number of seconds >= 0, got {seconds!r}")
    return int(round(seconds * 1000))


@dataclass(frozen=True)
class ConnectionConfig:
    """Resolved connection settings shared by a sandbox and its ``commands`` / ``files``.

    Attributes:
        api_url: server URL without a trailing slash.
        api_key: the API key sent as ``Authorization: Bearer KEY`` (None sends none).
        request_timeout: seconds to wait for one request; None waits forever.
    """

    api_url: str
    api_key: Optional[str]
    request_timeout: Optional[float]

    @classmethod
    def resolve(
        cls,
        api_url: Optional[str] = None,
        api_key: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> ConnectionConfig:
        """Settings from the arguments, then the environment, then the defaults.

        ``request_timeout`` is in seconds; ``None`` means the default (30 s) and ``0``
        waits forever.
        """
        url = api_url or os.environ.get("PADDOCK_URL") or DEFAULT_API_URL
        key = api_key if api_key is not None else (os.environ.get("PADDOCK_API_KEY") or None)
        return cls(url.rstrip("/"), key, cls.request_timeout_of(request_timeout, DEFAULT_REQUEST_TIMEOUT))

    @staticmethod
    def request_timeout_of(value: Optional[float], default: Optional[float]) -> Optional[float]:
        """The effective request timeout: ``default`` for None, no limit (None) for 0."""
        if value is None:
            return default
        seconds_to_ms(value, "request_timeout")  # validates
        return None if value == 0 else float(value)
