"""The SDK of package ``sandbox_async``: :class:`AsyncSandbox` and its parts (``commands``, ``files``,
``pty``, ``ports``, ``network``, ``code_contexts``, watch handles), :class:`AsyncTemplate` and
:class:`AsyncVolume`. Its ``__all__`` is also what ``paddock`` exports of it."""

from .code_interpreter import AsyncCodeContexts
from .commands import AsyncCommands, AsyncCommandStream
from .files import AsyncFiles, AsyncFileStream
from .network import AsyncSandboxNetwork
from .ports import AsyncPorts
from .pty import AsyncPty, AsyncPtyHandle
from .sandbox import AsyncSandbox
from .templates import AsyncTemplate
from .volume import AsyncVolume
from .watch import AsyncWatchHandle

__all__ = [
    "AsyncCodeContexts",
    "AsyncCommandStream",
    "AsyncCommands",
    "AsyncFileStream",
    "AsyncFiles",
    "AsyncPorts",
    "AsyncPty",
    "AsyncPtyHandle",
    "AsyncSandbox",
    "AsyncSandboxNetwork",
    "AsyncTemplate",
    "AsyncVolume",
    "AsyncWatchHandle",
]
