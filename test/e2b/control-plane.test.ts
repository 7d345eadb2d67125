import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Sandbox as PaddockSandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
// The real, unmodified SDK, pinned in the root package.json: e2b 2.51.0, configured only by
// the E2B_* environment variables set in before().
import { AuthenticationError, Sandbox, SandboxNotFoundError, type SandboxOpts } from 'e2b';
import { e2bApi } from '../support/e2b-api.js';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';

const PINNED = { e2b: '2.51.0' } as const;
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;

let server: RunningServer;
let conn: TestConnection;
const e2bMade: Sandbox[] = [];
const paddockMade: PaddockSandbox[] = [];

async function create(opts: SandboxOpts = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create({ timeoutMs: 300_000, ...opts });
  e2bMade.push(sbx);
  return sbx;
}

/** A raw control-plane call, as the Python SDK or curl would send it. */
const api = e2bApi(() => server.url, API_KEY);

before(async () => {
  ({ server, conn } = await startTestServer({ apiKey: API_KEY }));
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${new URL(server.url).port}`;
  process.env.E2B_API_KEY = API_KEY;
});

after(async () => {
  for (const sbx of e2bMade) await sbx.kill().catch(() => undefined);
  for (const sbx of paddockMade) await sbx.kill().catch(() => undefined);
  const leftovers = await api('GET', `/v2/sandboxes?metadata=${encodeURIComponent('suite=e2b-cp')}`);
  for (const s of (leftovers.json as unknown as { sandboxID: string }[]) ?? []) {
    await api('DELETE', `/sandboxes/${s.sandboxID}`);
  }
  await server?.close();
});

describe(`E2B control plane through the SDK (e2b ${PINNED.e2b})`, () => {
  it('one core: a sandbox made by Paddock is seen and used through E2B, and the other way', {
    timeout: 120_000,
  }, async () => {
    const ours = await PaddockSandbox.create({ ...conn, metadata: { suite: 'e2b-cp', by: 'paddock' } });
    paddockMade.push(ours);
    const listed = await Sandbox.list({ query: { metadata: { by: 'paddock' } } }).nextItems();
    assert.deepEqual(
      listed.map((s) => s.sandboxId),
      [ours.id],
    );
    const viaE2b = await Sandbox.connect(ours.id);
    assert.equal((await viaE2b.commands.run('echo from-e2b > /tmp/x; cat /tmp/x')).stdout, 'from-e2b\n');
    assert.equal((await ours.files.read('/tmp/x', { format: 'text' })) as unknown as string, 'from-e2b\n');

    const theirs = await create({ metadata: { suite: 'e2b-cp', by: 'e2b' } });
    const seen = await PaddockSandbox.connect(theirs.sandboxId, conn);
    assert.equal((await seen.commands.run('echo from-paddock')).stdout, 'from-paddock\n');
    await seen.files.write('/home/user/p.txt', 'written by paddock');
    assert.equal(await theirs.files.read('/home/user/p.txt'), 'written by paddock');
  });

  it('maps templates by name; an unknown one fails the create', { timeout: 60_000 }, async () => {
    const base = await create({ metadata: { suite: 'e2b-cp' } });
    assert.equal((await base.getInfo()).templateId, 'base');
    await assert.rejects(Sandbox.create('no-such-template'), /404|template/);
  });

  it('autoPause: the timeout pauses the sandbox; connect resumes it', { timeout: 120_000 }, async () => {
    const sbx = await create({ lifecycle: { onTimeout: 'pause' }, metadata: { suite: 'e2b-cp' } });
    assert.deepEqual((await sbx.getInfo()).lifecycle, { onTimeout: 'pause', autoResume: false });
    await sbx.files.write('/home/user/kept.txt', 'kept');
    // Shortened only now, so that no call is in flight when the sandbox freezes.
    await sbx.setTimeout(1_000);
    await waitFor('auto pause', async () => ((await sbx.getInfo()).state === 'paused' ? true : undefined), 30_000);
    const again = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 300_000 });
    assert.equal((await again.getInfo()).state, 'running');
    assert.equal(await again.files.read('/home/user/kept.txt'), 'kept');
  });

  it('pause with keepMemory: false keeps the files; connect restarts it', { timeout: 120_000 }, async () => {
    const sbx = await create({ metadata: { suite: 'e2b-cp' } });
    await sbx.files.write('/home/user/disk.txt', 'on disk');
    assert.equal(await sbx.pause({ keepMemory: false }), true);
    assert.equal((await sbx.getInfo()).state, 'paused');
    assert.equal(await sbx.pause(), false);
    const again = await Sandbox.connect(sbx.sandboxId);
    assert.equal(await again.files.read('/home/user/disk.txt'), 'on disk');
  });

  it('snapshots: create, start a sandbox from one, list and delete', { timeout: 120_000 }, async () => {
    const sbx = await create({ metadata: { suite: 'e2b-cp' } });
    await sbx.files.write('/home/user/snap.txt', 'in the snapshot');
    const snap = await sbx.createSnapshot();
    const child = await Sandbox.create(snap.snapshotId, { timeoutMs: 300_000 });
    e2bMade.push(child);
    assert.equal(await child.files.read('/home/user/snap.txt'), 'in the snapshot');
    await child.kill();
    const listed = await Sandbox.listSnapshots({ sandboxId: sbx.sandboxId }).nextItems();
    assert.ok(listed.some((s) => s.snapshotId === snap.snapshotId));
    assert.equal(await Sandbox.deleteSnapshot(snap.snapshotId), true);
    assert.equal(await Sandbox.deleteSnapshot(snap.snapshotId), false);
  });

  it('maps allowInternetAccess and allowOut/denyOut onto the egress policy, also live', {
    timeout: 120_000,
  }, async () => {
    const policyOf = async (id: string) => {
      const res = await fetch(`${server.url}/v1/sandboxes/${id}/network`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      const body = (await res.json()) as { egress: string; allow: string[] };
      return { egress: body.egress, allow: body.allow };
    };
    const offline = await create({ allowInternetAccess: false, metadata: { suite: 'e2b-cp' } });
    assert.deepEqual(await policyOf(offline.sandboxId), { egress: 'none', allow: [] });
    const listed = await create({
      network: { allowOut: ['203.0.113.0/24', 'api.example.com'], denyOut: ['0.0.0.0/0'] },
      metadata: { suite: 'e2b-cp' },
    });
    assert.deepEqual(await policyOf(listed.sandboxId), {
      egress: 'allowlist',
      allow: ['203.0.113.0/24', 'api.example.com'],
    });
    await Sandbox.updateNetwork(listed.sandboxId, { allowOut: ['198.51.100.7'], denyOut: ['0.0.0.0/0'] });
    assert.deepEqual(await policyOf(listed.sandboxId), { egress: 'allowlist', allow: ['198.51.100.7'] });
    await Sandbox.updateNetwork(listed.sandboxId, { denyOut: ['0.0.0.0/0'] });
    assert.deepEqual(await policyOf(listed.sandboxId), { egress: 'none', allow: [] });
  });

  it('a wrong key is AuthenticationError', { timeout: 30_000 }, async () => {
    await assert.rejects(Sandbox.list({ apiKey: 'e2b_00' }).nextItems(), AuthenticationError);
    await assert.rejects(Sandbox.getInfo('nosuchsandbox'), SandboxNotFoundError);
  });
});

describe('E2B control plane on the wire (statuses and bodies the Python SDK relies on)', () => {
  it('answers 401 {code: 401} without a key', async () => {
    const res = await api('GET', '/v2/sandboxes', undefined, null);
    assert.equal(res.status, 401);
    assert.equal(res.json?.code, 401);
  });

  it('rejects bad create bodies with 400 naming the field', async () => {
    for (const [body, field] of [
      [{}, 'templateID'],
      [{ templateID: 5 }, 'templateID'],
      [{ templateID: 'base', timeout: 'x' }, 'timeout'],
      [{ templateID: 'base', timeout: -1 }, 'timeout'],
      [{ templateID: 'base', metadata: { a: 1 } }, 'metadata'],
      [{ templateID: 'base', envVars: { 'BAD NAME': 'x' } }, 'envVars'],
      [{ templateID: 'base', allow_internet_access: 'no' }, 'allow_internet_access'],
      [{ templateID: 'base', network: { denyOut: ['10.0.0.0/8'] } }, 'network.denyOut'],
      [{ templateID: 'base', network: { allowOut: ['not a host!'], denyOut: ['0.0.0.0/0'] } }, 'network.allowOut'],
      [{ templateID: 'base', network: { rules: { 'api.example.com': [] } } }, 'network.rules'],
      [{ templateID: 'base', network: { maskRequestHost: 'x.example.com' } }, 'network.maskRequestHost'],
      [{ templateID: 'base', mcp: { server: {} } }, 'mcp'],
    ] as const) {
      const res = await api('POST', '/v2/sandboxes', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json?.code, 400);
      assert.match(String(res.json?.message), new RegExp(field), JSON.stringify(res.json));
    }
    const unknown = await api('POST', '/v2/sandboxes', { templateID: 'no-such-template' });
    assert.deepEqual([unknown.status, unknown.json?.code], [404, 404]);
  });

  it('serves the Python SDK generation: POST /sandboxes → 201, connect with timeout → 200', {
    timeout: 60_000,
  }, async () => {
    const made = await api('POST', '/sandboxes', {
      templateID: 'base',
      secure: true,
      allow_internet_access: true,
      metadata: { suite: 'e2b-cp' },
      envVars: {},
      timeout: 300,
    });
    assert.equal(made.status, 201);
    const id = String(made.json?.sandboxID);
    for (const field of ['templateID', 'sandboxID', 'clientID', 'envdVersion', 'envdAccessToken']) {
      assert.equal(typeof made.json?.[field], 'string', field);
    }
    const connected = await api('POST', `/sandboxes/${id}/connect`, { timeout: 300 });
    assert.equal(connected.status, 200);
    const detail = await api('GET', `/sandboxes/${id}`);
    for (const field of ['startedAt', 'endAt', 'cpuCount', 'memoryMB', 'diskSizeMB', 'state', 'envdVersion']) {
      assert.ok(detail.json?.[field] !== undefined, field);
    }
    assert.ok(!Number.isNaN(Date.parse(String(detail.json?.startedAt))));
    const refreshed = await api('POST', `/sandboxes/${id}/refreshes`, { duration: 600 });
    assert.equal(refreshed.status, 204);
    assert.equal((await api('POST', `/sandboxes/${id}/timeout`, {})).status, 400);
    assert.equal((await api('POST', `/sandboxes/${id}/resume`, {})).status, 409);
    assert.equal((await api('DELETE', `/sandboxes/${id}`)).status, 204);
    const again = await api('DELETE', `/sandboxes/${id}`);
    assert.deepEqual([again.status, again.json?.code], [404, 404]);
    assert.equal((await api('POST', `/sandboxes/${id}/pause`, {})).status, 404);
  });

  it('pages the list with X-Next-Token and filters by state and triple-encoded metadata', {
    timeout: 60_000,
  }, async () => {
    const tag = randomBytes(4).toString('hex');
    const a = await create({ metadata: { suite: 'e2b-cp', page: tag, 'k&': 'v=1 b' } });
    const b = await create({ metadata: { suite: 'e2b-cp', page: tag, 'k&': 'v=1 b' } });
    const seen: string[] = [];
    const paginator = Sandbox.list({ query: { metadata: { page: tag, 'k&': 'v=1 b' } }, limit: 1 });
    while (paginator.hasNext) for (const s of await paginator.nextItems()) seen.push(s.sandboxId);
    assert.deepEqual(seen.sort(), [a.sandboxId, b.sandboxId].sort());
    const first = await api('GET', `/v2/sandboxes?limit=1&metadata=${encodeURIComponent(`page=${tag}`)}`);
    assert.ok(first.headers.get('x-next-token'));
    await a.pause();
    const paused = await Sandbox.list({ query: { metadata: { page: tag }, state: ['paused'] } }).nextItems();
    assert.deepEqual(
      paused.map((s) => s.sandboxId),
      [a.sandboxId],
    );
    for (const query of ['state=bogus', 'limit=0', 'limit=101', 'order=up', 'nextToken=@@', 'startedAfter=yesterday']) {
      const res = await api('GET', `/v2/sandboxes?${query}`);
      assert.deepEqual([res.status, res.json?.code], [400, 400], query);
    }
  });

  it('returns metrics with every required field, 404 for unknown sandboxes', { timeout: 60_000 }, async () => {
    const sbx = await create({ metadata: { suite: 'e2b-cp' } });
    const res = await api('GET', `/sandboxes/${sbx.sandboxId}/metrics`);
    assert.equal(res.status, 200);
    const [m] = res.json as unknown as Record<string, unknown>[];
    for (const field of [
      'timestamp',
      'timestampUnix',
      'cpuCount',
      'cpuUsedPct',
      'memUsed',
      'memTotal',
      'memCache',
      'diskUsed',
      'diskTotal',
    ]) {
      assert.equal(typeof m?.[field] === 'number' || typeof m?.[field] === 'string', true, field);
    }
    for (const [method, path] of [
      ['GET', '/sandboxes/nosuch'],
      ['GET', '/sandboxes/nosuch/metrics'],
      ['POST', '/v2/sandboxes/nosuch/connect'],
      ['POST', '/sandboxes/nosuch/timeout'],
      ['POST', '/sandboxes/nosuch/pause'],
    ] as const) {
      const res404 = await api(method, path, method === 'POST' ? { timeout: 10 } : undefined);
      assert.deepEqual([res404.status, res404.json?.code], [404, 404], path);
    }
  });
});
