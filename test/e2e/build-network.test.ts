/**
 * Build steps and the network: none unless a step asks (`RUN --network=default`), and then a
 * network made like a sandbox's with open egress (own netns, firewall, resolver) that reaches
 * the test's own fake internet — never the host's stack. Nothing of it stays after the step.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Sandbox, Template } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { type FakeInternet, startFakeInternet } from '../support/fake-internet.js';
import { startTestServer, type TestConnection } from '../support/server.js';

const run = promisify(execFile);
let net: FakeInternet;
let server: RunningServer;
let conn: TestConnection;
const names: string[] = [];

const netnsCount = async (): Promise<number> =>
  (await run('ip', ['netns', 'list'])).stdout.split('\n').filter(Boolean).length;

before(async () => {
  net = await startFakeInternet();
  ({ server, conn } = await startTestServer({ network: { uplink: net.uplink, dnsUpstreams: [net.dnsAddress] } }));
});

after(async () => {
  for (const name of names) await Template.remove(name, conn).catch(() => {});
  await server?.close();
  await net?.close();
});

const FETCH = `python3 -c "import urllib.request; print(urllib.request.urlopen('http://allowed.test/hello', timeout=5).read().decode())"`;

describe('RUN --network', () => {
  it('a step that asks reaches the network; one that does not stays offline; no namespace is left', async () => {
    const before = await netnsCount();
    const name = `net-build-${randomBytes(3).toString('hex')}`;
    names.push(name);
    const dockerfile = [
      'FROM base',
      `RUN echo ${name} > /opt/run-id`,
      `RUN --network=default ${FETCH} > /opt/fetched`,
      `RUN ${FETCH} > /opt/offline 2>&1 || echo offline >> /opt/offline`,
    ].join('\n');
    await Template.buildDockerfile(name, { ...conn, requestTimeoutMs: 0, dockerfile });
    await using sbx = await Sandbox.create({ ...conn, template: name });
    const fetched = JSON.parse(await sbx.files.read('/opt/fetched'));
    assert.equal(fetched.host, 'allowed.test');
    assert.equal(fetched.path, '/hello');
    assert.match(await sbx.files.read('/opt/offline'), /offline\n$/);
    assert.equal(await netnsCount(), before);
  });

  it('--network=host is refused naming the line', async () => {
    await assert.rejects(
      Template.buildDockerfile('net-host', { ...conn, dockerfile: 'FROM base\nRUN --network=host true\n' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, /line 2.*never the host/);
        return true;
      },
    );
  });
});
