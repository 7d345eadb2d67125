import { readFileSync } from 'node:fs';
import { Sandbox } from '@paddock/sdk';
import { startTestServer } from '../support/server.ts';
const { server, conn } = await startTestServer();
const isolation = (process.argv[2] ?? 'container') as 'container' | 'gvisor';
const sbx = await Sandbox.create({ ...conn, isolation, requestTimeoutMs: 120_000 });
const log = `/var/tmp/paddock-test/data/sandboxes/${sbx.id}/sandbox.log`;
try {
  for (const cmd of ['sleep 100', 'sleep 100; true', undefined]) {
    const t = await sbx.pty.create({ cols: 80, rows: 24, onData: () => {}, ...(cmd ? { cmd } : {}) });
    console.log('created', cmd, t.pid);
    await t.kill();
    console.log(isolation, cmd, await t.wait());
  }
} catch (e) {
  console.log('ERR', String(e));
} finally {
  console.log(readFileSync(log, 'utf8').slice(-3000));
  await sbx.kill();
}
await server.close();
