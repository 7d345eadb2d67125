import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PaddockError, ReasonCode } from '@paddock/protocol';
import Database from 'better-sqlite3';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import { sandboxLifecycle } from '../../packages/server/src/core/pause/lifecycle.js';
import { lostReason } from '../../packages/server/src/core/reasons.js';
import { reconcile } from '../../packages/server/src/core/reconcile.js';
import type { Store } from '../../packages/server/src/core/seams/store.js';
import { hostBoot } from '../../packages/server/src/host-boot.js';
import { FakeRuntime } from '../../packages/server/src/runtime/fake/fake-runtime.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';
import { catalogOf, fakeTemplate, sequentialIds } from './core-fixture.js';
import { FakeClock } from './fake-clock.js';

const base = fakeTemplate();
const catalog = catalogOf(base);
const HOUR = 3_600_000;

function setup(store: Store = new SqliteStore(':memory:')) {
  const clock = new FakeClock();
  const runtimes = { container: new FakeRuntime('container'), gvisor: new FakeRuntime('gvisor') };
  const newId = sequentialIds();
  const lifecycle = () =>
    sandboxLifecycle({
      service: { store, runtimes, templates: catalog, clock, logger: silentLogger, newId },
      pause: { store, clock, logger: silentLogger },
    });
  const { service, pause: states } = lifecycle();
  /** A new server on the same store and runtimes: what a restart sees. */
  const restart = (hostRebooted = false) => {
    const { service: fresh } = lifecycle();
    return reconcile({ store, runtimes, service: fresh, logger: silentLogger, clock, hostRebooted });
  };
  return { store, clock, runtimes, service, states, restart };
}

/** The stored reason as the API reports it: code and text. */
function why(store: Store, id: string) {
  const r = store.getSandbox(id);
  return { state: r?.state, code: r?.reasonCode, reason: r?.reason };
}

