import { type ErrorBody, type ErrorCode, isErrorCode } from '@paddock/protocol';

/**
 * Base of every error the SDK throws for a failed call. `code` is the stable wire code;
 * `message` says what happened and what to change.
 *
 * @example
 * ```ts
 * try { await Sandbox.connect('nope') } catch (e) { if (e instanceof NotFoundError) … }
 * ```
 */
export class SandboxError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** HTTP status of the response, when there was one. */
  readonly status: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { details?: Record<string, unknown>; status?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
    this.status = options?.status;
  }
}

/** A field of the request has a bad value; the message names it. */
export class InvalidArgumentError extends SandboxError {}
/** The API key is missing or wrong (`PADDOCK_API_KEY`). */
export class AuthenticationError extends SandboxError {}
/** The key or token does not allow this call. */
export class PermissionDeniedError extends SandboxError {}
/** The sandbox, template, file or process does not exist. */
export class NotFoundError extends SandboxError {}
/** The resource exists already or its state forbids the call. */
export class ConflictError extends SandboxError {}
/** The sandbox is killed, stopping or failed. */
export class SandboxNotRunningError extends SandboxError {}
/**
 * The sandbox is paused or hibernated: call `resume()` (or `Sandbox.connect`), or create it
 * with `autoResume: true` so that calls resume it.
 */
export class SandboxPausedError extends SandboxError {}
/** A directory operation was given a file. */
export class NotADirectoryError extends SandboxError {}
/** A file operation was given a directory. */
export class IsADirectoryError extends SandboxError {}
/** The sandbox's disk is full (its `diskMiB` cap was reached). */
export class DiskFullError extends SandboxError {}
/** The request body is larger than the server allows. */
export class PayloadTooLargeError extends SandboxError {}
/** The operation (or the request) did not finish in time. */
export class TimeoutError extends SandboxError {}
/** A server-wide limit was reached; retry later. */
export class RateLimitError extends SandboxError {}
/** A template build failed; the message names the package or step. */
export class TemplateBuildError extends SandboxError {}
/** A template's start command exited or was not ready in time; `details.output` has its last lines. */
export class TemplateStartError extends SandboxError {}
/** Nothing listens on the exposed port inside the sandbox (start a server on it first). */
export class PortNotOpenError extends SandboxError {}
/** The server or the sandbox's agent is not reachable right now. */
export class UnavailableError extends SandboxError {}
/** An unexpected failure inside Paddock; the server log has the cause. */
export class InternalError extends SandboxError {}

/** Every wire code has its class: adding a code to the registry without one does not compile. */
export const ERROR_CLASSES = {
  INVALID_ARGUMENT: InvalidArgumentError,
  UNAUTHENTICATED: AuthenticationError,
  PERMISSION_DENIED: PermissionDeniedError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  SANDBOX_NOT_RUNNING: SandboxNotRunningError,
  SANDBOX_PAUSED: SandboxPausedError,
  NOT_A_DIRECTORY: NotADirectoryError,
  IS_A_DIRECTORY: IsADirectoryError,
  DISK_FULL: DiskFullError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  TIMEOUT: TimeoutError,
  RESOURCE_EXHAUSTED: RateLimitError,
  TEMPLATE_BUILD_FAILED: TemplateBuildError,
  TEMPLATE_START_FAILED: TemplateStartError,
  PORT_NOT_OPEN: PortNotOpenError,
  UNAVAILABLE: UnavailableError,
  INTERNAL: InternalError,
} as const satisfies Record<ErrorCode, typeof SandboxError>;

/** The typed error for a wire error body. */
export function errorFromBody(body: Partial<ErrorBody> | undefined, status?: number): SandboxError {
  const code: ErrorCode = isErrorCode(body?.code) ? body.code : status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL';
  const message = typeof body?.message === 'string' ? body.message : `request failed with HTTP ${status ?? '?'}`;
  const Cls = ERROR_CLASSES[code];
  return new Cls(code, message, {
    ...(body?.details ? { details: body.details } : {}),
    ...(status !== undefined ? { status } : {}),
  });
}

/**
 * A command ended with a non-zero exit code (thrown by `commands.run` unless
 * `throwOnError: false`). Carries the whole result.
 */
export class CommandExitError extends Error {
  constructor(
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
    readonly signal: string | undefined,
  ) {
    super(
      `command exited with code ${exitCode}${signal ? ` (${signal})` : ''}${stderr ? `: ${stderr.slice(-500)}` : ''}`,
    );
    this.name = 'CommandExitError';
  }
}
