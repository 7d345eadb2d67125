import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import { makeSkopeoWorkDir, scrubSecret } from '../../packages/server/src/templates/images/registry-auth.js';
import { copyArgs, inspectRawArgs, resolveSource } from '../../packages/server/src/templates/images/skopeo-args.js';
import { skopeoError } from '../../packages/server/src/templates/images/skopeo-errors.js';

const registry = resolveSource({ kind: 'registry', ref: '198.18.20.10:5000/team/a:1', insecure: true });
const fatal = (msg: string): string => `time="2026-12-03T06:03:11Z" level=fatal msg="${msg}"`;

describe('skopeo argv', () => {
  it('copies linux/amd64 into oci:LAYOUT:TAG, TLS off only when insecure, creds only by file', () => {
    const args = copyArgs({
      source: registry,
      layoutDir: '/d/layout',
      tag: 't',
      digestFile: '/w/d',
      authFile: '/w/a.json',
    });
    assert.deepEqual(args, [
      'copy',
      '--override-os',
      'linux',
      '--override-arch',
      'amd64',
      '--authfile',
      '/w/a.json',
      '--src-tls-verify=false',
      '--preserve-digests',
      '--digestfile',
      '/w/d',
      'docker://198.18.20.10:5000/team/a:1',
      'oci:/d/layout:t',
    ]);
    const secure = copyArgs({
      source: resolveSource({ kind: 'registry', ref: 'python' }),
      layoutDir: '/l',
      tag: 't',
      digestFile: '/d',
    });
    assert.ok(!secure.some((arg) => arg.includes('tls-verify')));
    assert.ok(!secure.some((arg) => arg.includes('creds')));
  });

  it('maps every source kind to its transport and refuses relative or colon paths', () => {
    assert.equal(resolveSource({ kind: 'docker-archive', path: '/x/a.tar' }).transportRef, 'docker-archive:/x/a.tar');
    assert.equal(resolveSource({ kind: 'oci-archive', path: '/x/a.tar' }).transportRef, 'oci-archive:/x/a.tar');
    assert.equal(resolveSource({ kind: 'oci-dir', path: '/x/dir' }).transportRef, 'oci:/x/dir');
    for (const path of ['x/a.tar', '/x/a:b.tar']) {
      assert.throws(() => resolveSource({ kind: 'oci-archive', path }), { code: 'INVALID_ARGUMENT' });
    }
  });

  it('inspects a manifest of an index by digest, with the inspect spelling of the TLS flag', () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    assert.deepEqual(inspectRawArgs({ source: registry, digest }), [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://198.18.20.10:5000/team/a@${digest}`,
    ]);
  });
});

describe('skopeoError', () => {
  const cases: [string, string, RegExp][] = [
    [
      fatal('reading manifest 1 in x/team/nope: manifest unknown: manifest unknown'),
      'NOT_FOUND',
      /198\.18\.20\.10:5000\/team\/a:1/,
    ],
    [
      fatal('reading manifest 1 in x/team/a: unauthorized: authentication required'),
      'UNAUTHENTICATED',
      /198\.18\.20\.10:5000/,
    ],
    [
      fatal('unable to retrieve auth token: invalid username/password: unauthorized: incorrect username or password'),
      'UNAUTHENTICATED',
      /198\.18\.20\.10:5000/,
    ],
    [
      fatal('pinging container registry x: Get \\"https://x/v2/\\": http: server gave HTTP response to HTTPS client'),
      'INVALID_ARGUMENT',
      /insecure: true/,
    ],
    [
      fatal('pinging container registry x: Get \\"https://x/v2/\\": x509: certificate signed by unknown authority'),
      'INVALID_ARGUMENT',
      /insecure: true/,
    ],
    [
      fatal('pinging container registry x: dial tcp 198.18.20.10:5999: connect: connection refused'),
      'UNAVAILABLE',
      /Cannot reach registry/,
    ],
    [
      fatal(
        `writing blob: happened during read: Digest did not match, expected sha256:${'1'.repeat(64)}, got sha256:${'2'.repeat(64)}`,
      ),
      'TEMPLATE_BUILD_FAILED',
      /digest did not match/,
    ],
    [fatal('something new'), 'TEMPLATE_BUILD_FAILED', /something new/],
  ];
  for (const [line, code, message] of cases) {
    it(`${code} for ${line.slice(48, 110)}`, () => {
      const error = skopeoError({ source: registry, output: ['Getting image source signatures', line] });
      assert.ok(error instanceof PaddockError);
      assert.equal(error.code, code);
      assert.match(error.message, message);
    });
  }
});

describe('registry auth', () => {
  it('writes a 0600 authfile in a 0700 dir and removes it on dispose', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'paddock-auth-test-'));
    try {
      const work = await makeSkopeoWorkDir({
        parentDir: parent,
        registry: 'r:5000',
        credentials: { username: 'u', password: 'p' },
      });
      assert.equal((await stat(work.dir)).mode & 0o777, 0o700);
      assert.ok(work.authFile !== undefined);
      assert.equal((await stat(work.authFile)).mode & 0o777, 0o600);
      await work.dispose();
      await assert.rejects(stat(work.dir), { code: 'ENOENT' });
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('scrubs the password and its base64 form', () => {
    const credentials = { username: 'ann', password: 'pa$$word' };
    const b64 = Buffer.from('ann:pa$$word').toString('base64');
    assert.equal(scrubSecret(`x pa$$word y ${b64}`, credentials), 'x *** y ***');
  });
});
