import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS, PaddockError } from '@paddock/protocol';
import { Forks } from '../../packages/server/src/core/fork/forks.js';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import { sandboxLifecycle } from '../../packages/server/src/core/pause/lifecycle.js';
import { PauseResume } from '../../packages/server/src/core/pause/pause-resume.js';
import { reconcile } from '../../packages/server/src/core/reconcile.js';
import { SandboxService } from '../../packages/server/src/core/sandbox-service.js';
import { FakeRuntime } from '../../packages/server/src/runtime/fake/fake-runtime.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';
import { catalogOf, fakeTemplate, sequentialIds } from './core-fixture.js';
import { FakeClock } from './fake-clock.js';

const base = fakeTemplate();
const catalog = catalogOf(base);

function setup() {
  const store = new SqliteStore(':memory:');
  const clock = new FakeClock();
  const runtimes = { container: new FakeRuntime('container'), gvisor: new FakeRuntime('gvisor') };
  const newId = sequentialIds();
  const { service, pause: states } = sandboxLifecycle({
    service: { store, runtimes, templates: catalog, clock, logger: silentLogger, newId },
    pause: { store, clock, logger: silentLogger },
  });
  const forks = new Forks({
    service,
    pause: states,
    store,
    templates: catalog,
    clock,
    newId,
    maxForkCount: 4,
    volumeBinds: () => [],
  });
  return { store, clock, runtimes, service, states, forks };
}

const code = (c: string) => (err: unknown) => err instanceof PaddockError && err.code === c;
const HOUR = 3_600_000;

