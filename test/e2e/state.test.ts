// Stateful sandboxes through the TS SDK against an in-process server: pause/resume,
// hibernate, autoResume and onTimeout, snapshots, forks, volumes, and their bad input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConflictError,
  DiskFullError,
  InvalidArgumentError,
  NotFoundError,
  Sandbox,
  SandboxNotRunningError,
  SandboxPausedError,
  Snapshot,
  Volume,
} from '@paddock/sdk';
import { useTestServer, waitFor } from '../support/server.js';

const volumes: string[] = [];
const snapshots: string[] = [];
const suffix = process.pid.toString(36);

const fixture = useTestServer(
  { metadata: { suite: 'state' } },
  {
    beforeClose: async (conn) => {
      // Forks are created by the server: find them by the suite label.
      const all = await Sandbox.list({ ...conn, metadata: { suite: 'state' } });
      await Promise.allSettled(all.map((s) => Sandbox.kill(s.id, conn)));
      for (const name of snapshots) await Snapshot.delete(name, conn).catch(() => undefined);
      for (const name of volumes) await Volume.delete(name, conn).catch(() => undefined);
    },
  },
);
const { sandbox } = fixture;

/** Starts a Python process that keeps `n` only in memory and appends `TOKEN n` to a file every 50 ms. */
async function startCounter(sbx: Sandbox): Promise<void> {
  const script = [
    'import os, time, random',
    'token = random.getrandbits(64)',
    'n = 0',
    'while True:',
    '    n += 1',
    '    with open("/home/user/counter.txt", "a") as f: f.write(f"{token} {n}\\n")',
    '    time.sleep(0.05)',
  ].join('\n');
  await sbx.files.write('/home/user/counter.py', script);
  await sbx.commands.run('nohup python3 /home/user/counter.py >/dev/null 2>&1 &');
  await waitFor('the counter to tick', async () => ((await counterLines(sbx)).length >= 2 ? true : undefined));
}

async function counterLines(sbx: Sandbox): Promise<{ token: string; n: number }[]> {
  const text = await sbx.files.read('/home/user/counter.txt').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [token = '', n = '0'] = l.split(' ');
      return { token, n: Number(n) };
    });
}

/** One process, never restarted: one token, and the values count 1, 2, 3 … without a gap or a restart. */
function assertContinuous(lines: { token: string; n: number }[]): void {
  assert.ok(lines.length > 0);
  assert.equal(new Set(lines.map((l) => l.token)).size, 1, 'one process wrote every line (no restart)');
  for (const [i, l] of lines.entries()) assert.equal(l.n, i + 1, `line ${i + 1} continues the count`);
}

for (const isolation of ['container', 'gvisor'] as const) {
  describe(`pause and resume (${isolation})`, () => {
    it('keeps processes and memory across 50 pause/resume cycles; idempotent; typed error without autoResume', async () => {
      const sbx = await sandbox({ isolation });
      await startCounter(sbx);
      for (let i = 0; i < 50; i++) {
        assert.equal((await sbx.pause()).state, 'paused');
        assert.equal((await sbx.resume()).state, 'running');
      }
      await sbx.pause();
      assert.equal((await sbx.pause()).state, 'paused', 'pausing a paused sandbox is fine');
      await assert.rejects(sbx.commands.run('true'), SandboxPausedError);
      await assert.rejects(sbx.files.read('/home/user/counter.txt'), SandboxPausedError);
      const frozenAt = (await sbx.getInfo()).expiresAt;
      assert.ok(Date.parse(frozenAt) > Date.now() + 6 * 24 * 3_600_000, 'a paused sandbox expires at its retention');
      await Sandbox.connect(sbx.id, fixture.conn); // resumes
      assert.equal((await sbx.resume()).state, 'running', 'resuming a running sandbox is fine');
      const before = (await counterLines(sbx)).length;
      await waitFor('the counter to go on', async () =>
        (await counterLines(sbx)).length > before + 2 ? true : undefined,
      );
      assertContinuous(await counterLines(sbx));
      const info = await sbx.getInfo();
      assert.deepEqual(info.capabilities, {
        pause: true,
        hibernateWithMemory: isolation === 'gvisor',
        fork: isolation === 'gvisor',
        perProcessOom: isolation === 'container',
      });
    });
  });
}

