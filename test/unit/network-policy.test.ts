import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Isolation, parseAllowEntry } from '@paddock/protocol';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import type { NetworkPlan, SandboxNetworks } from '../../packages/server/src/core/network-plan.js';
import { SandboxService } from '../../packages/server/src/core/sandbox-service.js';
import type { ResolvedTemplate } from '../../packages/server/src/core/templates.js';
import { domainAllows, nameMatches, proxyPorts } from '../../packages/server/src/network/domain-rules.js';
import { addressDenial, nameVerdict } from '../../packages/server/src/network/egress-policy.js';
import { inRange, parseCidr } from '../../packages/server/src/network/ipv4.js';
import { FakeRuntime } from '../../packages/server/src/runtime/fake/fake-runtime.js';
import { SqliteStore } from '../../packages/server/src/store/sqlite-store.js';
import { sequentialIds } from './core-fixture.js';
import { FakeClock } from './fake-clock.js';

describe('allow entries', () => {
  it('parses domains, wildcards, addresses and CIDRs, each with an optional port', () => {
    assert.deepEqual(parseAllowEntry('API.Example.com'), { kind: 'domain', pattern: 'api.example.com' });
    assert.deepEqual(parseAllowEntry('*.example.org:8443'), { kind: 'domain', pattern: '*.example.org', port: 8443 });
    assert.deepEqual(parseAllowEntry('203.0.113.7'), { kind: 'cidr', address: '203.0.113.7', prefixLength: 32 });
    assert.deepEqual(parseAllowEntry('203.0.113.0/24:443'), {
      kind: 'cidr',
      address: '203.0.113.0',
      prefixLength: 24,
      port: 443,
    });
  });

  it('says what is wrong with a bad entry', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['1.2.3.4:0', /outside 1-65535/],
      ['1.2.3.4:65536', /outside 1-65535/],
      ['a.com:x', /number/],
      ['256.1.1.1', /not an IPv4/],
      ['1.2.3/24', /not an IPv4/],
      ['1.2.3.4/33', /0-32/],
      ['10.1.2.3/8', /host bits.*10\.0\.0\.0\/8/],
      ['::1', /IPv6 egress is not supported/],
      ['[2001:db8::1]:443', /IPv6/],
      ['-bad.com', /not a domain name/],
      ['a.*.com', /not a domain name/],
      ['*.com', /top-level/],
    ];
    for (const [entry, message] of cases) {
      const parsed = parseAllowEntry(entry);
      assert.equal(typeof parsed, 'string', entry);
      assert.match(parsed as string, message, entry);
    }
  });

  it('matches names exactly or below a wildcard suffix, on 80/443 or the rule port', () => {
    assert.ok(nameMatches('*.example.org', 'a.b.example.org'));
    assert.ok(!nameMatches('*.example.org', 'example.org'));
    assert.ok(!nameMatches('*.example.org', 'badexample.org'));
    assert.ok(nameMatches('api.example.com', 'API.example.com.'));
    const rules = ['api.example.com', '*.example.org:8443'].map((e) => parseAllowEntry(e)) as never[];
    assert.ok(domainAllows(rules, 'api.example.com', 443));
    assert.ok(!domainAllows(rules, 'api.example.com', 8443));
    assert.ok(domainAllows(rules, 'x.example.org', 8443));
    assert.ok(!domainAllows(rules, 'x.example.org', 443));
    assert.ok(!domainAllows(rules, 'evil.com'));
    assert.deepEqual(proxyPorts(rules), [80, 443, 8443]);
  });

  it('does CIDR arithmetic', () => {
    const range = parseCidr('169.254.0.0/16', 'test');
    assert.ok(inRange('169.254.169.254', range));
    assert.ok(!inRange('169.253.255.255', range));
    assert.throws(() => parseCidr('10.0.0.0/40', 'PADDOCK_EGRESS_ALLOW_PRIVATE'), /PADDOCK_EGRESS_ALLOW_PRIVATE/);
  });
});

