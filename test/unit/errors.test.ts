import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { ERROR_CODES, type ErrorCode } from '@paddock/protocol';
import { ERROR_CLASSES, errorFromBody, NotFoundError, SandboxError } from '@paddock/sdk';

describe('error registry', () => {
  it('every code has an SDK class and a row in docs/api.md with its status', async () => {
    const doc = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      const cls = ERROR_CLASSES[code as ErrorCode];
      assert.ok(cls, `${code} has no SDK class`);
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` `));
      assert.ok(row, `docs/api.md does not list ${code}`);
      assert.ok(row.includes(`| ${entry.status} |`), `docs/api.md lists the wrong status for ${code}`);
      assert.ok(row.includes(cls.name), `docs/api.md names the wrong class for ${code}`);
    }
  });

  it('maps wire bodies to typed errors', () => {
    const err = errorFromBody({ code: 'NOT_FOUND', message: 'sandbox x does not exist' }, 404);
    assert.ok(err instanceof NotFoundError && err instanceof SandboxError);
    assert.equal(err.status, 404);
    assert.equal(err.name, 'NotFoundError');
    assert.equal(errorFromBody(undefined, 401).code, 'UNAUTHENTICATED');
    assert.equal(errorFromBody({ code: 'WHAT' as never, message: 'm' }, 500).code, 'INTERNAL');
  });
});
