import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CODE_LIMITS, type CodeLanguage } from '@paddock/protocol';
import { type CommandPlan, planCommand } from '../command-plan.js';
import type { AgentConfig } from '../config.js';

/**
 * Where the kernel programs are: `kernels/` beside the running agent bundle
 * (/opt/paddock/kernels in a sandbox, packages/agent/dist/kernels on a dev host).
 */
export function kernelsDir(): string {
  return join(dirname(process.argv[1] ?? '.'), 'kernels');
}

/**
 * The command that starts the JavaScript kernel with the agent's own Node. In a sandbox
 * that Node runs through the dynamic loader and libraries mounted beside it
 * (runtime/oci-spec.ts AGENT_ARGS): the template's own libc may not match.
 */
function nodeArgv(script: string): string[] {
  // In a sandbox the agent runs as `/opt/paddock/lib/ld-linux-x86-64.so.2 … /opt/paddock/bin/node`,
  // so process.execPath names the loader, not node.
  const root = dirname(process.argv[1] ?? '.');
  const loader = join(root, 'lib', 'ld-linux-x86-64.so.2');
  const node = join(root, 'bin', 'node');
  if (existsSync(loader) && existsSync(node)) return [loader, '--library-path', join(root, 'lib'), node, script];
  return [process.execPath, script];
}

function kernelArgv(language: CodeLanguage): string[] {
  const dir = kernelsDir();
  switch (language) {
    case 'python':
      // `-u`: events and stray prints are not held in stdio buffers.
      return ['python3', '-u', join(dir, 'python_relay.py')];
    case 'javascript':
      return nodeArgv(join(dir, 'js_kernel.cjs'));
    case 'bash':
      return ['/bin/bash', '--norc', '--noprofile'];
  }
}

/**
 * Resolves user, cwd and environment of a kernel exactly as for a command; `env` (the
 * sandbox's, from the run that starts the kernel) goes over the template's.
 */
export function planKernel(
  language: CodeLanguage,
  where: { cwd?: string | undefined; user?: string | undefined },
  config: AgentConfig,
  env: Readonly<Record<string, string>> = {},
): CommandPlan {
  const plan = planCommand(
    {
      argv: kernelArgv(language),
      ...(where.cwd === undefined ? {} : { cwd: where.cwd }),
      ...(where.user === undefined ? {} : { user: where.user }),
      env: { ...env, PADDOCK_OUTPUT_CAP_BYTES: String(CODE_LIMITS.outputBytes), PYTHONUNBUFFERED: '1' },
    },
    config,
  );
  return plan;
}
