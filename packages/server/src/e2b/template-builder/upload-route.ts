import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_CODES, PaddockError } from '@paddock/protocol';
import type { Logger } from '../../core/logger.js';
import { FILES_HASH } from './requests.js';
import { readUploadArchive, type UploadLimits } from './upload-archive.js';
import type { TemplateUploads } from './uploads.js';

/** Where upload URLs point: on our own origin, outside /v1 and E2B's API paths. */
export const UPLOAD_PATH = '/e2b/template-files/';

/** The URL the SDK PUTs a COPY's tar to (it sends no API key: the token is the credential). */
export function uploadUrl(origin: string, hash: string, token: string): string {
  return `${origin}${UPLOAD_PATH}${hash}?token=${encodeURIComponent(token)}`;
}

/**
 * Takes `PUT /e2b/template-files/{hash}?token=…` ahead of the API's key check (a raw route, like
 * envd's signed file URLs). The token is checked before a byte of the body is read.
 */
export class UploadRoute {
  constructor(
    private readonly uploads: TemplateUploads,
    private readonly options: { limits: UploadLimits; logger: Logger },
  ) {}

  route(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://upload');
    if (!url.pathname.startsWith(UPLOAD_PATH)) return false;
    const hash = url.pathname.slice(UPLOAD_PATH.length);
    if (req.method !== 'PUT') return reply(res, 405, 'uploads are PUT requests');
    if (!this.uploads.verify(hash, url.searchParams.get('token'))) {
      return reply(
        res,
        401,
        'the upload token is missing, expired or not for this hash: ask GET /templates/{id}/files/{hash}',
      );
    }
    if (!FILES_HASH.test(hash)) return reply(res, 400, 'the files hash must be 64 hex digits');
    void this.receive(req, hash).then(
      () => reply(res, 201, undefined),
      (err: unknown) => {
        const pe = err instanceof PaddockError ? err : undefined;
        if (!pe) this.options.logger.warn({ err }, 'E2B template upload failed');
        const status = pe ? ERROR_CODES[pe.code].status : 500;
        reply(res, status, pe?.message ?? 'the upload failed');
        // A refused body may still be arriving: do not read it to the end.
        if (!req.readableEnded) req.destroy();
      },
    );
    return true;
  }

  private async receive(req: IncomingMessage, hash: string): Promise<void> {
    const limit = this.options.limits.archiveBytes;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) throw tooLarge(limit);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk);
    }
    this.uploads.put(hash, await readUploadArchive(Buffer.concat(chunks), this.options.limits));
  }
}

function tooLarge(limit: number): PaddockError {
  return new PaddockError('PAYLOAD_TOO_LARGE', `upload: the archive is larger than ${limit} bytes`, {
    limitBytes: limit,
  });
}

/** E2B's error shape, `{code: status, message}`; a 201 has no body. */
function reply(res: ServerResponse, status: number, message: string | undefined): true {
  if (res.headersSent) return true;
  if (message === undefined) {
    res.writeHead(status, { 'content-length': '0' }).end();
    return true;
  }
  const body = JSON.stringify({ code: status, message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  return true;
}
