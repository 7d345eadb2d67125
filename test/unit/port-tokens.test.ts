import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import { parseProcNetTcp } from '../../packages/agent/src/ports/listening-ports.js';
import { forwardHeaders, takeToken } from '../../packages/server/src/ports/forwarded-request.js';
import { PortTokens } from '../../packages/server/src/ports/port-tokens.js';
import { serverSecretBytes } from '../../packages/server/src/store/server-secret.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';

const NOW = 1_800_000_000_000;
const target = { sandboxId: 'abc123', port: 3000 };

function rejects(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PaddockError);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe('port tokens', () => {
  const tokens = new PortTokens(randomBytes(32));
  const token = tokens.mint({ ...target, expiresAtMs: NOW + 60_000 });

  it('open the port of the sandbox they were minted for, until they expire', () => {
    assert.match(token, /^pt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual(tokens.check(token, target, NOW), { ...target, expiresAtMs: NOW + 60_000 });
    assert.ok(tokens.check(token, target, NOW + 59_999));
  });

  it('expired: UNAUTHENTICATED naming the time it expired and what to do', () => {
    rejects(
      () => tokens.check(token, target, NOW + 60_000),
      'UNAUTHENTICATED',
      new RegExp(`expired at ${new Date(NOW + 60_000).toISOString()}: ask for a new URL`),
    );
  });

  it('another port or sandbox: PERMISSION_DENIED naming the port the token is for', () => {
    rejects(() => tokens.check(token, { ...target, port: 3001 }, NOW), 'PERMISSION_DENIED', /opens port 3000 of this/);
    rejects(
      () => tokens.check(token, { ...target, sandboxId: 'other' }, NOW),
      'PERMISSION_DENIED',
      /opens port 3000 of sandbox abc123, not port 3000 of sandbox other/,
    );
  });

  it('tampered, foreign or malformed: UNAUTHENTICATED', () => {
    const [payload, signature] = token.slice(3).split('.') as [string, string];
    const edited = Buffer.from(JSON.stringify({ s: 'abc123', p: 3001, e: NOW + 60_000 })).toString('base64url');
    const bad = [
      `pt_${edited}.${signature}`,
      `pt_${payload}.${signature.slice(0, -2)}xx`,
      new PortTokens(randomBytes(32)).mint({ ...target, expiresAtMs: NOW + 60_000 }),
      '',
      'pt_',
      'pt_abc',
      `pt_${payload}`,
      `pt_${payload}.${signature}.extra`,
      `xx_${payload}.${signature}`,
    ];
    for (const candidate of bad) rejects(() => tokens.check(candidate, target, NOW), 'UNAUTHENTICATED', /not valid/);
  });
});

describe('port tables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paddock-port-tables-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keep the token secret and the public flags across a reopen (a server restart)', () => {
    const file = join(dir, 'paddock.db');
    const firstStore = new SqliteStore(file);
    const secret = serverSecretBytes(firstStore, 'port-token-hmac');
    assert.equal(secret.length, 32);
    firstStore.close();
    const secondStore = new SqliteStore(file);
    assert.ok(serverSecretBytes(secondStore, 'port-token-hmac').equals(secret));
    assert.ok(!serverSecretBytes(secondStore, 'another-key').equals(secret));
    secondStore.close();
    const first = new SqliteStore(file);
    first.ports.setPublic('abc', 3000, true);
    first.ports.setPublic('abc', 8080, true);
    first.ports.setPublic('abc', 8080, false);
    first.close();
    const second = new SqliteStore(file);
    assert.deepEqual(second.ports.publicPorts('abc'), [3000]);
    assert.equal(second.ports.isPublic('abc', 3000), true);
    assert.equal(second.ports.isPublic('other', 3000), false);
    second.ports.forget('abc');
    assert.deepEqual(second.ports.publicPorts('abc'), []);
    second.close();
  });
});

function fakeRequest(url: string, headers: Record<string, string | string[]>): IncomingMessage {
  return { url, headers, socket: { remoteAddress: '10.1.2.3' } } as unknown as IncomingMessage;
}

describe('forwarded requests', () => {
  it('take the token from the header, else the query (stripped), else the cookie', () => {
    assert.deepEqual(takeToken(fakeRequest('/a?paddock_token=q&b=1', { 'x-paddock-token': 'h' })), {
      token: 'h',
      fromQuery: false,
      path: '/a?b=1',
    });
    assert.deepEqual(takeToken(fakeRequest('/a?paddock_token=q', { cookie: 'paddock_token=c' })), {
      token: 'q',
      fromQuery: true,
      path: '/a',
    });
    assert.deepEqual(takeToken(fakeRequest('/a?b=1', { cookie: 'x=1; paddock_token=c' })), {
      token: 'c',
      fromQuery: false,
      path: '/a?b=1',
    });
    assert.equal(takeToken(fakeRequest('/', {})).token, undefined);
  });

  it('drop hop-by-hop and Paddock headers, keep the Host and the app cookies', () => {
    const headers = forwardHeaders(
      fakeRequest('/', {
        host: '3000-abc.localhost:7070',
        connection: 'keep-alive, x-drop-me',
        'keep-alive': 'timeout=5',
        'x-drop-me': '1',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        'x-paddock-token': 'pt_x',
        'x-paddock-sandbox': 'abc',
        'x-paddock-port': '3000',
        cookie: 'a=1; paddock_token=pt_x; b=2',
        accept: 'text/html',
      }),
      { upgrade: false, isApiKey: () => false },
    );
    assert.deepEqual(headers, {
      host: '3000-abc.localhost:7070',
      cookie: 'a=1; b=2',
      accept: 'text/html',
      'x-forwarded-for': '10.1.2.3',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': '3000-abc.localhost:7070',
    });
    const upgrade = forwardHeaders(
      fakeRequest('/', { host: 'h', connection: 'Upgrade', upgrade: 'websocket', cookie: 'paddock_token=x' }),
      { upgrade: true, isApiKey: () => false },
    );
    assert.equal(upgrade.connection, 'Upgrade');
    assert.equal(upgrade.upgrade, 'websocket');
    assert.equal(upgrade.cookie, undefined);
  });
});

describe('/proc/net/tcp parsing', () => {
  it('finds LISTEN sockets with their decoded IPv4 and IPv6 addresses', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1',
      '   1: 0100007F:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1',
      '   2: 0100007F:0BB9 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 3 1',
    ].join('\n');
    assert.deepEqual(parseProcNetTcp(tcp, 4), [
      { port: 3000, address: '0.0.0.0' },
      { port: 3001, address: '127.0.0.1' },
    ]);
    const tcp6 = [
      '  sl  local_address                         remote_address                        st',
      '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A',
      '   1: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A',
    ].join('\n');
    assert.deepEqual(parseProcNetTcp(tcp6, 6), [
      { port: 8080, address: '::' },
      { port: 8081, address: '::1' },
    ]);
  });
});
