import { ERROR_CODES, type PaddockError } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { toPaddockError } from '../../api/errors.js';
import type { Logger } from '../../core/logger.js';

/**
 * E2B's error body: `{code: <HTTP status>, message}`. The JS SDK decides some outcomes from
 * the body's `code` (kill 404 → false, pause 409 → false), so it always equals the status.
 */
export interface E2bErrorBody {
  code: number;
  message: string;
}

export function e2bErrorBody(status: number, message: string): E2bErrorBody {
  return { code: status, message };
}

/** Installs E2B-shaped error answers on the (encapsulated) control-plane plugin. */
export function installE2bErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err, _request, reply) => {
    const pe: PaddockError = toPaddockError(err, logger);
    const status = ERROR_CODES[pe.code].status;
    void reply.status(status).type('application/json').send(e2bErrorBody(status, pe.message));
  });
}
