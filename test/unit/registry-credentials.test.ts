import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { registryCredentials, registryHost } from '../../packages/sdk/src/cli/registry-credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'paddock-docker-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.PADDOCK_REGISTRY_USERNAME;
  delete process.env.PADDOCK_REGISTRY_PASSWORD;
});

const config = join(dir, 'config.json');
writeFileSync(
  config,
  JSON.stringify({
    auths: {
      'registry.example:5000': { auth: Buffer.from('bot:s3cr:et').toString('base64') },
      'https://index.docker.io/v1/': { username: 'hubuser', password: 'hubpass' },
    },
  }),
);

describe('registry credentials for the CLI', () => {
  it('names the registry of a reference as docker does', () => {
    assert.equal(registryHost('python:3.12'), 'docker.io');
    assert.equal(registryHost('team/agent:1'), 'docker.io');
    assert.equal(registryHost('registry.example:5000/team/agent:1'), 'registry.example:5000');
    assert.equal(registryHost('localhost/agent'), 'localhost');
  });

  it("reads docker's config.json: base64 auth (a password may hold ':') and Docker Hub's key", async () => {
    assert.deepEqual(await registryCredentials('registry.example:5000/team/agent:1', { authfile: config }), {
      username: 'bot',
      password: 's3cr:et',
    });
    assert.deepEqual(await registryCredentials('python:3.12', { authfile: config }), {
      username: 'hubuser',
      password: 'hubpass',
    });
    assert.equal(await registryCredentials('other.example/x', { authfile: config }), undefined);
  });

  it('the environment comes before config.json', async () => {
    process.env.PADDOCK_REGISTRY_USERNAME = 'envuser';
    process.env.PADDOCK_REGISTRY_PASSWORD = 'envpass';
    assert.deepEqual(await registryCredentials('registry.example:5000/x', { authfile: config }), {
      username: 'envuser',
      password: 'envpass',
    });
  });

  it('--username without --password-stdin, or an unreadable --authfile, is an error naming the flag', async () => {
    await assert.rejects(registryCredentials('x', { username: 'u' }), /--password-stdin/);
    await assert.rejects(registryCredentials('x', { authfile: join(dir, 'missing.json') }), /--authfile/);
  });
});
