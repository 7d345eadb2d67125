"""The asynchronous SDK: :class:`AsyncSandbox`, its ``commands`` and ``files``, and :class:`AsyncTemplate`."""

from .commands import AsyncCommands, AsyncCommandStream
from .files import AsyncFiles, AsyncFileStream
from .sandbox import AsyncSandbox
from .templates import AsyncTemplate

__all__ = ["AsyncCommands", "AsyncCommandStream", "AsyncFiles", "AsyncFileStream", "AsyncSandbox", "AsyncTemplate"]
