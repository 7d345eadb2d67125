/**
 * One JSON line per event on stderr, which the runtime driver keeps as the sandbox's agent
 * log. A logging library (pino) would cost more bundle size and start time than the
 * agent itself, and the agent logs little: start, shutdown and unexpected failures.
 */
export type LogFields = Record<string, unknown>;

// The log file counts against the sandbox's disk cap: when the sandbox fills its disk, a line
// is lost, and the agent must not die of the write error.
process.stderr.on('error', () => {});

function write(level: 'info' | 'warn' | 'error', msg: string, fields?: LogFields): void {
  const line = { time: new Date().toISOString(), level, msg, ...fields };
  process.stderr.write(`${JSON.stringify(line, errorReplacer)}\n`);
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
}

export const log = {
  info: (msg: string, fields?: LogFields) => write('info', msg, fields),
  warn: (msg: string, fields?: LogFields) => write('warn', msg, fields),
  error: (msg: string, fields?: LogFields) => write('error', msg, fields),
};
