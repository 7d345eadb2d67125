/**
 * Paddock TypeScript SDK.
 *
 * @example
 * ```ts
 * import { Sandbox } from '@paddock/sdk'
 * await using sbx = await Sandbox.create()
 * console.log((await sbx.commands.run('echo hi')).stdout)
 * ```
 */

export type {
  ErrorCode,
  FileInfo,
  Isolation,
  SandboxInfo,
  SandboxState,
  TemplateBuildEvent,
  TemplateInfo,
  TemplateSpecInput,
} from '@paddock/protocol';
export { type CommandOutputEvent, type CommandResult, Commands, type RunOptions } from './commands.js';
export { Connection, type ConnectionOptions } from './connection.js';
export * from './errors.js';
export { type FileOptions, Files, type WriteData } from './files.js';
export { Sandbox, type SandboxCreateOptions, type SandboxListOptions } from './sandbox.js';
export { Template, type TemplateBuildOptions } from './templates.js';
