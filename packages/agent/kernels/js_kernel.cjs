// The JavaScript kernel of a Paddock code context, run by the agent's own Node (so no
// Node is needed in the template). Requests arrive as JSON lines on stdin
// ({"type":"execute","code"}); events leave as JSON lines on fd 3, the same protocol as
// python_relay.py. process.stdout/stderr writes (console.log included) become
// stdout/stderr events on that channel, so output and results stay in order.
//
// Cells run as scripts in this process's global context, which is what keeps state:
// top-level `const`/`let`/`class` live in the context's global lexical scope, `var` and
// functions on globalThis. A cell with top-level `await` goes through Node's REPL
// evaluator, which rewrites it into an async function that hoists its declarations.
'use strict';
const fs = require('node:fs');
const repl = require('node:repl');
const { PassThrough } = require('node:stream');
const util = require('node:util');
const vm = require('node:vm');
const { createRequire } = require('node:module');
const path = require('node:path');

const OUTPUT_CAP = Number(process.env.PADDOCK_OUTPUT_CAP_BYTES || 8 * 1048576);
const CHANNEL_FD = 3;

function emit(event) {
  fs.writeSync(CHANNEL_FD, `${JSON.stringify(event)}\n`);
}

let sent = 0;
let truncated = false;
function output(type, chunk) {
  if (truncated) return;
  let text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  if (sent + text.length > OUTPUT_CAP) {
    text = text.slice(0, Math.max(0, OUTPUT_CAP - sent));
    truncated = true;
    if (text) emit({ type, text });
    emit({ type: 'stderr', text: `\n[paddock: output truncated after ${OUTPUT_CAP} characters]\n` });
    return;
  }
  sent += text.length;
  emit({ type, text });
}
for (const type of ['stdout', 'stderr']) {
  process[type].write = (chunk, encoding, callback) => {
    output(type, chunk);
    const cb = typeof encoding === 'function' ? encoding : callback;
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
}

// `require` and module paths resolve from the context's working directory, like a REPL.
globalThis.require = createRequire(path.join(process.cwd(), '[paddock-cell]'));

const replServer = repl.start({
  input: new PassThrough(),
  output: new PassThrough(),
  terminal: false,
  useGlobal: true,
  prompt: '',
});
let pendingAwait;
// The REPL reports failures of `await` cells to its domain, not to the eval callback.
replServer._domain.removeAllListeners('error');
replServer._domain.on('error', (err) => {
  const settle = pendingAwait;
  pendingAwait = undefined;
  if (settle) settle({ error: err });
});

function evalWithAwait(code) {
  return new Promise((resolve) => {
    pendingAwait = resolve;
    replServer.eval(code, replServer.context, 'cell', (error, value) => {
      pendingAwait = undefined;
      // A "recoverable" error is an incomplete cell (an unclosed brace).
      if (error && error.constructor && error.constructor.name === 'Recoverable') resolve({ error: error.err });
      else resolve(error ? { error } : { value });
    });
  });
}

async function evaluate(code, timeoutMs) {
  let script;
  try {
    script = new vm.Script(code, { filename: 'cell' });
  } catch (error) {
    // Top-level await does not compile as a script; the REPL's rewrite handles it.
    if (/\bawait\b/.test(code)) return evalWithAwait(code);
    return { error };
  }
  try {
    // vm's own timeout is what can stop synchronous code (a SIGINT cannot).
    let value = script.runInThisContext(timeoutMs > 0 ? { displayErrors: false, timeout: timeoutMs } : {});
    // A cell that ends with a promise shows what it resolves to, like a REPL.
    if (value instanceof Promise) value = await value;
    return { value };
  } catch (error) {
    return { error };
  }
}

/** Drops the kernel's own frames from a stack: the user sees their cell only. */
function userFrames(stack) {
  return stack
    .split('\n')
    .filter((line) => !/^\s+at .*(js_kernel\.cjs|node:vm|node:repl|node:domain|node:internal)/.test(line))
    .join('\n');
}

function describeError(error) {
  if (error instanceof Error || (error && typeof error === 'object' && 'stack' in error)) {
    return {
      name: String(error.name || 'Error'),
      value: String(error.message ?? ''),
      traceback: userFrames(String(error.stack || `${error.name}: ${error.message}`)),
    };
  }
  return { name: 'Error', value: util.inspect(error), traceback: `Uncaught ${util.inspect(error)}` };
}

function resultOf(value) {
  const result = { isMainResult: true, text: util.inspect(value, { depth: 4, colors: false }) };
  try {
    if (value !== null && typeof value === 'object') {
      const json = JSON.stringify(value);
      if (json !== undefined && json.length <= OUTPUT_CAP) result.json = JSON.parse(json);
    }
  } catch {
    // Cyclic or not serialisable: text only.
  }
  return result;
}

let executionCount = 0;
/** Ends the running cell's wait (its pending promises keep running, unobserved). */
let interruptCell;
const queue = [];
let busy = false;

async function runNext() {
  if (busy) return;
  busy = true;
  while (queue.length > 0) {
    const request = queue.shift();
    sent = 0;
    truncated = false;
    if (request.code.trim() !== '') {
      executionCount += 1;
      const interrupted = new Promise((resolve) => {
        interruptCell = () => resolve({ error: Object.assign(new Error('the cell was interrupted'), { name: 'Interrupted' }) });
      });
      const { value, error } = await Promise.race([evaluate(request.code, request.timeoutMs), interrupted]);
      interruptCell = undefined;
      if (error !== undefined) emit({ type: 'exception', error: describeError(error) });
      else if (value !== undefined) emit({ type: 'result', result: resultOf(value) });
      emit({ type: 'end', executionCount, ...(truncated ? { truncated: true } : {}) });
    } else {
      emit({ type: 'end', executionCount: null });
    }
  }
  busy = false;
}

// An error thrown later by a callback of an earlier cell is shown, not fatal.
process.on('uncaughtException', (error) => output('stderr', `Uncaught ${describeError(error).traceback}\n`));
process.on('unhandledRejection', (error) => output('stderr', `Unhandled rejection ${describeError(error).traceback}\n`));
// SIGINT (a timeout) cannot stop synchronous code here; the agent then restarts the kernel.
process.on('SIGINT', () => {});

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let newline = buffered.indexOf('\n');
  while (newline >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    newline = buffered.indexOf('\n');
    let request;
    try {
      request = JSON.parse(line);
    } catch {
      continue;
    }
    if (request.type === 'execute') {
      queue.push({ code: String(request.code ?? ''), timeoutMs: Number(request.timeoutMs ?? 0) });
      void runNext();
    } else if (request.type === 'interrupt') {
      interruptCell?.();
    }
  }
});
process.stdin.on('end', () => process.exit(0));
emit({ type: 'ready' });
