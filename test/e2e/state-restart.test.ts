// Stateful sandboxes across server restarts (the server as a child process, so it can be
// killed with SIGKILL): volumes survive sandbox kill + restart; a kill -9 during pause,
// hibernate or resume leaves every sandbox consistent and usable.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Sandbox, Volume } from '@paddock/sdk';
import { removeInterface, vethName } from '../../packages/server/src/network/sandbox-interface.js';
import { sandboxLayout } from '../../packages/server/src/runtime/sandbox-layout.js';
import { releaseWritableLayer } from '../../packages/server/src/runtime/writable-layer.js';
import { TEST_API_KEY, TEST_CGROUP_PARENT, TEST_DATA_DIR } from '../support/env.js';
import { waitFor } from '../support/server.js';
import { ServerProcess } from '../support/server-process.js';

const server = new ServerProcess(18_000 + (process.pid % 1000));
const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };
const volumeName = `restart-${process.pid.toString(36)}`;

after(async () => {
  if (server.child?.exitCode !== null) await server.start();
  for (const s of await Sandbox.list({ ...conn, metadata: { suite: 'state-restart' } })) await Sandbox.kill(s.id, conn);
  await Volume.delete(volumeName, conn).catch(() => undefined);
  await server.stop('SIGTERM');
});

const STABLE = ['running', 'paused', 'hibernated'];

describe('pauseAndFork sandboxes across a server restart', () => {
  it('keeps volume data through sandbox kill and kill -9 of the server', async () => {
    await server.start();
    await Volume.create({ ...conn, name: volumeName, sizeMiB: 32 });
    const sbx = await Sandbox.create({
      ...conn,
      metadata: { suite: 'state-restart' },
      volumes: [{ name: volumeName, path: '/mnt/v' }],
    });
    await sbx.files.write('/mnt/v/data.txt', 'persisted');
    await sbx.kill();
    await server.stop('SIGKILL');
    await server.start();
    const again = await Sandbox.create({
      ...conn,
      metadata: { suite: 'state-restart' },
      volumes: [{ name: volumeName, path: '/mnt/v', readOnly: true }],
    });
    assert.equal(await again.files.read('/mnt/v/data.txt'), 'persisted');
    await again.kill();
  });

  for (const isolation of ['container', 'gvisor'] as const) {
    it(`${isolation}: kill -9 during pause, hibernate and resume leaves consistent, usable sandboxes`, async () => {
      if (server.child?.exitCode !== null) await server.start();
      const keepMemory = isolation === 'gvisor';
      const sbx = await Sandbox.create({ ...conn, isolation, metadata: { suite: 'state-restart' } });
      await sbx.files.write('/home/user/kept.txt', 'kept');
      for (const verb of ['pause', 'hibernate', 'resume'] as const) {
        // The call is in flight when the server dies; it may or may not have finished.
        const call =
          verb === 'hibernate' ? sbx.hibernate({ keepMemory }) : verb === 'pause' ? sbx.pause() : sbx.resume();
        call.catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 30));
        await server.stop('SIGKILL');
        await server.start();
        const state = await waitFor('a stable state', async () => {
          const s = (await sbx.getInfo()).state;
          return STABLE.includes(s) ? s : undefined;
        });
        assert.ok(STABLE.includes(state), `after kill -9 during ${verb}: ${state}`);
        const back = await Sandbox.connect(sbx.id, conn); // resumes
        assert.equal((await back.getInfo()).state, 'running');
        assert.equal(await back.files.read('/home/user/kept.txt'), 'kept');
        assert.equal((await back.commands.run('echo alive')).stdout, 'alive\n');
        if (verb === 'pause') await sbx.hibernate({ keepMemory });
      }
      await sbx.kill();
    });
  }
});

/**
 * What a host reboot takes from a stopped server's sandboxes: every mount (the writable
 * layer's loop image and overlay, netns bind mounts), loop devices, veths and the nftables
 * table. Files on disk stay.
 */
async function simulateReboot(sandboxId: string): Promise<void> {
  await releaseWritableLayer(sandboxLayout(join(TEST_DATA_DIR, 'sandboxes'), sandboxId));
  const netns = join(TEST_DATA_DIR, 'network', sandboxId, 'netns');
  if (existsSync(netns)) {
    await removeInterface({ veth: vethName(sandboxId), netnsPath: netns });
    execFileSync('touch', [netns]); // the file itself survives a reboot
  }
  const table = `paddock_${TEST_CGROUP_PARENT.replace(/-/g, '_')}`;
  if (execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).includes(table)) {
    execFileSync('nft', ['delete', 'table', 'inet', table]);
  }
}

describe('hibernated sandboxes across a host reboot', () => {
  for (const isolation of ['container', 'gvisor'] as const) {
    it(`${isolation}: its layer${isolation === 'gvisor' ? ', memory' : ''} and network are made again on resume`, async () => {
      if (server.child?.exitCode !== null) await server.start();
      const sbx = await Sandbox.create({ ...conn, isolation, metadata: { suite: 'state-restart' } });
      await sbx.files.write('/home/user/kept.txt', 'kept across a reboot');
      const keepMemory = isolation === 'gvisor';
      if (keepMemory) await sbx.commands.run('sleep 1000', { background: true });
      const address = (await sbx.getInfo()).network?.address;
      await sbx.hibernate({ keepMemory });
      await server.stop('SIGTERM');
      await simulateReboot(sbx.id);
      await server.start();

      const back = await Sandbox.connect(sbx.id, conn); // resumes
      assert.equal((await back.getInfo()).state, 'running');
      assert.equal(await back.files.read('/home/user/kept.txt'), 'kept across a reboot');
      if (keepMemory) {
        // The same processes, from the checkpoint.
        assert.equal((await back.commands.run('pgrep -x sleep', { user: 'root' })).exitCode, 0);
      } else {
        // crun sandboxes always have an interface: the same address, routed again.
        assert.ok(address, 'a crun sandbox has an address');
        // The base template has no iproute2: the kernel's own table of local addresses.
        const local = await back.commands.run(`grep -F -- '-- ${address}' /proc/net/fib_trie`);
        assert.equal(local.exitCode, 0, 'eth0 has its address again');
        const table = `paddock_${TEST_CGROUP_PARENT.replace(/-/g, '_')}`;
        assert.ok(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).includes(table), 'the table is back');
      }
      await back.kill();
    });
  }
});
