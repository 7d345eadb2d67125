// The runtime's health and quiesce calls give up at their deadline, even against an agent that
// accepts the connection and never answers (a frozen or hung one).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { healthStatus, quiesceStatus } from '../../packages/server/src/agent-client/lifecycle-client.js';

let dir: string;
const sockets = new Set<Socket>();
const silent = createServer((socket) => sockets.add(socket));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paddock-lifecycle-'));
  await new Promise<void>((resolve) => silent.listen(join(dir, 'agent.sock'), resolve));
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

for (const [name, call] of [
  ['health', healthStatus],
  ['quiesce', quiesceStatus],
] as const) {
  test(`${name} rejects at its deadline when the agent never answers`, { timeout: 5_000 }, async () => {
    const started = Date.now();
    await assert.rejects(call(join(dir, 'agent.sock'), 200), new RegExp(`${name} request timed out`));
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 2_000, `gave up after ${took} ms, want about 200 ms`);
  });
}
