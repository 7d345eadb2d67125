import { parseNdjson } from '@paddock/protocol';
import type { CommandResult } from './commands.js';
import { CommandExitError, errorFromBody, SandboxError, TimeoutError, UnavailableError } from './errors.js';

/** An output chunk as the SDK hands it out: text for convenience, the raw bytes, its offset. */
export interface OutputChunk {
  type: 'stdout' | 'stderr';
  data: string;
  bytes: Uint8Array;
  offset: number;
}

type WireChunk = { type: 'stdout' | 'stderr'; data: string; offset: number };
type WireError = { type: 'error'; error: { code: string; message: string } };

/**
 * Reads an NDJSON stream of process events (commands, background processes): parses each
 * line with `parse`, throws the typed error of an `error` event, and decodes output chunks
 * (UTF-8 across chunk boundaries); other events pass through unchanged.
 */
export async function* decodeOutputEvents<E extends { type: string }>(
  body: AsyncIterable<Uint8Array | string>,
  parse: (raw: unknown) => E,
): AsyncGenerator<Exclude<E, { type: 'stdout' | 'stderr' | 'error' }> | OutputChunk> {
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  for await (const raw of brokenAsUnavailable(parseNdjson(body))) {
    const event = parse(raw);
    if (event.type === 'error') throw errorFromBody((event as unknown as WireError).error as never);
    if (event.type === 'stdout' || event.type === 'stderr') {
      const chunk = event as unknown as WireChunk;
      const bytes = Buffer.from(chunk.data, 'base64');
      yield {
        type: chunk.type,
        data: decoders[chunk.type].decode(bytes, { stream: true }),
        bytes,
        offset: chunk.offset,
      };
    } else {
      yield event as Exclude<E, { type: 'stdout' | 'stderr' | 'error' }>;
    }
  }
}

/**
 * A connection cut mid-stream (a server stopped without a last event, a proxy in between)
 * as a typed, retryable error instead of Node's bare `aborted`/ECONNRESET.
 */
async function* brokenAsUnavailable(values: AsyncIterable<unknown>): AsyncGenerator<unknown> {
  try {
    yield* values;
  } catch (err) {
    if (err instanceof SandboxError || (err as Error)?.name === 'AbortError' || err instanceof SyntaxError) throw err;
    const code = (err as NodeJS.ErrnoException)?.code;
    if ((err as Error)?.message !== 'aborted' && code !== 'ECONNRESET' && code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      throw err;
    }
    throw new UnavailableError(
      'UNAVAILABLE',
      'the connection to the server broke before the stream ended; background processes keep running: follow them again by offset',
      { cause: err },
    );
  }
}

/** The exit fields a command or process stream ends with. */
interface ExitEvent {
  type: 'exit';
  exitCode: number;
  signal?: string | undefined;
  timedOut?: boolean | undefined;
  oomKilled?: boolean | undefined;
}

/**
 * Reads output events to the end and builds the result: calls the callbacks per chunk,
 * throws `TimeoutError` (with `timeoutMessage`) when the command was killed for its
 * timeout, `CommandExitError` on a non-zero exit unless `throwOnError` is false, and
 * `noExit` when the stream ended without an exit event.
 */
export async function collectResult(
  events: AsyncIterable<OutputChunk | ExitEvent | { type: string }>,
  opts: {
    onStdout?: ((data: string) => void) | undefined;
    onStderr?: ((data: string) => void) | undefined;
    throwOnError?: boolean | undefined;
    timeoutMessage: string;
    noExit: () => Error;
  },
): Promise<CommandResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let exit: ExitEvent | undefined;
  for await (const event of events) {
    if (event.type === 'stdout') {
      stdout.push((event as OutputChunk).data);
      opts.onStdout?.((event as OutputChunk).data);
    } else if (event.type === 'stderr') {
      stderr.push((event as OutputChunk).data);
      opts.onStderr?.((event as OutputChunk).data);
    } else if (event.type === 'exit') {
      exit = event as ExitEvent;
    }
  }
  if (!exit) throw opts.noExit();
  const result: CommandResult = { exitCode: exit.exitCode, stdout: stdout.join(''), stderr: stderr.join('') };
  if (exit.signal) result.signal = exit.signal;
  if (exit.oomKilled) result.oomKilled = true;
  if (exit.timedOut) throw new TimeoutError('TIMEOUT', opts.timeoutMessage, { details: { ...result } });
  if (opts.throwOnError !== false && exit.exitCode !== 0) {
    throw new CommandExitError(result.exitCode, result.stdout, result.stderr, result.signal);
  }
  return result;
}