describe('PauseResume (fake runtime, fake clock)', () => {
  it('pauses and resumes idempotently, with the retention as expiry while paused', async () => {
    const { service, states, runtimes, clock } = setup();
    const sbx = await service.create({ timeoutMs: HOUR });
    const paused = await states.pause(sbx.id);
    assert.equal(paused.state, 'paused');
    assert.equal(paused.expiresAtMs, clock.now() + LIMITS.retentionMs.default);
    assert.equal((await states.pause(sbx.id)).state, 'paused');
    assert.throws(() => service.requireRunning(sbx.id), code('SANDBOX_PAUSED'));
    assert.equal((await states.resume(sbx.id)).expiresAtMs, clock.now() + HOUR);
    assert.equal((await states.resume(sbx.id)).state, 'running');
    assert.deepEqual(runtimes.container.calls, [`pause ${sbx.id}`, `resume ${sbx.id}`]);
  });

  it('autoResume resumes on demand; without it the call fails typed', async () => {
    const { service, states } = setup();
    const auto = await service.create({ autoResume: true });
    const manual = await service.create({});
    await states.pause(auto.id);
    await states.pause(manual.id);
    assert.equal((await states.ensureRunning(auto.id)).state, 'running');
    await assert.rejects(states.ensureRunning(manual.id), code('SANDBOX_PAUSED'));
  });

  it('onTimeout pause, then deletion when the retention runs out', async () => {
    const { service, states, store, clock } = setup();
    void states;
    const sbx = await service.create({ timeoutMs: 1_000, onTimeout: 'pause', retentionMs: HOUR });
    clock.advance(1_000);
    await service.scope.idle();
    assert.equal(store.getSandbox(sbx.id)?.state, 'paused');
    clock.advance(HOUR - 1);
    await service.scope.idle();
    assert.equal(store.getSandbox(sbx.id)?.state, 'paused');
    clock.advance(1);
    await service.scope.idle();
    assert.equal(store.getSandbox(sbx.id)?.state, 'killed');
    assert.equal(store.getSandbox(sbx.id)?.reason, 'retention expired');
  });

  it('onTimeout hibernate with memory (gvisor); refused at create for crun', async () => {
    const { service, states, store, clock } = setup();
    void states;
    const sbx = await service.create({ isolation: 'gvisor', timeoutMs: 1_000, onTimeout: 'hibernate' });
    clock.advance(1_000);
    await service.scope.idle();
    assert.equal(store.getSandbox(sbx.id)?.state, 'hibernated');
    await assert.rejects(service.create({ onTimeout: 'hibernate' }), code('INVALID_ARGUMENT'));
  });

  it('hibernate: memory needs a checkpointing runtime; crun must ask for keepMemory false', async () => {
    const { service, states, runtimes } = setup();
    const crun = await service.create({});
    await assert.rejects(states.hibernate(crun.id, undefined), code('INVALID_ARGUMENT'));
    assert.equal(service.get(crun.id).state, 'running');
    assert.equal((await states.hibernate(crun.id, false)).state, 'hibernated');
    assert.equal((await states.hibernate(crun.id, false)).state, 'hibernated', 'idempotent');
    const back = await states.resume(crun.id);
    assert.equal(back.processesRestarted, true);
    const gv = await service.create({ isolation: 'gvisor' });
    await states.hibernate(gv.id, undefined);
    assert.equal((await states.resume(gv.id)).processesRestarted, false);
    assert.ok(runtimes.gvisor.calls.includes(`hibernate ${gv.id} memory`));
    await service.kill(gv.id);
    await assert.rejects(states.hibernate(gv.id, undefined), code('SANDBOX_NOT_RUNNING'));
  });

  it('reconcile settles a crash mid-hibernate: stopped with a temp checkpoint → hibernated, then resumable', async () => {
    const { service, states, store, runtimes, clock } = setup();
    const sbx = await service.create({ isolation: 'gvisor' });
    let release = () => {};
    runtimes.gvisor.holdHibernate = new Promise((resolve) => {
      release = resolve;
    });
    const inFlight = states.hibernate(sbx.id, undefined);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(store.getSandbox(sbx.id)?.state, 'hibernating');
    // The "crash": the sandbox stopped with only a temp checkpoint, and a new service reconciles.
    const fake = runtimes.gvisor.sandboxes.get(sbx.id);
    if (fake) fake.state = 'stopped';
    const fresh = new SandboxService({
      store,
      runtimes,
      templates: catalog,
      clock,
      logger: silentLogger,
      newId: () => 'unused0000000000000',
    });
    await reconcile({ store, runtimes, service: fresh, logger: silentLogger, clock });
    assert.equal(store.getSandbox(sbx.id)?.state, 'hibernated');
    assert.equal(await runtimes.gvisor.checkpointOf(sbx.id), 'partial');
    const states2 = new PauseResume({ service: fresh, store, clock, logger: silentLogger });
    assert.equal((await states2.resume(sbx.id)).state, 'running');
    release();
    await inFlight.catch(() => undefined);
    await service.shutdown();
  });

  it('reconcile keeps paused sandboxes paused and finishes a crashed pause', async () => {
    const { service, states, store, runtimes, clock } = setup();
    const a = await service.create({});
    const b = await service.create({});
    await states.pause(a.id);
    store.updateSandbox(b.id, { state: 'pausing' }); // crashed before the runtime froze it
    await reconcile({ store, runtimes, service, logger: silentLogger, clock });
    assert.equal(store.getSandbox(a.id)?.state, 'paused');
    assert.equal(store.getSandbox(b.id)?.state, 'running');
    assert.ok(runtimes.container.sandboxes.has(a.id), 'a paused sandbox is not a leftover');
  });

  it('fork: count bounds, crun refused, children running with the parent settings', async () => {
    const { service, forks, runtimes } = setup();
    const crun = await service.create({});
    await assert.rejects(forks.fork(crun.id, { count: 0 }), code('INVALID_ARGUMENT'));
    await assert.rejects(forks.fork(crun.id, { count: 5 }), code('INVALID_ARGUMENT'));
    await assert.rejects(forks.fork(crun.id, { count: 1 }), code('INVALID_ARGUMENT'));
    const gv = await service.create({ isolation: 'gvisor', metadata: { a: '1' }, timeoutMs: HOUR });
    const children = await forks.fork(gv.id, { count: 3, metadata: { b: '2' } });
    assert.equal(children.length, 3);
    for (const c of children) {
      assert.equal(c.state, 'running');
      assert.deepEqual(c.metadata, { a: '1', b: '2' });
      assert.equal(c.timeoutMs, HOUR);
    }
    assert.equal(service.get(gv.id).state, 'running');
    assert.ok(runtimes.gvisor.calls.includes(`fork ${gv.id} 3`));
  });
});
