"""The asynchronous SDK: :class:`AsyncSandbox`, its ``commands`` and ``files``, and :class:`AsyncTemplate`."""

from .code_interpreter import AsyncCodeContexts
from .commands import AsyncCommands, AsyncCommandStream
from .files import AsyncFiles, AsyncFileStream
from .sandbox import AsyncSandbox
from .templates import AsyncTemplate

__all__ = ["AsyncCodeContexts", "AsyncCommands", "AsyncCommandStream", "AsyncFiles", "AsyncFileStream", "AsyncSandbox", "AsyncTemplate"]
