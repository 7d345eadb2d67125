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
export { Sandbox, type SandboxCreateOptions, type SandboxListOptions } from './sandbox.js';
export { Commands, type CommandResult, type CommandOutputEvent, type RunOptions } from './commands.js';
export { Files, type FileOptions, type WriteData } from './files.js';
export { Template, type TemplateBuildOptions } from './templates.js';
export { Connection, type ConnectionOptions } from './connection.js';
export * from './errors.js';
export type {
  FileInfo,
  Isolation,
  SandboxInfo,
  SandboxState,
  TemplateInfo,
  TemplateBuildEvent,
  TemplateSpecInput,
  ErrorCode,
} from '@paddock/protocol';
