/**
 * Secrets across a server restart (the values come back from SQLite, the CA from the
 * sandbox's host dir), and gone from SQLite once the sandbox is killed. Fake internet as in
 * egress-proxy.test.ts; the server runs as a child process so that it can be restarted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '@paddock/sdk';
import Database from 'better-sqlite3';
import { TEST_API_KEY, TEST_DATA_DIR } from '../support/env.js';
import { type FakeInternet, startFakeInternet } from '../support/fake-internet.js';
import { startTestServer } from '../support/server.js';
import { ServerProcess } from '../support/server-process.js';

const SECRET_VALUE = 'sk-restart-4d1e-secret';
const server = new ServerProcess(18_000 + (process.pid % 1000));
const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };
let fake: FakeInternet;
const made: string[] = [];

before(async () => {
  fake = await startFakeInternet();
  // ServerProcess passes the environment on to `paddock serve`.
  process.env.PADDOCK_EGRESS_UPLINK = fake.uplink;
  process.env.PADDOCK_EGRESS_DNS = fake.dnsAddress;
  process.env.PADDOCK_EGRESS_CA_FILE = fake.caFile;
});

after(async () => {
  if (server.child?.exitCode === null) {
    for (const id of made) await Sandbox.kill(id, conn).catch(() => undefined);
  }
  await server.stop('SIGTERM');
  await fake?.close();
});

const FETCH = `import sys, urllib.request as u
r = u.urlopen(u.Request(sys.argv[1], headers={'Authorization': 'Bearer ' + sys.argv[2]}), timeout=10)
print(r.read().decode())`;

async function authorizationSeen(sbx: Sandbox, url: string, placeholder: string): Promise<string> {
  const r = await sbx.commands.run(`python3 /tmp/fetch.py ${url} ${placeholder}`);
  return (JSON.parse(r.stdout) as { headers: Record<string, string> }).headers.authorization ?? '';
}

/** The egress proxy's HTTPS listener on one host address, as `ss` prints it; empty when none. */
function listenersOn(address: string): string {
  return execFileSync('ss', ['-Hltn', 'src', address, 'sport', '=', ':443'], { encoding: 'utf8' }).trim();
}

function secretRows(sandboxId: string): number {
  const db = new Database(join(TEST_DATA_DIR, 'paddock.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT count(*) AS n FROM sandbox_secrets WHERE sandbox_id = ?').get(sandboxId) as {
      n: number;
    };
    return row.n;
  } finally {
    db.close();
  }
}

describe('secrets across a server restart', () => {
  it('still replaces the placeholder after a restart, and drops the value when the sandbox is killed', async () => {
    await server.start();
    const sbx = await Sandbox.create({
      ...conn,
      network: { egress: 'allowlist', allow: ['api.allowed.test'] },
      secrets: { API_KEY: { value: SECRET_VALUE, hosts: ['api.allowed.test'] } },
    });
    made.push(sbx.id);
    await sbx.files.write('/tmp/fetch.py', FETCH);
    const placeholder = (await sbx.commands.run('printf %s "$API_KEY"')).stdout;
    assert.equal(await authorizationSeen(sbx, 'https://api.allowed.test/a', placeholder), `Bearer ${SECRET_VALUE}`);

    await server.stop('SIGTERM');
    await server.start();

    const again = await Sandbox.connect(sbx.id, conn);
    assert.deepEqual((await again.getInfo()).secrets, [{ name: 'API_KEY', hosts: ['api.allowed.test'] }]);
    assert.equal(await authorizationSeen(again, 'https://api.allowed.test/b', placeholder), `Bearer ${SECRET_VALUE}`);
    assert.equal(secretRows(sbx.id), 1);
    await again.kill();
    assert.equal(secretRows(sbx.id), 0, 'the value does not outlive its sandbox');
  });
});

describe('an in-process restart', () => {
  it('gives the proxy ports back at close, so the next server in the same process attaches again', async () => {
    // One server per data dir at a time: the child server of the test above goes first.
    await server.stop('SIGTERM');
    const options = {
      network: { uplink: fake.uplink, dnsUpstreams: [fake.dnsAddress] },
      egressProxy: { caFile: fake.caFile },
    };
    const first = await startTestServer(options);
    let sandboxId: string;
    let placeholder: string;
    let hostAddress: string;
    try {
      const sbx = await Sandbox.create({
        ...first.conn,
        network: { egress: 'allowlist', allow: ['api.allowed.test'] },
        secrets: { API_KEY: { value: SECRET_VALUE, hosts: ['api.allowed.test'] } },
      });
      sandboxId = sbx.id;
      await sbx.files.write('/tmp/fetch.py', FETCH);
      placeholder = (await sbx.commands.run('printf %s "$API_KEY"')).stdout;
      const sandboxAddress = (await sbx.getInfo()).network?.address ?? '';
      hostAddress = sandboxAddress.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) - 1}`);
      assert.notEqual(listenersOn(hostAddress), '', 'the proxy listens on the host side of the veth');
    } finally {
      await first.server.close();
    }
    assert.equal(listenersOn(hostAddress), '', 'a closed server leaves no proxy listener behind');
    const second = await startTestServer(options);
    try {
      const again = await Sandbox.connect(sandboxId, second.conn);
      try {
        assert.equal(
          await authorizationSeen(again, 'https://api.allowed.test/c', placeholder),
          `Bearer ${SECRET_VALUE}`,
        );
      } finally {
        await again.kill();
      }
    } finally {
      await second.server.close();
    }
  });
});
