import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { Sandbox } from '@paddock/sdk';
import { TEST_API_KEY } from '../support/env.js';
import { WEB_SERVER_SOURCE, webServerCommand } from '../support/sandbox-web-server.js';
import { waitFor } from '../support/server.js';
import { ServerProcess } from '../support/server-process.js';

// A server of its own, run as a child, so the test can restart it.
const serverPort = 19_000 + (process.pid % 1000);
const server = new ServerProcess(serverPort);
const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };
const made: Sandbox[] = [];

after(async () => {
  if (server.child?.exitCode === null) await Promise.allSettled(made.map((s) => s.kill()));
  await server.stop('SIGTERM');
});

function status(host: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: serverPort, path: '/hello', headers: { host, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('exposed ports across a server restart', () => {
  it('a token minted before the restart still opens its port; public ports stay public', async () => {
    await server.start();
    const sbx = await Sandbox.create(conn);
    made.push(sbx);
    await sbx.files.write('/tmp/web-server.cjs', WEB_SERVER_SOURCE);
    for (const port of [3000, 3001]) {
      await sbx.commands.run(webServerCommand('/tmp/web-server.cjs', port), { background: true });
    }
    await waitFor('both ports to listen', async () => {
      const listening = (await sbx.ports.list()).filter((p) => p.listening).map((p) => p.port);
      return listening.includes(3000) && listening.includes(3001) ? true : undefined;
    });
    const { token, host } = await sbx.ports.access(3000);
    await sbx.ports.setPublic(3001, true);
    assert.equal(await status(host, { 'x-paddock-token': token }), 200);

    await server.stop('SIGTERM');
    await server.start();

    assert.equal(await status(host, { 'x-paddock-token': token }), 200, 'the signing secret survived');
    assert.equal(await status(host), 401);
    assert.equal(await status(sbx.getHost(3001)), 200, 'the public flag survived');
    assert.equal((await sbx.ports.list()).find((p) => p.port === 3001)?.public, true);
  });
});
