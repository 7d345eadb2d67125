import { ERROR_CODES, type ErrorBody, PaddockError } from '@paddock/protocol';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from '../core/logger.js';

/** Turns anything thrown into the wire error shape; unknown failures become INTERNAL, logged not sent. */
export function toPaddockError(err: unknown, logger: Logger): PaddockError {
  if (err instanceof PaddockError) return err;
  const fe = err as Partial<FastifyError> & { code?: string };
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new PaddockError('INVALID_ARGUMENT', `request body is not valid JSON: ${fe.message ?? ''}`);
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new PaddockError('PAYLOAD_TOO_LARGE', 'request body too large');
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new PaddockError('INVALID_ARGUMENT', 'unsupported content-type: send application/json');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new PaddockError('INVALID_ARGUMENT', fe.message ?? 'bad request');
  }
  logger.error({ err }, 'unexpected error');
  return new PaddockError('INTERNAL', 'internal error (see the server log)');
}

export function installErrorHandler(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err, _request, reply) => {
    const pe = toPaddockError(err, logger);
    const body: ErrorBody = pe.toBody();
    void reply.status(ERROR_CODES[pe.code].status).type('application/json').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } as ErrorBody);
  });
}
