import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UserDb } from '../../packages/agent/src/users.js';

const etc = mkdtempSync(join(tmpdir(), 'paddock-users-'));
after(() => rmSync(etc, { recursive: true, force: true }));
writeFileSync(join(etc, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/bash\n');
writeFileSync(join(etc, 'group'), 'root:x:0:\nnode:x:1000:\nstaff:x:50:node\n');
const users = UserDb.load(etc);

test('a name or uid in passwd resolves to its entry, with supplementary groups', () => {
  assert.deepEqual(users.resolve('node'), {
    name: 'node',
    uid: 1000,
    gid: 1000,
    home: '/home/node',
    shell: '/bin/bash',
    groups: [50],
  });
  assert.equal(users.resolve('1000').name, 'node');
});

test('Docker USER forms: a numeric uid without a passwd entry, and user:group', () => {
  assert.deepEqual(users.resolve('10001'), {
    name: '10001',
    uid: 10001,
    gid: 10001,
    home: '/',
    shell: '/bin/sh',
    groups: [],
  });
  assert.equal(users.resolve('node:staff').gid, 50);
  assert.equal(users.resolve('10001:42').gid, 42);
  assert.equal(users.resolve('root:node').gid, 1000);
});

test('unknown names are INVALID_ARGUMENT naming user', () => {
  assert.throws(() => users.resolve('nobody'), { code: 'INVALID_ARGUMENT', message: /no user "nobody"/ });
  assert.throws(() => users.resolve('node:wheel'), { code: 'INVALID_ARGUMENT', message: /no group "wheel"/ });
});
