import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Sandbox } from '@paddock/sdk';
import { TEST_API_KEY } from '../support/env.js';
import { ServerProcess } from '../support/server-process.js';

const server = new ServerProcess(17_000 + (process.pid % 1000));
const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };

after(async () => {
  if (server.child?.exitCode === null) {
    for (const s of await Sandbox.list({ ...conn, metadata: { suite: 'restart' } })) await Sandbox.kill(s.id, conn);
  }
  await server.stop('SIGTERM');
});

describe('server restart', () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`keeps every running sandbox listed, reachable and usable after ${signal}`, async () => {
      await server.start();
      const crun = await Sandbox.create({ ...conn, metadata: { suite: 'restart' } });
      const gvisor = await Sandbox.create({ ...conn, isolation: 'gvisor', metadata: { suite: 'restart' } });
      await crun.files.write('/home/user/state.txt', 'before restart');
      await gvisor.files.write('/home/user/state.txt', 'before restart (gvisor)');
      const expiresAt = (await crun.getInfo()).expiresAt;

      await server.stop(signal);
      await server.start();

      const listed = (await Sandbox.list({ ...conn, metadata: { suite: 'restart' } })).map((s) => s.id).sort();
      assert.deepEqual(listed, [crun.id, gvisor.id].sort());
      const again = await Sandbox.connect(crun.id, conn);
      assert.equal((await again.getInfo()).expiresAt, expiresAt, 'the timeout survives the restart');
      assert.equal(await again.files.read('/home/user/state.txt'), 'before restart');
      assert.equal((await again.commands.run('echo alive')).stdout, 'alive\n');
      const g = await Sandbox.connect(gvisor.id, conn);
      assert.equal(await g.files.read('/home/user/state.txt'), 'before restart (gvisor)');
      assert.equal((await g.commands.run('echo alive')).stdout, 'alive\n');

      await again.kill();
      await g.kill();
      await server.stop('SIGTERM');
    });
  }
});
