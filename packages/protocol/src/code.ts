import { z } from 'zod';
import { CommandEnv } from './env.js';

/** Languages the code interpreter runs: Python on ipykernel, JavaScript on Node, bash. */
export const CodeLanguage = z.enum(['python', 'javascript', 'bash']);
export type CodeLanguage = z.infer<typeof CodeLanguage>;

/** Bounds of code runs; the server names the field when a value falls outside them. */
export const CODE_LIMITS = {
  codeBytes: 16 * 1_048_576,
  /** Default 5 minutes per cell; 0 means no limit. */
  timeoutMs: { max: 24 * 3_600_000, default: 300_000 },
  /** Output of one cell (stdout + stderr) beyond this is dropped and a marker says so. */
  outputBytes: 8 * 1_048_576,
} as const;

/** A context id: lowercase letters and digits (a language name for that language's default context). */
const ContextId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+$/, 'context ids are lowercase letters and digits');

/**
 * Body of `POST /v1/sandboxes/:id/code` (and of the agent's `POST /code/run`). Without
 * `contextId` the code runs in the default context of `language` (default `python`).
 */
export const RunCodeRequest = z.strictObject({
  code: z.string().max(CODE_LIMITS.codeBytes),
  language: CodeLanguage.optional(),
  contextId: ContextId.optional(),
  /** Interrupt the cell after this long (KeyboardInterrupt in Python); the context keeps its state. */
  timeoutMs: z.int().min(0).max(CODE_LIMITS.timeoutMs.max).optional(),
  /**
   * Variables for this cell, over the sandbox's `env` (the server sends both, merged). The
   * kernel keeps what the cell changes itself; the next cell without a variable sees it
   * reset to the sandbox's value (or removed).
   */
  env: CommandEnv.optional(),
});
export type RunCodeRequest = z.infer<typeof RunCodeRequest>;

/** Body of `POST /v1/sandboxes/:id/code/contexts`. */
export const CreateCodeContextRequest = z.strictObject({
  language: CodeLanguage.optional(),
  /** Absolute working directory of the kernel; default the template's workdir. */
  cwd: z.string().min(1).max(4_096).optional(),
  /** User the kernel runs as; default `user`. */
  user: z.string().min(1).max(64).optional(),
});
export type CreateCodeContextRequest = z.infer<typeof CreateCodeContextRequest>;

/** A code context: one kernel with its own variables and working directory. */
export const CodeContext = z.object({
  id: z.string(),
  language: CodeLanguage,
  cwd: z.string(),
  user: z.string(),
  /** True while its kernel process is up (kernels start on first use, or at boot for the default one). */
  running: z.boolean(),
});
export type CodeContext = z.infer<typeof CodeContext>;

/** Body of `GET /v1/sandboxes/:id/code/contexts`. */
export const CodeContextList = z.object({ contexts: z.array(CodeContext) });
export type CodeContextList = z.infer<typeof CodeContextList>;

/** Body of the agent's context calls that name one context. */
export const CodeContextRef = z.strictObject({ contextId: ContextId });
export type CodeContextRef = z.infer<typeof CodeContextRef>;

/** A matplotlib chart as data: one axes' type, labels and element values. */
export const Chart = z.looseObject({
  type: z.string(),
  title: z.string().optional(),
  xLabel: z.string().optional(),
  yLabel: z.string().optional(),
  elements: z.array(z.unknown()),
});
export type Chart = z.infer<typeof Chart>;

/**
 * One displayed object with every representation it offers. Images are base64; `data` is
 * a table (`{ columns, index, rows }`, JSON-safe); `chart` is a figure's data.
 */
export const CodeResult = z.object({
  text: z.string().optional(),
  html: z.string().optional(),
  markdown: z.string().optional(),
  svg: z.string().optional(),
  png: z.string().optional(),
  jpeg: z.string().optional(),
  pdf: z.string().optional(),
  latex: z.string().optional(),
  json: z.unknown().optional(),
  javascript: z.string().optional(),
  data: z.unknown().optional(),
  chart: Chart.optional(),
  /** Other MIME types, by MIME type. */
  extra: z.record(z.string(), z.unknown()).optional(),
  /** True for the value of the cell's last expression (the `execute_result`). */
  isMainResult: z.boolean(),
});
export type CodeResult = z.infer<typeof CodeResult>;

/** An exception raised by the cell (a cell error, not an API error). */
export const ExecutionError = z.object({ name: z.string(), value: z.string(), traceback: z.string() });
export type ExecutionError = z.infer<typeof ExecutionError>;

/**
 * One line of the NDJSON stream a code run answers with, in the order produced: output,
 * results and at most one `exception`, then exactly one `end` (or an API `error`).
 */
export const CodeEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('start'), contextId: z.string() }),
  z.object({ type: z.literal('stdout'), text: z.string() }),
  z.object({ type: z.literal('stderr'), text: z.string() }),
  z.object({ type: z.literal('result'), result: CodeResult }),
  z.object({ type: z.literal('exception'), error: ExecutionError }),
  z.object({
    type: z.literal('end'),
    executionCount: z.number().nullable(),
    /** True when `timeoutMs` ran out and the cell was interrupted. */
    timedOut: z.boolean().optional(),
    /** True when output passed the cap and the rest was dropped. */
    truncated: z.boolean().optional(),
  }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  }),
]);
export type CodeEvent = z.infer<typeof CodeEvent>;
