import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import { AgentClient, AgentProcessClient } from '../../packages/server/src/agent-client/index.js';
import { Commands } from '../../packages/server/src/core/commands.js';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import type { SandboxRecord } from '../../packages/server/src/core/seams/store.js';
import { signatureValid, signFile } from '../../packages/server/src/e2b/access-token.js';
import { listPage, parseMetadataFilter } from '../../packages/server/src/e2b/control-plane/list-query.js';
import { toNetworkPolicy, toNetworkUpdate } from '../../packages/server/src/e2b/control-plane/network-options.js';
import { toCreateRequest } from '../../packages/server/src/e2b/control-plane/requests.js';
import { envelope, parseRequestMessage } from '../../packages/server/src/e2b/envd/connect-protocol.js';
import { basicUserOf, resolvePath } from '../../packages/server/src/e2b/envd/envd-call.js';
import { PidTable } from '../../packages/server/src/e2b/envd/pid-table.js';
import { endEventOf, ProcessService } from '../../packages/server/src/e2b/envd/process-service.js';

function record(id: string, createdAtMs: number, extra: Partial<SandboxRecord> = {}): SandboxRecord {
  return {
    id,
    template: 'base',
    templateHash: 'h',
    isolation: 'container',
    state: 'running',
    createdAtMs,
    expiresAtMs: createdAtMs + 1000,
    memoryMiB: 512,
    cpus: 1,
    diskMiB: 2048,
    pids: 512,
    env: {},
    metadata: {},
    pooled: false,
    reason: null,
    reasonCode: null,
    timeoutMs: 1000,
    onTimeout: 'kill',
    autoResume: false,
    retentionMs: 60_000,
    volumes: [],
    processesRestarted: false,
    ...extra,
  } as SandboxRecord;
}

describe('E2B facade: pure parts', () => {
  it('signs file URLs with the SDK recipe and rejects tampering and expiry', () => {
    const token = 'tok';
    // The SDK: 'v1_' + unpadded base64(sha256('path:operation:user:token[:expiration]')).
    const expected = `v1_${createHash('sha256').update('/a.txt:read::tok:1700000000').digest('base64').replace(/=+$/, '')}`;
    const sig = { path: '/a.txt', operation: 'read' as const, username: '', expirationS: 1_700_000_000 };
    assert.equal(signFile(sig, token), expected);
    assert.equal(signatureValid({ ...sig, signature: expected }, token, 1_600_000_000_000), true);
    assert.equal(signatureValid({ ...sig, signature: expected }, token, 1_800_000_000_000), false, 'expired');
    assert.equal(signatureValid({ ...sig, path: '/b.txt', signature: expected }, token, 0), false, 'other path');
    assert.equal(signatureValid({ ...sig, operation: 'write', signature: expected }, token, 0), false, 'other op');
    assert.equal(signatureValid({ ...sig, signature: expected }, 'other-token', 0), false, 'other sandbox');
  });

  it('decodes the triple-encoded metadata filter', () => {
    // What the SDK sends for { user: 'a b', 'k&': 'v=1' } once the query string is decoded.
    assert.deepEqual(parseMetadataFilter('user%3Da%2520b%26k%2526%3Dv%253D1'), { user: 'a b', 'k&': 'v=1' });
    assert.deepEqual(parseMetadataFilter(''), {});
  });

  it('pages newest first with opaque tokens and filters by state', () => {
    const all = [record('a', 1), record('b', 2), record('c', 3, { state: 'paused' })];
    const first = listPage(all, { limit: '2' });
    assert.deepEqual(
      first.page.map((r) => r.id),
      ['c', 'b'],
    );
    assert.ok(first.nextToken);
    const second = listPage(all, { limit: '2', nextToken: first.nextToken ?? '' });
    assert.deepEqual(
      second.page.map((r) => r.id),
      ['a'],
    );
    assert.equal(second.nextToken, undefined);
    assert.deepEqual(
      listPage(all, { state: 'paused' }).page.map((r) => r.id),
      ['c'],
    );
    assert.deepEqual(
      listPage(all, { order: 'asc', state: 'running' }).page.map((r) => r.id),
      ['a', 'b'],
    );
    assert.throws(() => listPage(all, { state: 'killed' }), /state/);
    assert.throws(() => listPage(all, { nextToken: 'zz' }), /nextToken/);
  });

  it('maps create bodies: templates, timeout, lifecycle, env', () => {
    assert.deepEqual(
      toCreateRequest({
        templateID: 'code-interpreter-v1',
        timeout: 120,
        envVars: { A: 'b' },
        autoPause: true,
        autoResume: { enabled: true },
      }),
      {
        template: 'code-interpreter',
        timeoutMs: 120_000,
        env: { A: 'b' },
        onTimeout: 'pause',
        autoResume: true,
      },
    );
    assert.equal(toCreateRequest({ templateID: 'base', timeout: 0 }).timeoutMs, 1000);
    assert.throws(() => toCreateRequest({ templateID: 'base', mcp: { x: {} } }), /mcp/);
  });

  it('maps egress options onto the network policy', () => {
    assert.equal(toNetworkPolicy(undefined, undefined), undefined);
    assert.deepEqual(toNetworkPolicy(true, undefined), { egress: 'open' });
    assert.deepEqual(toNetworkPolicy(false, undefined), { egress: 'none' });
    assert.deepEqual(toNetworkPolicy(false, { allowOut: ['1.2.3.4'] }), { egress: 'allowlist', allow: ['1.2.3.4'] });
    assert.deepEqual(toNetworkPolicy(undefined, { denyOut: ['0.0.0.0/0'], allowOut: ['a.example.com'] }), {
      egress: 'allowlist',
      allow: ['a.example.com'],
    });
    assert.deepEqual(toNetworkPolicy(undefined, { allowOut: ['1.2.3.4'] }), { egress: 'open' });
    assert.throws(() => toNetworkPolicy(undefined, { denyOut: ['10.0.0.0/8'] }), /network\.denyOut/);
    assert.throws(() => toNetworkPolicy(false, { allowOut: ['::1'] }), /network\.allowOut\[0\]/);
    assert.deepEqual(toNetworkUpdate(undefined, {}), { egress: 'open', allow: [] });
  });

  it('frames Connect envelopes and reads the request message', () => {
    const frame = envelope(2, { error: { code: 'not_found', message: 'x' } });
    assert.equal(frame.readUInt8(0), 2);
    assert.equal(frame.readUInt32BE(1), frame.length - 5);
    assert.deepEqual(parseRequestMessage(envelope(0, { path: '/' }), true), { path: '/' });
    assert.deepEqual(parseRequestMessage(Buffer.from(''), false), {});
    assert.throws(() => parseRequestMessage(Buffer.from('{'), false), /JSON/);
    assert.throws(() => parseRequestMessage(Buffer.from([1, 0, 0, 0, 2, 123, 125]), true), /compressed/);
  });

  it("ends processes as envd does (Go's ProcessState strings)", () => {
    assert.deepEqual(endEventOf({ exitCode: 0 }), { exitCode: 0, exited: true, status: 'exit status 0' });
    assert.deepEqual(endEventOf({ exitCode: 3 }), {
      exitCode: 3,
      exited: true,
      status: 'exit status 3',
      error: 'exit status 3',
    });
    assert.deepEqual(endEventOf({ exitCode: 137, signal: 'SIGKILL' }), {
      exitCode: -1,
      exited: false,
      status: 'signal: killed',
      error: 'signal: killed',
    });
  });

  it('resolves envd paths and Basic users', () => {
    assert.equal(resolvePath('a/b', undefined), '/home/user/a/b');
    assert.equal(resolvePath('', 'root'), '/root');
    assert.equal(resolvePath('/x', 'root'), '/x');
    assert.equal(basicUserOf(`Basic ${Buffer.from('root:').toString('base64')}`), 'root');
    assert.equal(basicUserOf('Bearer x'), undefined);
  });
});

