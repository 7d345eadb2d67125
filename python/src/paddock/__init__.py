"""Paddock Python SDK: isolated code sandboxes for AI agents, sync and async.

The nouns are the TypeScript SDK's (``@paddock/sdk``) in snake_case. Times are seconds:
``timeout=`` is the lifetime of what you start (a sandbox, a command) and
``request_timeout=`` the wait for one request to the server.

Example::

    from paddock import Sandbox
    with Sandbox.create(template="base", timeout=300) as sbx:
        print(sbx.commands.run("python3 -c 'print(6*7)'").stdout)   # 42
        sbx.files.write("/home/user/a.txt", "hi")

    from paddock import AsyncSandbox
    async with await AsyncSandbox.create() as sbx:
        r = await sbx.commands.run("echo hi")
"""

from ._code_common import CodeContext, Execution, ExecutionError, Logs, Result
from ._state_common import SnapshotInfo, VolumeInfo
from ._watch_common import TransferProgress, WatchEvent
from .connection_config import ConnectionConfig
from .errors import (
    ERROR_CLASSES,
    AuthenticationError,
    CommandExitError,
    ConflictError,
    DiskFullError,
    InternalError,
    InvalidArgumentError,
    IsADirectoryError,
    NotADirectoryError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PortNotOpenError,
    RateLimitError,
    SandboxError,
    SandboxNotRunningError,
    SandboxPausedError,
    TemplateBuildError,
    TimeoutError,
    UnavailableError,
    error_from_body,
)
from .models import (
    CommandEvent,
    CommandExit,
    CommandOutput,
    CommandResult,
    CommandStart,
    FileInfo,
    ReasonCode,
    SandboxInfo,
    TemplateBuildEvent,
    TemplateBuildLog,
    TemplateBuildProgress,
    TemplateBuildResult,
    TemplateInfo,
)
from .sandbox_async import (
    AsyncCodeContexts,
    AsyncCommands,
    AsyncCommandStream,
    AsyncFiles,
    AsyncFileStream,
    AsyncSandbox,
    AsyncTemplate,
)
from .sandbox_async.watch import AsyncWatchHandle
from .sandbox_sync import CodeContexts, Commands, CommandStream, Files, FileStream, Sandbox, Template
from .sandbox_sync.watch import WatchHandle
from .volume import AsyncVolume, Volume

__version__ = "0.1.0"

__all__ = [
    "AsyncWatchHandle",
    "TransferProgress",
    "WatchEvent",
    "WatchHandle",
    "AsyncVolume",
    "SnapshotInfo",
    "Volume",
    "VolumeInfo",
    "AsyncCodeContexts",
    "CodeContext",
    "CodeContexts",
    "Execution",
    "ExecutionError",
    "Logs",
    "Result",
    "AsyncCommandStream",
    "AsyncCommands",
    "AsyncFileStream",
    "AsyncFiles",
    "AsyncSandbox",
    "AsyncTemplate",
    "AuthenticationError",
    "CommandEvent",
    "CommandExit",
    "CommandExitError",
    "CommandOutput",
    "CommandResult",
    "CommandStart",
    "CommandStream",
    "Commands",
    "ConflictError",
    "ConnectionConfig",
    "DiskFullError",
    "ERROR_CLASSES",
    "FileInfo",
    "FileStream",
    "Files",
    "InternalError",
    "InvalidArgumentError",
    "IsADirectoryError",
    "NotADirectoryError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PortNotOpenError",
    "RateLimitError",
    "ReasonCode",
    "Sandbox",
    "SandboxError",
    "SandboxInfo",
    "SandboxNotRunningError",
    "SandboxPausedError",
    "Template",
    "TemplateBuildError",
    "TemplateBuildEvent",
    "TemplateBuildLog",
    "TemplateBuildProgress",
    "TemplateBuildResult",
    "TemplateInfo",
    "TimeoutError",
    "UnavailableError",
    "error_from_body",
]

# Terminals (PTY sessions): sbx.pty in both SDKs.
from ._pty_common import PtyInfo  # noqa: E402
from .sandbox_async.pty import AsyncPty, AsyncPtyHandle  # noqa: E402
from .sandbox_sync.pty import Pty, PtyHandle  # noqa: E402

__all__ += ["AsyncPty", "AsyncPtyHandle", "Pty", "PtyHandle", "PtyInfo"]

# Exposed ports: sbx.ports in both SDKs.
from ._ports_common import PortAccess, PortInfo  # noqa: E402
from .sandbox_async.ports import AsyncPorts  # noqa: E402
from .sandbox_sync.ports import Ports  # noqa: E402

__all__ += ["AsyncPorts", "PortAccess", "PortInfo", "Ports"]

# Each sandbox's network: egress policy, live updates, refused attempts.
from ._network_common import DeniedAttempt, NetworkStatus  # noqa: E402
from .sandbox_async.network import AsyncSandboxNetwork  # noqa: E402
from .sandbox_sync.network import SandboxNetwork  # noqa: E402

__all__ += ["AsyncSandboxNetwork", "DeniedAttempt", "NetworkStatus", "SandboxNetwork"]
