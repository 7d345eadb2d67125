/**
 * The error-code registry: every error that crosses the wire has one of these codes.
 * Each code carries its HTTP status and whether retrying the same call can help, so
 * adding a code without them does not compile. Both SDKs turn codes into typed errors.
 *
 * @example
 * ```ts
 * const { status, retryable } = ERROR_CODES.NOT_FOUND;
 * ```
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { status: 400, retryable: false, summary: 'A field of the request is missing or has a bad value' },
  UNAUTHENTICATED: { status: 401, retryable: false, summary: 'The API key is missing or wrong' },
  PERMISSION_DENIED: { status: 403, retryable: false, summary: 'The key or token does not allow this' },
  NOT_FOUND: { status: 404, retryable: false, summary: 'The sandbox, template, file or process does not exist' },
  CONFLICT: { status: 409, retryable: false, summary: 'The resource exists or is in a state that forbids the call' },
  SANDBOX_NOT_RUNNING: {
    status: 409,
    retryable: false,
    summary: 'The sandbox is not running (killed, stopping or failed)',
  },
  SANDBOX_PAUSED: {
    status: 409,
    retryable: false,
    summary: 'The sandbox is paused or hibernated: resume it first, or create it with autoResume',
  },
  NOT_A_DIRECTORY: { status: 400, retryable: false, summary: 'A directory operation was given a file' },
  IS_A_DIRECTORY: { status: 400, retryable: false, summary: 'A file operation was given a directory' },
  DISK_FULL: { status: 507, retryable: false, summary: "The sandbox's disk (or a volume) is full" },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, summary: 'The request body is larger than allowed' },
  TIMEOUT: { status: 504, retryable: true, summary: 'The operation did not finish in time' },
  RESOURCE_EXHAUSTED: { status: 429, retryable: true, summary: 'A server-wide limit was reached; retry later' },
  TEMPLATE_BUILD_FAILED: { status: 422, retryable: false, summary: 'Building the template failed' },
  TEMPLATE_START_FAILED: {
    status: 422,
    retryable: false,
    summary: "The template's start command exited or was not ready in time (its last output is in the details)",
  },
  PORT_NOT_OPEN: { status: 502, retryable: true, summary: 'Nothing listens on the exposed port inside the sandbox' },
  UNAVAILABLE: { status: 503, retryable: true, summary: 'The server or the sandbox agent is not ready yet' },
  INTERNAL: {
    status: 500,
    retryable: true,
    summary: 'Unexpected failure inside Paddock (the cause is in the server log)',
  },
} as const satisfies Record<string, { status: number; retryable: boolean; summary: string }>;

/** A stable error code string, e.g. `'NOT_FOUND'`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The body of every error response: `{ code, message, details }`. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** True when `code` is one of the registry's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * An error that knows its wire code. The server and agent throw it; the API layer turns it
 * into an HTTP problem body with the registry's status.
 */
export class PaddockError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PaddockError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}