describe('egress policy (what the proxy asks)', () => {
  const ranges = { subnet: parseCidr('10.88.0.0/16', 'test'), allowPrivate: [parseCidr('10.99.0.0/24', 'test')] };
  const host = () => ['192.0.2.2', '127.0.0.1'];

  it('refuses other sandboxes, the host, private and metadata ranges, unless the operator allowed a range', () => {
    assert.equal(addressDenial('10.88.0.6', ranges, host), 'another sandbox');
    assert.equal(addressDenial('192.0.2.2', ranges, host), 'an address of the host');
    assert.match(addressDenial('169.254.169.254', ranges, host) ?? '', /link-local/);
    assert.match(addressDenial('172.16.5.5', ranges, host) ?? '', /private/);
    assert.match(addressDenial('100.64.0.1', ranges, host) ?? '', /private/);
    assert.equal(addressDenial('10.99.0.10', ranges, host), undefined);
    assert.equal(addressDenial('203.0.113.10', ranges, host), undefined);
    assert.match(addressDenial('2001:db8::1', ranges, host) ?? '', /IPv6/);
    // The operator's allowance never opens other sandboxes.
    const wide = { ...ranges, allowPrivate: [parseCidr('10.0.0.0/8', 'test')] };
    assert.equal(addressDenial('10.88.0.6', wide, host), 'another sandbox');
  });

  it('decides names by mode and rules', () => {
    const rules = ['api.example.com'].map((e) => parseAllowEntry(e)) as never[];
    assert.deepEqual(nameVerdict('open', [], 'any.test', 443), { allowed: true });
    assert.equal(nameVerdict('none', rules, 'api.example.com', 443).allowed, false);
    assert.equal(nameVerdict('allowlist', rules, 'api.example.com', 443).allowed, true);
    const denied = nameVerdict('allowlist', rules, 'evil.test', 443);
    assert.ok(!denied.allowed && /evil\.test/.test(denied.reason));
  });
});

/** Records what the lifecycle asks of the network. */
class RecordingNetworks implements SandboxNetworks {
  calls: string[] = [];
  failUp = false;
  plan(request: { egress?: NetworkPlan['egress']; allow?: string[] } | undefined): NetworkPlan {
    return { egress: request?.egress ?? 'none', allow: request?.allow ?? [], bandwidthMbit: 0 };
  }
  poolable(plan: NetworkPlan, isolation: Isolation): boolean {
    return isolation === 'container' || plan.egress === 'none';
  }
  async up(id: string, isolation: Isolation, plan: NetworkPlan) {
    this.calls.push(`up ${id} ${isolation} ${plan.egress}`);
    if (this.failUp) throw new Error('no addresses left');
    return { netnsPath: `/n/${id}`, resolvConf: '/r', hosts: '/h' };
  }
  async apply(id: string, plan: NetworkPlan) {
    this.calls.push(`apply ${id} ${plan.egress} ${plan.allow.join(',')}`);
  }
  async update() {}
  usesHostStack(): boolean {
    return false;
  }
  async down(id: string) {
    this.calls.push(`down ${id}`);
  }
}

describe('sandbox lifecycle with networks', () => {
  const base: ResolvedTemplate = { name: 'base', specHash: 'h', rootfs: '/x', env: {}, workdir: '/', user: 'user' };
  function setup() {
    const networks = new RecordingNetworks();
    const runtime = new FakeRuntime('container');
    const service = new SandboxService({
      store: new SqliteStore(':memory:'),
      runtimes: { container: runtime, gvisor: new FakeRuntime('gvisor') },
      templates: { resolve: () => base, resolveHash: () => base },
      clock: new FakeClock(),
      logger: silentLogger,
      newId: sequentialIds(),
      networks,
    });
    return { service, networks, runtime };
  }

  it('brings the network up before the runtime, hands it to the launch, and down at kill', async () => {
    const { service, networks, runtime } = setup();
    const record = await service.create({ network: { egress: 'open' } });
    assert.deepEqual(networks.calls, [`up ${record.id} container open`]);
    assert.equal(runtime.sandboxes.get(record.id)?.launch.network?.netnsPath, `/n/${record.id}`);
    await service.kill(record.id);
    assert.deepEqual(networks.calls.at(-1), `down ${record.id}`);
  });

  it('gives a claimed spare the request policy; a gVisor open sandbox never comes from the pool', async () => {
    const { service, networks } = setup();
    const spare = await service.boot(service.resolveShape({}), undefined);
    assert.deepEqual(networks.calls, [`up ${spare.id} container none`]);
    const claimed = await service.create({ network: { egress: 'allowlist', allow: ['a.test'] } });
    assert.equal(claimed.id, spare.id);
    assert.equal(networks.calls.at(-1), `apply ${spare.id} allowlist a.test`);
    const gvisorSpare = await service.boot(service.resolveShape({ isolation: 'gvisor' }), undefined);
    const gvisorOpen = await service.create({ isolation: 'gvisor', network: { egress: 'open' } });
    assert.notEqual(gvisorOpen.id, gvisorSpare.id);
    assert.equal(networks.calls.at(-1), `up ${gvisorOpen.id} gvisor open`);
  });

  it('removes what a failed network setup left and reports the failure', async () => {
    const { service, networks } = setup();
    networks.failUp = true;
    await assert.rejects(service.create({ network: { egress: 'open' } }), /no addresses left/);
    assert.match(networks.calls.at(-1) ?? '', /^down /);
  });
});