describe('E2B facade: process start against an agent from before `follow`', () => {
  it('decides from the health handshake: start, close stdin, then follow, relaying the same events', async () => {
    const calls: string[] = [];
    const body = (text: string) => Readable.from([Buffer.from(text)]);
    // What an older agent does: no `features` in its health answer, and its strict schema
    // refuses the fields it does not know.
    const raw = async (req: { method: string; path: string; json?: Record<string, unknown> }) => {
      calls.push(`${req.method} ${req.path}${req.json ? ` ${Object.keys(req.json).sort().join(',')}` : ''}`);
      if (req.json && ('follow' in req.json || 'closeStdin' in req.json)) {
        throw new PaddockError('INVALID_ARGUMENT', 'process request: Unrecognized key: "follow"');
      }
      if (req.path === '/health') return body(JSON.stringify({ ok: true, pid: 1, uptimeMs: 5 }));
      if (req.path === '/processes') {
        const info = {
          id: 'p1',
          pid: 42,
          cmd: 'cat',
          cwd: '/home/user',
          user: 'user',
          running: true,
          background: true,
        };
        return body(JSON.stringify({ ...info, startedAt: new Date().toISOString(), endOffset: 0 }));
      }
      if (req.path === '/processes/p1/stdin') return body('');
      const events = [
        { type: 'start', id: 'p1', pid: 42 },
        { type: 'stdout', data: Buffer.from('hi').toString('base64'), offset: 0 },
        { type: 'exit', exitCode: 0, offset: 2 },
      ];
      return body(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    };
    // The real client's handshake and process protocol over the fake socket.
    const oldAgent = Object.create(AgentClient.prototype) as AgentClient;
    Object.assign(oldAgent, { raw, processes: new AgentProcessClient(oldAgent) });
    const sandbox = record('sbx1', 0);
    const commands = new Commands({
      sandboxes: {
        requireRunning: () => sandbox,
        runtimeFor: () => ({ state: async () => 'running', usage: async () => ({ memoryBytes: 0, oomKills: 0 }) }),
        markLost: () => assert.fail('nothing is lost'),
      },
      agentOf: () => oldAgent,
      logger: silentLogger,
    });
    const pids = new PidTable();
    const sent: unknown[] = [];
    const call = {
      record: sandbox,
      agent: oldAgent,
      user: undefined,
      signal: new AbortController().signal,
      timeoutMs: undefined,
      keepaliveMs: 90_000,
    } as unknown as Parameters<ProcessService['start']>[0];
    const stream = { send: (message: unknown) => sent.push(message) } as unknown as ReturnType<
      Parameters<ProcessService['start']>[2]
    >;
    const service = new ProcessService(pids, commands);
    await service.start(call, { process: { cmd: 'cat', args: [] }, stdin: false }, () => stream);
    await service.start(call, { process: { cmd: 'cat', args: [] }, stdin: false }, () => stream);

    const once = [
      'POST /processes argv,background,env,timeoutMs',
      'POST /processes/p1/stdin eof',
      'GET /processes/p1/events',
    ];
    // The handshake is asked once per agent; nothing is sent that the agent would refuse.
    assert.deepEqual(calls, ['GET /health', ...once, ...once]);
    const events = [
      { event: { start: { pid: 42 } } },
      { event: { data: { stdout: Buffer.from('hi').toString('base64') } } },
      { event: { end: { exitCode: 0, exited: true, status: 'exit status 0' } } },
    ];
    assert.deepEqual(sent, [...events, ...events]);
    assert.equal(pids.get('sbx1', 42)?.id, 'p1');
  });
});
