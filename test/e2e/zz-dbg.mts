import { readFileSync } from 'node:fs';
import { Sandbox } from '@paddock/sdk';
import { startTestServer } from '../support/server.ts';
const { server, conn } = await startTestServer();
const isolation = (process.argv[2] ?? 'container') as 'container' | 'gvisor';
const sbx = await Sandbox.create({ ...conn, isolation, requestTimeoutMs: 120_000 });
const log = `/var/tmp/paddock-test/data/sandboxes/${sbx.id}/sandbox.log`;
try {
  for (const cmd of ['sleep 37']) {
    const t0 = Date.now();
    const t = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => console.log('DATA', JSON.stringify(Buffer.from(d).toString())), cmd });
    await new Promise((r) => setTimeout(r, 1000));
    const { execSync } = await import('node:child_process');
    console.log(execSync(`ps -eo pid,ppid,pgid,sid,uid,stat,wchan:20,args --forest | grep -B2 -A6 'opt/paddock/agent.js' | grep -v grep`).toString());
    const ps = await sbx.commands.run(`ls /proc | grep '^[0-9]'; cat /proc/${t.pid}/status | head -12; ps -eo pid,pgid,sid,stat,args; tr '\\0' ' ' < /proc/${t.pid}/cmdline`, { user: 'root', throwOnError: false });
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
