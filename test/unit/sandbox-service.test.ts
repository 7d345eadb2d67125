import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PaddockError } from '@paddock/protocol';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import { reconcile } from '../../packages/server/src/core/reconcile.js';
import { SandboxService } from '../../packages/server/src/core/sandbox-service.js';
import { WarmPool } from '../../packages/server/src/core/warm-pool.js';
import { FakeRuntime } from '../../packages/server/src/runtime/fake/fake-runtime.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';
import { catalogOf, fakeTemplate, sequentialIds } from './core-fixture.js';
import { FakeClock } from './fake-clock.js';

const base = fakeTemplate({ LANG: 'C.UTF-8' });
const catalog = catalogOf(base);

function setup() {
  const store = new SqliteStore(':memory:');
  const clock = new FakeClock();
  const runtime = new FakeRuntime('container');
  const service = new SandboxService({
    store,
    runtimes: { container: runtime },
    templates: catalog,
    clock,
    logger: silentLogger,
    newId: sequentialIds(),
  });
  return { store, clock, runtime, service };
}

const code = (c: string) => (err: unknown) => err instanceof PaddockError && err.code === c;

describe('SandboxService', () => {
  it('creates with defaults, lists by metadata and state, and kills', async () => {
    const { service, runtime } = setup();
    const a = await service.create({ metadata: { agent: 'a1' } });
    const b = await service.create({ metadata: { agent: 'a2' }, memoryMiB: 256 });
    assert.equal(a.state, 'running');
    assert.equal(a.memoryMiB, 512);
    assert.equal(b.memoryMiB, 256);
    assert.equal(runtime.sandboxes.get(a.id)?.launch.agent.defaultUser, 'user');
    assert.deepEqual(
      service.list({ metadata: { agent: 'a1' } }).map((r) => r.id),
      [a.id],
    );
    await service.kill(a.id);
    assert.equal(service.get(a.id).state, 'killed');
    assert.deepEqual(
      service.list().map((r) => r.id),
      [b.id],
    );
    assert.deepEqual(
      service.list({ states: ['killed'] }).map((r) => r.id),
      [a.id],
    );
    assert.ok(runtime.destroyed.includes(a.id));
    await service.kill(a.id); // idempotent
  });

  it('rejects unknown templates and sandboxes with typed errors', async () => {
    const { service } = setup();
    await assert.rejects(service.create({ template: 'nope' }), code('NOT_FOUND'));
    await assert.rejects(service.create({ isolation: 'gvisor' }), code('INVALID_ARGUMENT'));
    assert.throws(() => service.get('missing'), code('NOT_FOUND'));
  });

  it('kills at the timeout, and setTimeout moves the deadline', async () => {
    const { service, clock } = setup();
    const a = await service.create({ timeoutMs: 10_000 });
    const b = await service.create({ timeoutMs: 10_000 });
    service.setTimeout(b.id, 60_000);
    clock.advance(10_001);
    await service.scope.idle();
    assert.equal(service.get(a.id).state, 'killed');
    assert.equal(service.get(a.id).reason, 'timeout expired');
    assert.equal(service.get(b.id).state, 'running');
    clock.advance(50_000);
    await service.scope.idle();
    assert.equal(service.get(b.id).state, 'killed');
    assert.throws(() => service.setTimeout(b.id, 1_000), code('SANDBOX_NOT_RUNNING'));
  });

  it('marks a failed boot as error and keeps nothing half-made', async () => {
    const { service, runtime, store } = setup();
    runtime.failNextCreate = new Error('crun: boom');
    await assert.rejects(service.create({}), (err: unknown) => err instanceof PaddockError && /boom/.test(err.message));
    const rows = store.listSandboxes({ states: ['error'] });
    assert.equal(rows.length, 1);
    assert.equal(runtime.sandboxes.size, 0);
  });

  it('claims from the warm pool, hides spares from users, and refills', async () => {
    const { service, runtime, store, clock } = setup();
    const pool = new WarmPool(service, {
      store,
      clock,
      logger: silentLogger,
      targets: [{ request: { template: 'base' }, size: 2 }],
    });
    pool.refill();
    await service.scope.idle();
    assert.equal(runtime.sandboxes.size, 2);
    assert.equal(service.list().length, 0, 'spares are not listed');
    const spare = [...runtime.sandboxes.keys()][0]!;
    assert.throws(() => service.get(spare), code('NOT_FOUND'));
    const claimed = await service.create({ metadata: { who: 'me' }, env: { A: 'b' } });
    assert.ok(runtime.sandboxes.has(claimed.id), 'the claim reuses a running spare');
    assert.equal(claimed.pooled, false);
    assert.deepEqual(claimed.env, { A: 'b' });
    assert.ok(claimed.expiresAtMs !== null);
    await service.scope.idle();
    assert.equal(runtime.sandboxes.size, 2, 'the refill waits a moment after a claim');
    clock.advance(300);
    await service.scope.idle();
    assert.equal(runtime.sandboxes.size, 3, 'the pool refilled');
    const custom = await service.create({ memoryMiB: 1024 });
    assert.equal(runtime.sandboxes.size, 4, 'a different shape boots a new sandbox');
    assert.equal(custom.memoryMiB, 1024);
    pool.stop();
  });

  it('reconciles after a restart: adopts running, cleans half-made and leftovers', async () => {
    const { service, runtime, store, clock } = setup();
    const alive = await service.create({ timeoutMs: 10_000 });
    const dead = await service.create({});
    runtime.sandboxes.delete(dead.id); // died while the server was down
    store.insertSandbox({ ...store.getSandbox(alive.id)!, id: 'halfmade000000000000', state: 'starting' });
    runtime.sandboxes.set('halfmade000000000000', {
      launch: runtime.sandboxes.get(alive.id)!.launch,
      state: 'running',
    });
    runtime.sandboxes.set('orphan00000000000000', {
      launch: runtime.sandboxes.get(alive.id)!.launch,
      state: 'running',
    });

    // A new service over the same store and runtime stands for the restarted server.
    const restarted = new SandboxService({
      store,
      runtimes: { container: runtime },
      templates: catalog,
      clock,
      logger: silentLogger,
      newId: () => 'unused00000000000000',
    });
    const outcome = await reconcile({
      store,
      runtimes: { container: runtime },
      service: restarted,
      logger: silentLogger,
    });
    assert.deepEqual(outcome, { adopted: 1, lost: 1, cleaned: 2 });
    assert.equal(restarted.get(alive.id).state, 'running');
    assert.equal(restarted.get(dead.id).state, 'error');
    assert.equal(store.getSandbox('halfmade000000000000'), undefined);
    assert.deepEqual([...runtime.sandboxes.keys()], [alive.id]);
    clock.advance(10_001);
    await restarted.scope.idle();
    assert.equal(restarted.get(alive.id).state, 'killed', 'the adopted sandbox keeps its timeout');
  });

  it('a kill racing a boot wins', async () => {
    const { service, runtime, store } = setup();
    let release!: () => void;
    runtime.holdCreates = new Promise((r) => {
      release = r;
    });
    const creating = service.create({});
    await new Promise((r) => setImmediate(r));
    const id = store.listSandboxes({ states: ['starting'] })[0]!.id;
    const killing = service.kill(id);
    release();
    await assert.rejects(creating, code('CONFLICT'));
    await killing;
    assert.equal(store.getSandbox(id)?.state, 'killed');
    assert.equal(runtime.sandboxes.size, 0);
  });
});

describe('WarmPool resizing', () => {
  it('kills spares beyond the target after a restart with a smaller pool', async () => {
    const { service, runtime, store, clock } = setup();
    const big = new WarmPool(service, { store, clock, logger: silentLogger, targets: [{ request: {}, size: 3 }] });
    big.refill();
    await service.scope.idle();
    assert.equal(runtime.sandboxes.size, 3);
    big.stop();
    const small = new WarmPool(service, { store, clock, logger: silentLogger, targets: [{ request: {}, size: 1 }] });
    small.refill();
    await service.scope.idle();
    assert.equal(runtime.sandboxes.size, 1);
    assert.equal(store.listSandboxes({ pooled: true }).length, 1, 'killed spares leave no rows');
  });
});