describe('reasonCode: every path that stops a sandbox says why with a stable code', () => {
  it('a kill with a reason stores its code beside the text; a running sandbox has none', async () => {
    const { service, store } = setup();
    const sbx = await service.create({});
    assert.deepEqual(why(store, sbx.id), { state: 'running', code: null, reason: null });
    await service.kill(sbx.id, { code: 'api', message: 'killed by the API' });
    assert.deepEqual(why(store, sbx.id), { state: 'killed', code: 'api', reason: 'killed by the API' });
  });

  it('timeout: a sandbox killed at its timeout says `timeout`', async () => {
    const { service, states, store, clock } = setup();
    void states;
    const sbx = await service.create({ timeoutMs: 1_000 });
    clock.advance(1_000);
    await service.scope.idle();
    assert.deepEqual(why(store, sbx.id), { state: 'killed', code: 'timeout', reason: 'timeout expired' });
  });

  it('timeout: without the pause layer the default expiry says `timeout` too', async () => {
    const { service, store, clock } = setup();
    const sbx = await service.create({ timeoutMs: 1_000 });
    clock.advance(1_000);
    await service.scope.idle();
    assert.equal(why(store, sbx.id).code, 'timeout');
  });

  it('timeout + onTimeout pause: paused with `timeout`, cleared by a resume, then `retention` at deletion', async () => {
    const { service, states, store, clock } = setup();
    const sbx = await service.create({ timeoutMs: 1_000, onTimeout: 'pause', retentionMs: HOUR });
    clock.advance(1_000);
    await service.scope.idle();
    assert.equal(why(store, sbx.id).state, 'paused');
    assert.equal(why(store, sbx.id).code, 'timeout');
    assert.match(why(store, sbx.id).reason ?? '', /onTimeout: 'pause'/);
    // A paused sandbox's SANDBOX_PAUSED error carries the code too.
    assert.throws(
      () => service.requireRunning(sbx.id),
      (err: unknown) => err instanceof PaddockError && err.details?.reasonCode === 'timeout',
    );
    await states.resume(sbx.id);
    assert.deepEqual(why(store, sbx.id), { state: 'running', code: null, reason: null });
    await states.pause(sbx.id);
    assert.equal(why(store, sbx.id).code, null, 'a pause by a caller has nothing to explain');
    clock.advance(HOUR);
    await service.scope.idle();
    assert.deepEqual(why(store, sbx.id), { state: 'killed', code: 'retention', reason: 'retention expired' });
  });

  it('timeout + onTimeout hibernate: hibernated with `timeout`', async () => {
    const { service, states, store, clock } = setup();
    void states;
    const sbx = await service.create({ isolation: 'gvisor', timeoutMs: 1_000, onTimeout: 'hibernate' });
    clock.advance(1_000);
    await service.scope.idle();
    assert.equal(why(store, sbx.id).state, 'hibernated');
    assert.equal(why(store, sbx.id).code, 'timeout');
  });

  it('oom and agent_lost: a sandbox found dead under a call says which, keeps its disk (hibernated), and later calls carry the code', async () => {
    const { service, store } = setup();
    const a = await service.create({});
    const b = await service.create({});
    service.markLost(a.id, lostReason('stopped', { kills: 2, limitMiB: 512 }));
    service.markLost(b.id, lostReason('stopped'));
    await service.scope.idle();
    assert.equal(why(store, a.id).code, 'oom');
    assert.match(why(store, a.id).reason ?? '', /out of memory: the sandbox used all of its 512 MiB .*2 OOM kill/);
    assert.deepEqual(why(store, b.id), {
      state: 'hibernated',
      code: 'agent_lost',
      reason:
        'the sandbox stopped unexpectedly (stopped); its disk is kept: resume it to start it again (its processes restart)',
    });
    assert.throws(
      () => service.requireRunning(a.id),
      (err: unknown) =>
        err instanceof PaddockError && err.code === 'SANDBOX_PAUSED' && err.details?.reasonCode === 'oom',
    );
  });

  it('start_failed: a create the runtime refuses ends in `error` with `start_failed`', async () => {
    const { service, store, runtimes } = setup();
    runtimes.container.failNextCreate = new Error('crun: no space left');
    await assert.rejects(service.create({}));
    const [failed] = store.listSandboxes({ states: ['error'] });
    assert.equal(failed?.reasonCode, 'start_failed');
    assert.match(failed?.reason ?? '', /no space left/);
  });

  it('internal: a hibernate the sandbox did not survive, and resources that could not be freed', async () => {
    const { service, states, store, runtimes } = setup();
    const gv = await service.create({ isolation: 'gvisor' });
    runtimes.gvisor.hibernate = async (id) => {
      runtimes.gvisor.sandboxes.delete(id);
      throw new Error('runsc checkpoint crashed');
    };
    await assert.rejects(states.hibernate(gv.id, true));
    assert.deepEqual(why(store, gv.id), {
      state: 'error',
      code: 'internal',
      reason: 'hibernate failed and the sandbox did not survive',
    });
    const crun = await service.create({});
    runtimes.container.destroy = async () => {
      throw new Error('umount busy');
    };
    await assert.rejects(service.kill(crun.id, { code: 'api', message: 'killed by the API' }));
    assert.deepEqual(why(store, crun.id), { state: 'error', code: 'internal', reason: 'failed to free resources' });
  });

  it('restart: a running sandbox gone after a server restart says `restart`; after a host reboot `host_reboot`', async () => {
    const { service, states, store, runtimes, restart } = setup();
    const crashed = await service.create({});
    const paused = await service.create({});
    await states.pause(paused.id);
    runtimes.container.sandboxes.delete(crashed.id);
    runtimes.container.sandboxes.delete(paused.id);
    await restart();
    assert.equal(why(store, crashed.id).code, 'restart');
    assert.match(why(store, crashed.id).reason ?? '', /after a server restart/);
    assert.deepEqual(why(store, paused.id).code, 'restart');

    const rebooted = await service.create({});
    const rebootedPaused = await service.create({});
    await states.pause(rebootedPaused.id);
    const hibernated = await service.create({});
    await states.hibernate(hibernated.id, false);
    runtimes.container.sandboxes.delete(rebooted.id);
    runtimes.container.sandboxes.delete(rebootedPaused.id);
    await restart(true);
    assert.deepEqual(
      [why(store, rebooted.id), why(store, rebootedPaused.id)].map((w) => [w.state, w.code]),
      [
        ['error', 'host_reboot'],
        ['error', 'host_reboot'],
      ],
    );
    assert.deepEqual(why(store, hibernated.id), { state: 'hibernated', code: null, reason: null });
  });

  it('restart: a sandbox whose agent stays silent after a restart is hibernated with `restart`, cleared on resume', async () => {
    const { service, states, store, runtimes, restart } = setup();
    const sbx = await service.create({});
    runtimes.container.reviveAgent = async () => false;
    await restart();
    assert.equal(why(store, sbx.id).state, 'hibernated');
    assert.equal(why(store, sbx.id).code, 'restart');
    delete (runtimes.container as Partial<FakeRuntime>).reviveAgent;
    assert.equal((await states.resume(sbx.id)).reasonCode, null);
    assert.deepEqual(why(store, sbx.id), { state: 'running', code: null, reason: null });
  });

  it('a kill cut short by a restart keeps the reason it was given', async () => {
    const { service, store, restart } = setup();
    const sbx = await service.create({});
    store.updateSandbox(sbx.id, { state: 'stopping', reason: 'retention expired', reasonCode: 'retention' });
    await restart();
    assert.deepEqual(why(store, sbx.id), { state: 'killed', code: 'retention', reason: 'retention expired' });
  });
});

