import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CreateSandboxRequest, type Isolation, PaddockError } from '@paddock/protocol';
import type { CreateSecrets, PreparedSecrets } from '../../packages/server/src/core/create-secrets.js';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import type { NetworkPlan, SandboxNetworks } from '../../packages/server/src/core/network-plan.js';
import { SandboxService } from '../../packages/server/src/core/sandbox-service.js';
import type { SecretRule } from '../../packages/server/src/core/seams/store.js';
import type { ResolvedTemplate } from '../../packages/server/src/core/templates.js';
import { FakeRuntime } from '../../packages/server/src/runtime/fake/fake-runtime.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';
import { sequentialIds } from './core-fixture.js';
import { FakeClock } from './fake-clock.js';

/** Networks that exist only as entries of `live`; each step can be made to fail. */
class FakeNetworks implements SandboxNetworks {
  readonly live = new Map<string, NetworkPlan>();
  readonly calls: string[];
  failUp = false;
  failApply = false;
  constructor(calls: string[]) {
    this.calls = calls;
  }
  plan(request: { egress?: NetworkPlan['egress']; allow?: string[] } | undefined): NetworkPlan {
    return { egress: request?.egress ?? 'none', allow: request?.allow ?? [], bandwidthMbit: 0 };
  }
  poolable(plan: NetworkPlan, isolation: Isolation): boolean {
    return isolation === 'container' || plan.egress === 'none';
  }
  async up(id: string, _isolation: Isolation, plan: NetworkPlan) {
    this.calls.push(`network up ${id}`);
    this.live.set(id, plan);
    if (this.failUp) throw new Error('no addresses left');
    return { netnsPath: `/n/${id}`, resolvConf: '/r', hosts: '/h' };
  }
  async apply(id: string, plan: NetworkPlan) {
    this.calls.push(`network apply ${id}`);
    if (this.failApply) throw new Error('nft: table busy');
    this.live.set(id, plan);
  }
  async update() {}
  usesHostStack(): boolean {
    return false;
  }
  async down(id: string) {
    this.calls.push(`network down ${id}`);
    this.live.delete(id);
  }
}