for (const isolation of ['container', 'gvisor'] as const) {
  describe(`background command output across pause/resume and hibernate (${isolation})`, () => {
    it('streams without a gap or a repeat through 20 pause/resume cycles', async () => {
      const sbx = await sandbox({ isolation });
      let seen = '';
      const handle = await sbx.commands.run('for i in $(seq 1 100000); do echo $i; sleep 0.02; done', {
        background: true,
        timeoutMs: 0,
        onStdout: (d) => {
          seen += d;
        },
      });
      await waitFor('output', async () => (seen.length > 5 ? true : undefined));
      for (let i = 0; i < 20; i++) {
        await sbx.pause();
        await sbx.resume();
      }
      const count = seen.split('\n').length;
      await waitFor('more output', async () => (seen.split('\n').length > count + 5 ? true : undefined));
      const numbers = seen
        .split('\n')
        .filter((l) => l.length > 0)
        .map(Number);
      for (const [i, n] of numbers.entries()) assert.equal(n, i + 1, 'the stream is continuous');
      if (isolation === 'gvisor') {
        // Hibernate closes every connection to the agent; the durable process's output log
        // lets a client reattach and read on from offset 0 without a gap.
        handle.disconnect();
        await sbx.hibernate();
        await sbx.resume();
        const again = await sbx.commands.connect(handle.id, { fromOffset: 0 });
        let replay = '';
        for await (const ev of again.events(0)) {
          if (ev.type === 'stdout') replay += ev.data;
          if (replay.split('\n').length > numbers.length + 10) break;
        }
        const after = replay
          .split('\n')
          .filter((l) => l.length > 0)
          .map(Number);
        for (const [i, n] of after.entries()) assert.equal(n, i + 1, 'continuous across hibernation');
      }
      await handle.kill();
    });
  });
}

describe('hibernate', () => {
  it('gVisor: 10 hibernate/resume cycles keep memory, processes and files', async () => {
    const sbx = await sandbox({ isolation: 'gvisor', autoResume: true });
    await startCounter(sbx);
    await sbx.files.write('/home/user/before.txt', 'written before');
    for (let i = 0; i < 10; i++) {
      assert.equal((await sbx.hibernate()).state, 'hibernated');
      assert.equal((await sbx.resume()).state, 'running');
    }
    await sbx.hibernate();
    // autoResume: a command resumes it.
    assert.equal((await sbx.commands.run('cat /home/user/before.txt')).stdout, 'written before');
    const before = (await counterLines(sbx)).length;
    await waitFor('the counter to go on', async () =>
      (await counterLines(sbx)).length > before + 2 ? true : undefined,
    );
    assertContinuous(await counterLines(sbx));
    assert.equal((await sbx.getInfo()).processesRestarted, undefined);
  });

  it('crun: keepMemory must be false; files survive, processes restart and the API says so', async () => {
    const sbx = await sandbox({ isolation: 'container' });
    await startCounter(sbx);
    await assert.rejects(
      sbx.hibernate(),
      (e: unknown) => e instanceof InvalidArgumentError && /keepMemory/.test(e.message),
    );
    assert.equal((await sbx.getInfo()).state, 'running', 'a refused hibernate changes nothing');
    await sbx.files.write('/home/user/before.txt', 'written before');
    for (let i = 0; i < 3; i++) {
      assert.equal((await sbx.hibernate({ keepMemory: false })).state, 'hibernated');
      const info = await sbx.resume();
      assert.equal(info.state, 'running');
      assert.equal(info.processesRestarted, true);
    }
    assert.equal(await sbx.files.read('/home/user/before.txt'), 'written before');
    const lines = await counterLines(sbx);
    const still = (await counterLines(sbx)).length;
    assert.ok(lines.length > 0 && still === lines.length, 'the counter file is intact, its process did not survive');
  });

  it('refuses to hibernate or pause a killed sandbox', async () => {
    const sbx = await sandbox({ isolation: 'container' });
    await sbx.kill();
    await assert.rejects(sbx.hibernate({ keepMemory: false }), SandboxNotRunningError);
    await assert.rejects(sbx.pause(), SandboxNotRunningError);
    await assert.rejects(sbx.resume(), SandboxNotRunningError);
  });
});

