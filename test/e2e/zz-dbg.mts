import { readFileSync } from 'node:fs';
import { Sandbox } from '@paddock/sdk';
import { startTestServer } from '../support/server.ts';
const { server, conn } = await startTestServer();
const isolation = (process.argv[2] ?? 'container') as 'container' | 'gvisor';
const sbx = await Sandbox.create({ ...conn, isolation, requestTimeoutMs: 120_000 });
const log = `/var/tmp/paddock-test/data/sandboxes/${sbx.id}/sandbox.log`;
try {
  for (const cmd of ['sleep 100', 'sleep 101; true', 'echo hi; sleep 102']) {
    const t0 = Date.now();
    const t = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => console.log('DATA', JSON.stringify(Buffer.from(d).toString())), cmd });
    await new Promise((r) => setTimeout(r, 1000));
    const ps = await sbx.commands.run('ps -eo pid,pgid,sid,stat,args | grep -v ps', { user: 'root' });
    console.log(ps.stdout);
    await t.kill();
    console.log(isolation, cmd, await t.wait(), Date.now() - t0, 'ms');
  }
} catch (e) {
  console.log('ERR', String(e));
} finally {
  console.log(readFileSync(log, 'utf8').slice(-3000));
  await sbx.kill();
}
await server.close();
