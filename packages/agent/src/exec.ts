import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CommandEvent, type ProcessEvent, RunCommandRequest } from '@paddock/protocol';
import type { AgentConfig } from './config.js';
import { closeSignal, processEvents, writeEvents } from './processes/process-events.js';
import { killAllProcesses, processTable } from './processes/process-routes.js';
import { parseInput, readJson } from './request-input.js';

/** Kills every running command's process tree (agent shutdown). */
export function killAllCommands(): void {
  killAllProcesses();
}

/**
 * `POST /exec`: a foreground process of the process table (so it is listed, and its
 * output retained, like every other), streamed as the older `CommandEvent`s whose offsets
 * count the bytes of each stream separately. Closing the stream kills its tree.
 */
export async function handleExec(req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  const request = parseInput(RunCommandRequest, await readJson(req));
  const proc = processTable(config).start(request, config);
  const signal = closeSignal(res);
  const onClose = () => {
    if (proc.exit === undefined) proc.signal('SIGKILL', 'tree');
  };
  if (res.destroyed) onClose();
  else res.once('close', onClose);
  await writeEvents(res, asCommandEvents(processEvents(proc, 0, signal)), proc);
}

async function* asCommandEvents(events: AsyncIterable<ProcessEvent>): AsyncGenerator<CommandEvent> {
  const sent = { stdout: 0, stderr: 0 };
  for await (const event of events) {
    switch (event.type) {
      case 'start':
        yield { type: 'start', pid: event.pid };
        break;
      case 'stdout':
      case 'stderr':
        yield { type: event.type, data: event.data, offset: sent[event.type] };
        sent[event.type] += Buffer.byteLength(event.data, 'base64');
        break;
      case 'exit': {
        const { offset: _, ...exit } = event;
        yield exit;
        break;
      }
      // The owner holds the output back (see writeEvents), so nothing is dropped for it.
      case 'truncated':
      case 'error':
        break;
    }
  }
}
