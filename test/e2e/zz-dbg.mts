import { Sandbox } from '@paddock/sdk';
import { startTestServer } from '../support/server.ts';
const { server, conn } = await startTestServer();
for (const isolation of ['container', 'gvisor'] as const) {
  console.log('creating', isolation, new Date().toISOString());
  const sbx = await Sandbox.create({ ...conn, isolation, requestTimeoutMs: 120_000 });
  console.log('created');
  try {
    for (const cmd of ['sleep 100', 'sleep 100; true', undefined]) {
      const t = await sbx.pty.create({ cols: 80, rows: 24, onData: () => {}, ...(cmd ? { cmd } : {}) });
      await t.kill();
      console.log(isolation, cmd, await t.wait());
    }
    const t = await sbx.pty.create({ cols: 80, rows: 24, onData: () => {}, cmd: 'sleep 100' });
    await new Promise((r) => setTimeout(r, 500));
    await t.kill();
    console.log(isolation, 'after 500ms', await t.wait());
  } finally {
    await sbx.kill();
  }
}
await server.close();
