import { z } from 'zod';
import { FileType, SandboxPath } from './files.js';

/** Longest `filter` of a watch: a path prefix or a glob (see `pathFilter`). */
export const MAX_WATCH_FILTER_LENGTH = 4_096;

/** A boolean query parameter: `true`/`false` (or `1`/`0`). */
const QueryBoolean = z
  .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1');

/**
 * Query of `GET /v1/sandboxes/:id/files/watch` (and of the agent's `GET /watch`).
 *
 * @example
 * ```
 * GET /v1/sandboxes/ID/files/watch?path=/home/user/app&recursive=true&filter=src/**\/*.ts
 * ```
 */
export const WatchQuery = z.strictObject({
  /** The directory to watch (absolute). */
  path: SandboxPath,
  /** Also watch every subdirectory, present and future. Default true. */
  recursive: QueryBoolean.optional(),
  /**
   * Only report paths that match: a path prefix relative to `path` (or absolute), or a glob
   * (`*`, `**`, `?`, `[…]`) on the relative path (on the file name when it has no `/`).
   */
  filter: z.string().min(1).max(MAX_WATCH_FILTER_LENGTH).optional(),
});
export type WatchQuery = z.infer<typeof WatchQuery>;

/** What happened to a path. */
export const WatchEventType = z.enum(['create', 'write', 'remove', 'rename']);
export type WatchEventType = z.infer<typeof WatchEventType>;

/**
 * One change under a watched directory. Events may be coalesced (a file created and then
 * written shows as one `create`; one created and removed between two looks may not show
 * at all), but the events always add up to the directory's current state. A removed
 * directory reports its contents removed first; a renamed directory is one `rename`, and
 * its contents move with it.
 */
export const WatchEvent = z.object({
  type: WatchEventType,
  /** Absolute path inside the sandbox (the new path for a rename). */
  path: z.string(),
  /** For `rename`: where the entry was before. */
  oldPath: z.string().optional(),
  fileType: FileType,
});
export type WatchEvent = z.infer<typeof WatchEvent>;

/**
 * One line of a watch's NDJSON stream: a `ready` once the directory is being watched (every
 * change after it is reported), then events; `keepalive` lines while nothing changes; an
 * `error` ends the stream (e.g. NOT_FOUND when the watched directory itself is removed).
 */
export const WatchLine = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('keepalive') }),
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  }),
  WatchEvent.extend({ type: z.literal('create') }),
  WatchEvent.extend({ type: z.literal('write') }),
  WatchEvent.extend({ type: z.literal('remove') }),
  WatchEvent.extend({ type: z.literal('rename') }),
]);
export type WatchLine = z.infer<typeof WatchLine>;

/** How often a quiet watch sends a `keepalive` line, so both ends notice a dead connection. */
export const WATCH_KEEPALIVE_MS = 15_000;