describe('timeouts', () => {
  it('pauses at timeout, then an autoResume sandbox resumes on the next command', async () => {
    const sbx = await sandbox({ isolation: 'container', timeoutMs: 1_000, onTimeout: 'pause', autoResume: true });
    await startCounter(sbx);
    await waitFor('the timeout to pause it', async () => ((await sbx.getInfo()).state === 'paused' ? true : undefined));
    const info = await sbx.getInfo();
    assert.equal(info.onTimeout, 'pause');
    assert.equal(info.retentionMs, 7 * 24 * 3_600_000);
    assert.equal((await sbx.commands.run('echo back')).stdout, 'back\n');
    assert.equal((await sbx.getInfo()).state, 'running');
    assertContinuous(await counterLines(sbx));
    await sbx.kill();
  });

  it('rejects bad timeout settings naming the field', async () => {
    await assert.rejects(
      sandbox({ isolation: 'container', onTimeout: 'hibernate' }),
      (e: unknown) => e instanceof InvalidArgumentError && /onTimeout/.test(e.message),
    );
    await assert.rejects(
      sandbox({ retentionMs: 5 }),
      (e: unknown) => e instanceof InvalidArgumentError && /retentionMs/.test(e.message),
    );
    await assert.rejects(
      sandbox({ onTimeout: 'sleep' as 'pause' }),
      (e: unknown) => e instanceof InvalidArgumentError && /onTimeout/.test(e.message),
    );
  });
});

describe('snapshots', () => {
  it('turns a running sandbox into a template; in use cannot be deleted; name taken is a conflict', async () => {
    const sbx = await sandbox({ isolation: 'container' });
    await sbx.files.write('/home/user/env.txt', 'from the snapshot');
    await sbx.commands.run('rm -f /etc/motd', { user: 'root' });
    const name = `snap-${suffix}`;
    snapshots.push(name);
    const snap = await sbx.snapshot({ name });
    assert.equal(snap.name, name);
    assert.equal(snap.baseTemplate, 'base');
    assert.equal((await sbx.getInfo()).state, 'running', 'a running sandbox keeps running');
    await assert.rejects(sbx.snapshot({ name }), ConflictError);
    await assert.rejects(sbx.snapshot({ name: 'base' }), ConflictError);
    await assert.rejects(sbx.snapshot({ name: 'Bad Name' }), InvalidArgumentError);
    const child = await sandbox({ template: name, isolation: 'gvisor' });
    assert.equal(await child.files.read('/home/user/env.txt'), 'from the snapshot');
    assert.equal((await child.commands.run('test -e /etc/motd', { throwOnError: false })).exitCode, 1, 'deletions too');
    assert.ok((await Snapshot.list(fixture.conn)).some((s) => s.name === name));
    await assert.rejects(Snapshot.delete(name, fixture.conn), ConflictError);
    await child.kill();
    await Snapshot.delete(name, fixture.conn);
    await assert.rejects(Snapshot.delete(name, fixture.conn), NotFoundError);
  });
});

