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

from . import (
    sandbox_async,
    sandbox_sync,
    volume,  # noqa: F401 (``paddock.volume`` is imported with the package, as it always was)
)
from ._code_common import CodeContext, Execution, ExecutionError, Logs, Result
from ._network_common import DeniedAttempt, NetworkStatus
from ._ports_common import PortAccess, PortInfo
from ._pty_common import PtyInfo
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
    TemplateStartError,
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

# The async API and its generated sync twin: each package's __all__ says what it exports.
from .sandbox_async import *  # noqa: F403
from .sandbox_sync import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    "CodeContext",
    "Execution",
    "ExecutionError",
    "Logs",
    "Result",
    "DeniedAttempt",
    "NetworkStatus",
    "PortAccess",
    "PortInfo",
    "PtyInfo",
    "SnapshotInfo",
    "VolumeInfo",
    "TransferProgress",
    "WatchEvent",
    "ConnectionConfig",
    "ERROR_CLASSES",
    "AuthenticationError",
    "CommandExitError",
    "ConflictError",
    "DiskFullError",
    "InternalError",
    "InvalidArgumentError",
    "IsADirectoryError",
    "NotADirectoryError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PortNotOpenError",
    "RateLimitError",
    "SandboxError",
    "SandboxNotRunningError",
    "SandboxPausedError",
    "TemplateBuildError",
    "TemplateStartError",
    "TimeoutError",
    "UnavailableError",
    "error_from_body",
    "CommandEvent",
    "CommandExit",
    "CommandOutput",
    "CommandResult",
    "CommandStart",
    "FileInfo",
    "ReasonCode",
    "SandboxInfo",
    "TemplateBuildEvent",
    "TemplateBuildLog",
    "TemplateBuildProgress",
    "TemplateBuildResult",
    "TemplateInfo",
]
__all__ += sandbox_async.__all__
__all__ += sandbox_sync.__all__
