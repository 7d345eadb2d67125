"""The SDK of package ``sandbox_async``: :class:`AsyncSandbox`, its ``commands`` and ``files``,
:class:`AsyncTemplate` and :class:`AsyncVolume`."""

from .code_interpreter import AsyncCodeContexts
from .commands import AsyncCommands, AsyncCommandStream
from .files import AsyncFiles, AsyncFileStream
from .sandbox import AsyncSandbox
from .templates import AsyncTemplate
from .volume import AsyncVolume

__all__ = [
    "AsyncCodeContexts",
    "AsyncCommandStream",
    "AsyncCommands",
    "AsyncFileStream",
    "AsyncFiles",
    "AsyncSandbox",
    "AsyncTemplate",
    "AsyncVolume",
]
