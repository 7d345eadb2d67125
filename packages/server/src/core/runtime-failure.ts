import { PaddockError } from '@paddock/protocol';
import { isRuntimeError } from './seams/runtime-error.js';

/**
 * The API error for a runtime failure the caller can act on, decided by its kind: a
 * `conflict` (e.g. a host socket in the sandbox that a checkpoint cannot keep) is CONFLICT
 * with the runtime's message and facts. Anything else is undefined: the caller reports it as
 * INTERNAL and logs the cause.
 */
export function apiErrorOfRuntime(err: unknown): PaddockError | undefined {
  if (isRuntimeError(err, 'conflict')) return new PaddockError('CONFLICT', err.message, err.details, { cause: err });
  return undefined;
}
