import type { CommandEvent } from './commands.js';
import type { ProcessEvent } from './processes.js';

/**
 * A foreground process's events in the `CommandEvent` dialect of `POST …/commands`: the same
 * `start`, output and `exit`, except that output offsets count each stream's bytes apart
 * (`ProcessEvent`s count the combined output) and `exit` carries no offset. `truncated`
 * cannot reach a foreground owner (its reader holds the output back) and is dropped.
 *
 * @example
 * ```ts
 * for await (const event of commandEventsOf(processEvents)) console.log(event.type);
 * ```
 */
export async function* commandEventsOf(events: AsyncIterable<ProcessEvent>): AsyncGenerator<CommandEvent> {
  const sent = { stdout: 0, stderr: 0 };
  for await (const event of events) {
    switch (event.type) {
      case 'start':
        yield { type: 'start', pid: event.pid };
        break;
      case 'stdout':
      case 'stderr':
        yield { type: event.type, data: event.data, offset: sent[event.type] };
        sent[event.type] += base64Bytes(event.data);
        break;
      case 'exit': {
        const { offset: _, ...exit } = event;
        yield exit;
        break;
      }
      case 'error':
        yield event;
        break;
      case 'truncated':
        break;
    }
  }
}

/** Bytes a padded base64 string decodes to (no Buffer: the protocol also runs in browsers). */
function base64Bytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return (data.length / 4) * 3 - padding;
}
