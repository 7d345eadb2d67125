import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { SecretRule } from '../../packages/server/src/core/seams/store.js';
import { parseClientHello } from '../../packages/server/src/network/egress-proxy/client-hello.js';
import { parseHostHeader, sniffHttp } from '../../packages/server/src/network/egress-proxy/http-head.js';
import { matchesHostPattern } from '../../packages/server/src/secrets/host-pattern.js';
import { secretsFor, substituteHeaders } from '../../packages/server/src/secrets/placeholder-substitution.js';

/** Captures the first flight a real node TLS client sends (its ClientHello). */
describe('TLS ClientHello parsing (real ClientHellos from node)', () => {
  let server: Server;
  let port = 0;
  const captured: Buffer[] = [];
  before(async () => {
    server = createServer((socket) => {
      socket.once('data', (d: Buffer) => {
        captured.push(d);
        socket.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function helloFor(servername: string | undefined, extra: object = {}): Promise<Buffer> {
    const before = captured.length;
    await new Promise<void>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ...(servername === undefined ? {} : { servername }), ...extra });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    assert.equal(captured.length, before + 1);
    return captured.at(-1) as Buffer;
  }

  it('reads the SNI, lowercased', async () => {
    assert.deepEqual(parseClientHello(await helloFor('API.Example.COM')), {
      kind: 'client-hello',
      serverName: 'api.example.com',
    });
  });

  it('reads the SNI of TLS 1.2-only and TLS 1.3-only clients', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const hello = await helloFor('allowed.test', { minVersion: version, maxVersion: version });
      assert.deepEqual(parseClientHello(hello), { kind: 'client-hello', serverName: 'allowed.test' });
    }
  });

  it('reports a ClientHello without SNI (connecting by IP sends none)', async () => {
    assert.deepEqual(parseClientHello(await helloFor('')), { kind: 'client-hello', serverName: undefined });
  });

  it('asks for more bytes at every truncation point', async () => {
    const hello = await helloFor('allowed.test');
    for (let n = 0; n < hello.length; n += 7) {
      assert.deepEqual(parseClientHello(hello.subarray(0, n)), { kind: 'incomplete' }, `at ${n} bytes`);
    }
  });

  it('reassembles a ClientHello split over two TLS records', async () => {
    const hello = await helloFor('split.allowed.test');
    const body = hello.subarray(5);
    const cut = 40;
    const record = (part: Buffer) =>
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
    const split = Buffer.concat([record(body.subarray(0, cut)), record(body.subarray(cut))]);
    assert.deepEqual(parseClientHello(split), { kind: 'client-hello', serverName: 'split.allowed.test' });
  });

  it('says not-tls for HTTP and malformed for broken handshakes', async () => {
    assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'not-tls');
    const hello = Buffer.from(await helloFor('allowed.test'));
    hello[5] = 0x02; // a ServerHello where a ClientHello must be
    assert.equal(parseClientHello(hello).kind, 'malformed');
  });

  it('never throws on corrupted ClientHellos (every byte flipped in turn)', async () => {
    const hello = await helloFor('allowed.test');
    for (let i = 0; i < hello.length; i++) {
      const bad = Buffer.from(hello);
      bad[i] = (bad[i] as number) ^ 0xff;
      const result = parseClientHello(bad);
      assert.ok(['incomplete', 'not-tls', 'malformed', 'client-hello'].includes(result.kind), `byte ${i}`);
    }
  });

  it('refuses a server name with control characters', () => {
    const name = Buffer.from('evil\u0000.test', 'latin1');
    const sni = Buffer.concat([
      Buffer.from([0x00, 0x00]),
      u16(name.length + 5),
      u16(name.length + 3),
      Buffer.from([0x00]),
      u16(name.length),
      name,
    ]);
    const body = Buffer.concat([
      Buffer.from([0x03, 0x03]),
      Buffer.alloc(32),
      Buffer.from([0x00]),
      u16(2),
      Buffer.from([0x13, 0x01]),
      Buffer.from([0x01, 0x00]),
      u16(sni.length),
      sni,
    ]);
    const handshake = Buffer.concat([Buffer.from([0x01, 0x00, body.length >> 8, body.length & 0xff]), body]);
    const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
    assert.equal(parseClientHello(record).kind, 'malformed');
  });
});

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

describe('HTTP first bytes and Host', () => {
  it('recognises request lines, and waits on a partial method', () => {
    assert.equal(sniffHttp(Buffer.from('GET / HTTP/1.1\r\n')), 'http');
    assert.equal(sniffHttp(Buffer.from('POS')), 'incomplete');
    assert.equal(sniffHttp(Buffer.from('SSH-2.0-x')), 'not-http');
  });

  it('parses Host values', () => {
    assert.deepEqual(parseHostHeader('Allowed.Test'), { host: 'allowed.test', port: undefined });
    assert.deepEqual(parseHostHeader('allowed.test.:8080'), { host: 'allowed.test', port: 8080 });
    assert.deepEqual(parseHostHeader('[::1]:80'), { host: '::1', port: 80 });
    for (const bad of [undefined, '', 'a b', 'x:0', 'x:99999', 'x:8o', '[::1', 'evil.test/x', 'a@b']) {
      assert.equal(parseHostHeader(bad), undefined, String(bad));
    }
  });
});

describe('secret hosts and placeholder substitution', () => {
  const secret: SecretRule = {
    name: 'K',
    placeholder: 'paddock-secret-aaaaaaaaaaaaaaaaaaaaaaaa',
    value: 'v!',
    hosts: ['api.x.test', '*.y.test'],
  };
  const other: SecretRule = {
    name: 'L',
    placeholder: 'paddock-secret-bbbbbbbbbbbbbbbbbbbbbbbb',
    value: 'w!',
    hosts: ['z.test'],
  };

  it('matches exact names and *.suffix below the suffix only', () => {
    assert.equal(matchesHostPattern('API.x.test.', 'api.x.test'), true);
    assert.equal(matchesHostPattern('x.test', 'api.x.test'), false);
    assert.equal(matchesHostPattern('a.y.test', '*.y.test'), true);
    assert.equal(matchesHostPattern('a.b.y.test', '*.y.test'), true);
    assert.equal(matchesHostPattern('y.test', '*.y.test'), false);
    assert.equal(matchesHostPattern('evily.test', '*.y.test'), false);
  });

  it('substitutes only the secrets listed for the host, only in header values', () => {
    const secrets = secretsFor('api.x.test', [secret, other], { tls: true });
    assert.deepEqual(secrets, [secret]);
    const { headers, replaced } = substituteHeaders(
      {
        authorization: `Bearer ${secret.placeholder}`,
        'x-other': other.placeholder,
        [`x-${secret.placeholder}`]: 'name stays',
        cookie: [`a=${secret.placeholder}`, 'b=1'] as unknown as string,
      },
      secrets,
    );
    assert.equal(replaced, 2);
    assert.equal(headers.authorization, 'Bearer v!');
    assert.equal(headers['x-other'], other.placeholder);
    assert.equal(headers[`x-${secret.placeholder}`], 'name stays');
    assert.deepEqual(headers.cookie, ['a=v!', 'b=1']);
    assert.deepEqual(secretsFor('elsewhere.test', [secret, other], { tls: true }), []);
  });
});
