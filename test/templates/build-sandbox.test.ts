/**
 * A build step's sandbox reaches what it needs even when the data dir is closed to everyone
 * but host root (mode 0700): host root binds the step's tools into the holder's namespace.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dataPaths } from '../../packages/server/src/paths.js';
import { runInRootfs } from '../../packages/server/src/templates/sandbox-exec.js';
import { asUserArgv, buildTools } from '../../packages/server/src/templates/steps/build-tools.js';
import { baseTemplateRootfs } from '../support/base-image.js';
import { TEST_ROOT } from '../support/env.js';

let root = '';
after(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true });
});

test('the lent setpriv runs a step as its user from a data dir of mode 0700', async () => {
  root = await mkdtemp(join(TEST_ROOT, 'closed-'));
  const dataDir = join(root, 'data');
  await mkdir(dataDir);
  await chmod(root, 0o700);
  await chmod(dataDir, 0o700);
  const tools = await buildTools(dataPaths(dataDir));
  const result = await runInRootfs({
    // Only read: `id` writes nothing into the shared base rootfs.
    rootfs: baseTemplateRootfs(),
    argv: asUserArgv({ uid: 1000, gid: 1000, known: true }, ['/usr/bin/id', '-u']),
    env: { PATH: '/usr/bin:/bin' },
    tools,
  });
  assert.equal(result.exitCode, 0, result.tail.join('\n'));
  assert.deepEqual(result.tail, ['1000']);
});