describe('reasonCode in the store and the protocol', () => {
  it('a store from before reason codes gains the column, its old rows their codes from the old texts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paddock-reasons-'));
    try {
      const file = join(dir, 'old.db');
      const old = new Database(file);
      old.exec(`CREATE TABLE sandboxes (id TEXT PRIMARY KEY, template TEXT NOT NULL, template_hash TEXT NOT NULL,
        isolation TEXT NOT NULL, state TEXT NOT NULL, created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER,
        memory_mib INTEGER NOT NULL, cpus REAL NOT NULL, disk_mib INTEGER NOT NULL, pids INTEGER NOT NULL,
        env TEXT NOT NULL, metadata TEXT NOT NULL, pooled INTEGER NOT NULL, reason TEXT)`);
      const insert = old.prepare(
        `INSERT INTO sandboxes VALUES (?, 'base', 'h', 'container', ?, 0, 0, 512, 1, 2048, 1024, '{}', '{}', 0, ?)`,
      );
      const rows: [string, string, string | null, string | null][] = [
        ['a', 'killed', 'killed by the API', 'api'],
        ['b', 'killed', 'timeout expired', 'timeout'],
        ['c', 'killed', 'retention expired', 'retention'],
        ['d', 'error', 'out of memory: the sandbox was killed', 'oom'],
        ['e', 'error', 'the sandbox stopped unexpectedly (stopped)', 'agent_lost'],
        ['f', 'error', 'sandbox was absent after a server restart', 'restart'],
        ['g', 'error', 'failed to start: crun exited 1', 'start_failed'],
        ['h', 'error', 'hibernate failed and the sandbox did not survive', 'internal'],
        ['i', 'running', null, null],
        ['j', 'killed', 'something a future version wrote', null],
      ];
      for (const [id, state, reason] of rows) insert.run(id, state, reason);
      old.close();
      const store = new SqliteStore(file);
      for (const [id, state, reason, code] of rows) {
        assert.deepEqual(why(store, id), { state, code, reason }, id);
      }
      store.close();
      // Opening again changes nothing (the migration runs once).
      const again = new SqliteStore(file);
      assert.equal(again.getSandbox('a')?.reasonCode, 'api');
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('docs/api.md documents every reason code', () => {
    const docs = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    for (const code of ReasonCode.options) assert.match(docs, new RegExp(`\\| \`${code}\` \\|`), code);
  });

  it('the host boot id tells a reboot from a crash, and a first start is no reboot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paddock-boot-'));
    try {
      const file = join(dir, 'boot-id');
      const first = hostBoot(file, () => 'boot-1');
      assert.equal(first.rebooted, false);
      first.record();
      assert.equal(hostBoot(file, () => 'boot-1').rebooted, false);
      const second = hostBoot(file, () => 'boot-2');
      assert.equal(second.rebooted, true);
      // Until recorded, a crash during reconcile still sees the reboot at the next start.
      assert.equal(hostBoot(file, () => 'boot-2').rebooted, true);
      second.record();
      assert.equal(hostBoot(file, () => 'boot-2').rebooted, false);
      assert.equal(hostBoot(file, () => undefined).rebooted, false, 'no boot id: no claim of a reboot');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