/** Secrets kept in `stored` once committed; `failCommit` or `holdCommit` fault the last step. */
class FakeSecrets implements CreateSecrets {
  readonly stored = new Map<string, SecretRule[]>();
  readonly calls: string[];
  failCommit = false;
  /** While set, commit waits on it or on the create's abort, whichever comes first. */
  holdCommit: Promise<void> | undefined;
  constructor(calls: string[]) {
    this.calls = calls;
  }
  prepare(req: CreateSandboxRequest): PreparedSecrets | undefined {
    const entries = Object.entries(req.secrets ?? {});
    if (entries.length === 0) return undefined;
    const rules = entries.map(([name, spec]) => ({
      name,
      placeholder: `ph-${name}`,
      value: spec.value,
      hosts: spec.hosts,
    }));
    return { env: Object.fromEntries(rules.map((r) => [r.name, r.placeholder])), rules };
  }
  async commit(id: string, rules: SecretRule[], signal?: AbortSignal) {
    this.calls.push(`secrets commit ${id}`);
    this.stored.set(id, rules);
    if (this.holdCommit) {
      const hold = this.holdCommit;
      await new Promise<void>((resolve, reject) => {
        void hold.then(resolve);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    if (this.failCommit) throw new PaddockError('INTERNAL', 'installing the egress CA failed (exit 1)');
  }
  forget(id: string) {
    this.stored.delete(id);
  }
  keepOnly(liveIds: ReadonlySet<string>) {
    for (const id of this.stored.keys()) if (!liveIds.has(id)) this.stored.delete(id);
  }
}

const base: ResolvedTemplate = { name: 'base', specHash: 'h', rootfs: '/x', env: {}, workdir: '/', user: 'user' };
const WITH_SECRET: CreateSandboxRequest = {
  env: { PLAIN: '1' },
  network: { egress: 'open' },
  secrets: { TOKEN: { value: 'the-value', hosts: ['api.test'] } },
};

function setup(options: { secrets?: boolean } = {}) {
  const calls: string[] = [];
  const store = new SqliteStore(':memory:');
  const runtime = new FakeRuntime('container');
  const create = runtime.create.bind(runtime);
  runtime.create = async (launch) => {
    calls.push(`runtime create ${launch.id}`);
    await create(launch);
  };
  const networks = new FakeNetworks(calls);
  const secrets = new FakeSecrets(calls);
  const service = new SandboxService({
    store,
    runtimes: { container: runtime },
    templates: { resolve: (name) => (name === 'base' ? base : undefined), resolveHash: () => base },
    clock: new FakeClock(),
    logger: silentLogger,
    newId: sequentialIds(),
    networks,
    ...(options.secrets === false ? {} : { secrets }),
  });
  /** Asserts that nothing of a failed create is left: no live sandbox, network or secret. */
  const assertNothingLeft = () => {
    assert.deepEqual(service.list(), [], 'no live sandbox');
    assert.equal(runtime.sandboxes.size, 0, 'nothing runs');
    assert.deepEqual([...networks.live.keys()], [], 'no network');
    assert.deepEqual([...secrets.stored.keys()], [], 'no secret');
  };
  return { service, store, runtime, networks, secrets, calls, assertNothingLeft };
}

/** The rows a failed create left, as (state, reasonCode): final states only. */
function rowsOf(store: SqliteStore) {
  return store.listSandboxes({}).map((r) => `${r.state} ${r.reasonCode}`);
}

describe('the create sequence (core/create-sandbox.ts)', () => {
  it('goes placeholders → network → runtime → secrets, and hands the rules to the network', async () => {
    const { service, networks, secrets, runtime, calls } = setup();
    const record = await service.create(WITH_SECRET);
    assert.deepEqual(calls, [`network up ${record.id}`, `runtime create ${record.id}`, `secrets commit ${record.id}`]);
    assert.deepEqual(record.env, { PLAIN: '1', TOKEN: 'ph-TOKEN' }, 'the sandbox sees only the placeholder');
    assert.equal(networks.live.get(record.id)?.secrets?.[0]?.value, 'the-value');
    assert.equal(secrets.stored.get(record.id)?.[0]?.placeholder, 'ph-TOKEN');
    assert.ok(runtime.sandboxes.has(record.id));
  });

  it('refuses secrets without an egress side before anything is made', async () => {
    const { service, store, calls } = setup({ secrets: false });
    await assert.rejects(
      service.create(WITH_SECRET),
      (err: unknown) =>
        err instanceof PaddockError && err.code === 'INVALID_ARGUMENT' && /egress proxy/.test(err.message),
    );
    assert.deepEqual(calls, []);
    assert.deepEqual(rowsOf(store), []);
  });

  it('a failed network leaves nothing behind', async () => {
    const { service, store, networks, assertNothingLeft } = setup();
    networks.failUp = true;
    await assert.rejects(service.create(WITH_SECRET), /no addresses left/);
    assertNothingLeft();
    assert.deepEqual(rowsOf(store), ['error start_failed']);
  });

  it('a failed launch leaves nothing behind', async () => {
    const { service, store, runtime, calls, assertNothingLeft } = setup();
    runtime.failNextCreate = new Error('crun: no space left');
    await assert.rejects(service.create(WITH_SECRET), /no space left/);
    assertNothingLeft();
    assert.ok(!calls.some((c) => c.startsWith('secrets commit')), 'the values never reach the egress side');
    assert.deepEqual(rowsOf(store), ['error start_failed']);
  });

  it('a failed secrets commit kills the sandbox and forgets the values', async () => {
    const { service, store, secrets, assertNothingLeft } = setup();
    secrets.failCommit = true;
    await assert.rejects(service.create(WITH_SECRET), /egress CA/);
    assertNothingLeft();
    assert.deepEqual(rowsOf(store), ['killed start_failed']);
    assert.equal(store.listSandboxes({})[0]?.reason, 'secrets could not be set up');
  });

  it('an abort during the launch leaves nothing behind and rejects with the signal reason', async () => {
    const { service, store, runtime, assertNothingLeft } = setup();
    let release!: () => void;
    runtime.holdCreates = new Promise((resolve) => {
      release = resolve;
    });
    const controller = new AbortController();
    const creating = service.create(WITH_SECRET, controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runtime.sandboxes.size, 1, 'the launch is in flight');
    const reason = new Error('client disconnected');
    controller.abort(reason);
    release();
    await assert.rejects(creating, (err: unknown) => err === reason);
    assertNothingLeft();
    assert.deepEqual(rowsOf(store), ['killed start_failed']);
  });

  it('an abort during the secrets commit leaves nothing behind', async () => {
    const { service, store, secrets, assertNothingLeft } = setup();
    secrets.holdCommit = new Promise(() => {});
    const controller = new AbortController();
    const creating = service.create(WITH_SECRET, controller.signal);
    while (secrets.stored.size === 0) await new Promise((resolve) => setImmediate(resolve));
    const reason = new Error('client disconnected');
    controller.abort(reason);
    await assert.rejects(creating, (err: unknown) => err === reason);
    assertNothingLeft();
    assert.deepEqual(rowsOf(store), ['killed start_failed']);
  });

  it('a claimed spare whose network cannot take the policy is killed, not handed out', async () => {
    const { service, store, networks, assertNothingLeft } = setup();
    const spare = await service.boot(service.resolveShape({}), undefined);
    const claims: string[] = [];
    service.claims.subscribe((key) => claims.push(key.templateHash));
    networks.failApply = true;
    await assert.rejects(service.create({ network: { egress: 'open' } }), /table busy/);
    assertNothingLeft();
    assert.deepEqual(claims, ['h'], 'the pool hears of the claim, to refill');
    assert.equal(store.getSandbox(spare.id)?.state, 'killed');
    assert.equal(store.getSandbox(spare.id)?.reasonCode, 'start_failed');
  });
});
