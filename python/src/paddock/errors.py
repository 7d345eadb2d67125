"""Typed errors: one class per wire code of the registry (``ERROR_CODES`` in the protocol).

Every failed call raises a :class:`SandboxError` subclass whose ``code`` is the stable wire
code and whose message says what happened and what to change. The class names are the
TypeScript SDK's (``packages/sdk/src/errors.ts``); a test checks both against the registry.

Example::

    from paddock import Sandbox, NotFoundError
    try:
        Sandbox.connect("nope")
    except NotFoundError as e:
        print(e.code, e.status, e)
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Optional


class SandboxError(Exception):
    """Base of every error the SDK raises for a failed call.

    Attributes:
        code: the stable wire code, e.g. ``"NOT_FOUND"``.
        message: what happened and what to change.
        details: extra data the server sent (may be empty).
        status: the HTTP status of the response, when there was one.
    """

    code: str
    message: str
    details: dict[str, Any]
    status: Optional[int]

    def __init__(
        self,
        code: str,
        message: str,
        details: Optional[Mapping[str, Any]] = None,
        status: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.status = status

    def __str__(self) -> str:
        # Defined here because TimeoutError also inherits OSError, whose __str__ differs.
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidArgumentError(SandboxError):
    """A field of the request has a bad value; the message names it."""


class AuthenticationError(SandboxError):
    """The API key is missing or wrong (``api_key=`` or ``PADDOCK_API_KEY``)."""


class PermissionDeniedError(SandboxError):
    """The key or token does not allow this call."""


class NotFoundError(SandboxError):
    """The sandbox, template, file or process does not exist."""


class ConflictError(SandboxError):
    """The resource exists already or its state forbids the call."""


class SandboxNotRunningError(SandboxError):
    """The sandbox is killed, stopping or failed."""


class SandboxPausedError(SandboxError):
    """The sandbox is paused or hibernated: call ``resume()`` (or ``Sandbox.connect``), or
    create it with ``auto_resume=True`` so that calls resume it."""


class NotADirectoryError(SandboxError):  # noqa: A001 - the wire code's name, inside the paddock namespace
    """A directory operation was given a file."""


class IsADirectoryError(SandboxError):  # noqa: A001
    """A file operation was given a directory."""


class DiskFullError(SandboxError):
    """The sandbox's disk is full (its ``disk_mib`` cap was reached)."""


class PayloadTooLargeError(SandboxError):
    """The request body is larger than the server allows."""


class TimeoutError(SandboxError, builtins.TimeoutError):  # noqa: A001
    """The operation (or the request) did not finish in time.

    It is also a builtin :class:`TimeoutError`, so ``except TimeoutError`` without the
    paddock prefix catches it too.
    """


class RateLimitError(SandboxError):
    """A server-wide limit was reached; retry later."""


class TemplateBuildError(SandboxError):
    """A template build failed; the message names the package or step."""


class TemplateStartError(SandboxError):
    """A template's start command exited or was not ready in time; ``details["output"]`` has its last lines."""


class PortNotOpenError(SandboxError):
    """Nothing listens on the exposed port inside the sandbox (start a server on it first)."""


class UnavailableError(SandboxError):
    """The server or the sandbox's agent is not reachable right now."""


class InternalError(SandboxError):
    """An unexpected failure inside Paddock; the server log has the cause."""


ERROR_CLASSES: dict[str, type[SandboxError]] = {
    "INVALID_ARGUMENT": InvalidArgumentError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "CONFLICT": ConflictError,
    "SANDBOX_NOT_RUNNING": SandboxNotRunningError,
    "SANDBOX_PAUSED": SandboxPausedError,
    "NOT_A_DIRECTORY": NotADirectoryError,
    "IS_A_DIRECTORY": IsADirectoryError,
    "DISK_FULL": DiskFullError,
    "PAYLOAD_TOO_LARGE": PayloadTooLargeError,
    "TIMEOUT": TimeoutError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "TEMPLATE_BUILD_FAILED": TemplateBuildError,
    "TEMPLATE_START_FAILED": TemplateStartError,
    "PORT_NOT_OPEN": PortNotOpenError,
    "UNAVAILABLE": UnavailableError,
    "INTERNAL": InternalError,
}
"""The class of each wire code; a test checks it against the protocol's registry."""


def error_from_body(body: Any, status: Optional[int] = None) -> SandboxError:
    """The typed error for a wire error body ``{code, message, details?}``.

    An unknown or missing code becomes ``UNAUTHENTICATED`` for a 401 and ``INTERNAL``
    otherwise, as in the TypeScript SDK.
    """
    fields: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    raw_code = fields.get("code")
    if isinstance(raw_code, str) and raw_code in ERROR_CLASSES:
        code = raw_code
    else:
        code = "UNAUTHENTICATED" if status == 401 else "INTERNAL"
    message = fields.get("message")
    if not isinstance(message, str):
        message = f"request failed with HTTP {status if status is not None else '?'}"
    details = fields.get("details")
    return ERROR_CLASSES[code](code, message, details if isinstance(details, Mapping) else None, status)


class CommandExitError(Exception):
    """A command ended with a non-zero exit code.

    Raised by ``commands.run`` unless ``throw_on_error=False``; carries the whole result.
    Like the TypeScript SDK's, it is not a :class:`SandboxError`: the call itself worked.

    Example::

        try:
            sbx.commands.run("exit 3")
        except CommandExitError as e:
            assert e.exit_code == 3
    """

    exit_code: int
    stdout: str
    stderr: str
    signal: Optional[str]

    def __init__(self, exit_code: int, stdout: str, stderr: str, signal: Optional[str] = None) -> None:
        suffix = f" ({signal})" if signal else ""
        tail = f": {stderr[-500:]}" if stderr else ""
        super().__init__(f"command exited with code {exit_code}{suffix}{tail}")
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.signal = signal
