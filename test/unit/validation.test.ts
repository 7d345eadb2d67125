import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CreateSandboxRequest, PaddockError, RunCommandRequest, SandboxPath } from '@paddock/protocol';
import { parseCopyEndpoint, parseDurationMs } from '../../packages/sdk/src/cli/parse.js';
import { parseOrThrow } from '../../packages/server/src/api/validate.js';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PaddockError);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err.message;
  }
  assert.fail('expected INVALID_ARGUMENT');
}

describe('request validation names the field', () => {
  it('create', () => {
    assert.match(
      message(() => parseOrThrow(CreateSandboxRequest, { memoryMiB: 0 }, 'r')),
      /`memoryMiB`/,
    );
    assert.match(
      message(() => parseOrThrow(CreateSandboxRequest, { cpus: -1 }, 'r')),
      /`cpus`/,
    );
    assert.match(
      message(() => parseOrThrow(CreateSandboxRequest, { memoryMib: 5 }, 'r')),
      /unknown field `memoryMib`/,
    );
    assert.match(
      message(() => parseOrThrow(CreateSandboxRequest, { env: { 'A-B': 'x' } }, 'r')),
      /`env\.A-B`: env name "A-B" is not valid/,
    );
    assert.deepEqual(parseOrThrow(CreateSandboxRequest, { template: 'base' }, 'r'), { template: 'base' });
  });

  it('commands and paths', () => {
    assert.match(
      message(() => parseOrThrow(RunCommandRequest, {}, 'r')),
      /exactly one of `cmd`/,
    );
    assert.match(
      message(() => parseOrThrow(RunCommandRequest, { cmd: 'a', argv: ['b'] }, 'r')),
      /exactly one/,
    );
    assert.match(
      message(() => parseOrThrow(RunCommandRequest, { cmd: 'a', timeoutMs: -1 }, 'r')),
      /`timeoutMs`/,
    );
    assert.match(
      message(() => parseOrThrow(SandboxPath, 'rel', 'path')),
      /absolute/,
    );
    assert.match(
      message(() => parseOrThrow(SandboxPath, '/a\0b', 'path')),
      /NUL/,
    );
  });

  it('CLI argument parsing', () => {
    assert.equal(parseDurationMs('10m'), 600_000);
    assert.equal(parseDurationMs('1500'), 1_500);
    assert.throws(() => parseDurationMs('soon'));
    assert.deepEqual(parseCopyEndpoint('abcdefghij0123456789:/home/user/x'), {
      sandboxId: 'abcdefghij0123456789',
      path: '/home/user/x',
    });
    assert.deepEqual(parseCopyEndpoint('./local:file'), { local: './local:file' });
  });
});