describe('fork', () => {
  it('gVisor: 4 forks share the memory state and have their own filesystems', async () => {
    const parent = await sandbox({ isolation: 'gvisor' });
    await startCounter(parent);
    const token = (await counterLines(parent))[0]?.token;
    const forks = await Sandbox.fork(parent.id, { ...fixture.conn, count: 4, metadata: { suite: 'state' } });
    assert.equal(forks.length, 4);
    for (const [i, f] of forks.entries()) {
      await waitFor('the fork to count', async () => ((await counterLines(f)).length > 2 ? true : undefined));
      const lines = await counterLines(f);
      assert.equal(lines.at(-1)?.token, token, 'the same in-memory value in each fork');
      assertContinuous(lines);
      await f.files.write('/home/user/mine.txt', `fork ${i}`);
    }
    for (const [i, f] of forks.entries()) assert.equal(await f.files.read('/home/user/mine.txt'), `fork ${i}`);
    await assert.rejects(parent.files.read('/home/user/mine.txt'), NotFoundError);
    assert.equal((await parent.getInfo()).state, 'running');
  });

  it('rejects count 0, a count above the maximum, and crun sandboxes', async () => {
    const crun = await sandbox({ isolation: 'container' });
    await assert.rejects(Sandbox.fork(crun.id, { ...fixture.conn, count: 0 }), InvalidArgumentError);
    await assert.rejects(
      Sandbox.fork(crun.id, { ...fixture.conn, count: 17 }),
      (e: unknown) => e instanceof InvalidArgumentError && /count/.test(e.message),
    );
    await assert.rejects(
      Sandbox.fork(crun.id, { ...fixture.conn, count: 1 }),
      (e: unknown) => e instanceof InvalidArgumentError && /gvisor/.test(e.message),
    );
    await assert.rejects(Sandbox.fork('nosuchsandbox0000000', { ...fixture.conn, count: 1 }), NotFoundError);
  });
});

describe('volumes', () => {
  it('are shared read-write and read-only, capped (DISK_FULL keeps what was written), and cannot be deleted in use', async () => {
    const name = `vol-${suffix}`;
    volumes.push(name);
    const vol = await Volume.create({ ...fixture.conn, name, sizeMiB: 32 });
    await assert.rejects(Volume.create({ ...fixture.conn, name, sizeMiB: 32 }), ConflictError);
    await assert.rejects(Volume.create({ ...fixture.conn, name: 'Bad/Name', sizeMiB: 32 }), InvalidArgumentError);
    await assert.rejects(Volume.create({ ...fixture.conn, name: `${name}x`, sizeMiB: 1 }), InvalidArgumentError);
    await assert.rejects(sandbox({ volumes: [{ name: 'no-such-volume', path: '/mnt/x' }] }), NotFoundError);
    await assert.rejects(sandbox({ volumes: [{ name, path: 'relative' }] }), InvalidArgumentError);
    const writer = await sandbox({ isolation: 'container', volumes: [{ name, path: '/mnt/data' }] });
    const reader = await sandbox({ isolation: 'gvisor', volumes: [{ name, path: '/mnt/data', readOnly: true }] });
    await writer.files.write('/mnt/data/keep.txt', 'kept');
    assert.equal(await reader.files.read('/mnt/data/keep.txt'), 'kept');
    const denied = await reader.commands.run('echo x > /mnt/data/nope.txt', { throwOnError: false });
    assert.notEqual(denied.exitCode, 0, 'a read-only mount refuses writes');
    await assert.rejects(writer.files.write('/mnt/data/big.bin', new Uint8Array(48 * 1024 * 1024)), DiskFullError);
    assert.equal(await writer.files.read('/mnt/data/keep.txt'), 'kept', 'nothing already written is lost');
    await assert.rejects(vol.delete(), ConflictError);
    assert.deepEqual((await vol.getInfo()).usedBy.sort(), [writer.id, reader.id].sort());
    await writer.kill();
    await reader.kill();
    const again = await sandbox({ isolation: 'container', volumes: [{ name, path: '/mnt/data' }] });
    assert.equal(await again.files.read('/mnt/data/keep.txt'), 'kept', 'survives the sandboxes');
    await again.kill();
    await vol.delete();
    await assert.rejects(Volume.connect(name, fixture.conn), NotFoundError);
  });
});
