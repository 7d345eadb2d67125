import { z } from 'zod';

/** Kinds of directory entries. */
export const FileType = z.enum(['file', 'dir', 'symlink', 'other']);
export type FileType = z.infer<typeof FileType>;

/** What `stat`, `list` and `write` report about a path inside the sandbox. */
export const FileInfo = z.object({
  name: z.string(),
  path: z.string(),
  type: FileType,
  sizeBytes: z.number(),
  /** Permission bits, e.g. `0o644`. */
  mode: z.number(),
  owner: z.string(),
  group: z.string(),
  modifiedAt: z.string(),
  /** For symlinks: where the link points (not followed). */
  symlinkTarget: z.string().optional(),
});
export type FileInfo = z.infer<typeof FileInfo>;

/** Body of `GET /v1/sandboxes/:id/files/list`. */
export const FileList = z.object({ entries: z.array(FileInfo) });
export type FileList = z.infer<typeof FileList>;

/** Query of every file call: an absolute path inside the sandbox, without NUL bytes. */
export const SandboxPath = z
  .string()
  .min(1, 'path must not be empty')
  .max(4_096, 'path must be at most 4096 bytes')
  .refine((p) => p.startsWith('/'), 'path must be absolute (start with /)')
  .refine((p) => !p.includes('\0'), 'path must not contain NUL bytes');

/** Body of `POST /v1/sandboxes/:id/files/mkdir`. */
export const MkdirRequest = z.strictObject({ path: SandboxPath, user: z.string().min(1).max(64).optional() });
export type MkdirRequest = z.infer<typeof MkdirRequest>;

/** Body of `POST /v1/sandboxes/:id/files/rename`. */
export const RenameRequest = z.strictObject({
  from: SandboxPath,
  to: SandboxPath,
  user: z.string().min(1).max(64).optional(),
});
export type RenameRequest = z.infer<typeof RenameRequest>;

/** Body of `POST /v1/sandboxes/:id/files/remove`. Directories are removed with their contents. */
export const RemoveRequest = z.strictObject({ path: SandboxPath, user: z.string().min(1).max(64).optional() });
export type RemoveRequest = z.infer<typeof RemoveRequest>;
