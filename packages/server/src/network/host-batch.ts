import { spawn } from 'node:child_process';
import { HostCommandError } from '../runtime/host-command.js';

/**
 * Runs a host binary with `input` on its stdin (`ip -batch -`, `nft -f -`, `tc -batch -`):
 * one fork for many changes. Rejects with what it printed when it exits non-zero.
 */
export function hostBatch(
  file: string,
  args: readonly string[],
  input: string,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      killSignal: 'SIGKILL',
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.on('error', () => undefined); // a child that dies early closes its stdin; the exit code says why
    child.once('error', (error) => {
      reject(options.signal?.aborted ? options.signal.reason : error);
    });
    child.once('close', (code) => {
      if (code === 0) resolve(stdout);
      else if (options.signal?.aborted) reject(options.signal.reason);
      else {
        const firstLine = input.split('\n', 1)[0] ?? '';
        reject(
          new HostCommandError(`${file} ${args.join(' ')} (input: ${firstLine}…): ${stderr.trim()}`, code, stderr),
        );
      }
    });
    child.stdin.end(input);
  });
}
