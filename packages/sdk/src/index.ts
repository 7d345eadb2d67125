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
  DeniedAttemptInfo,
  EgressMode,
  ErrorCode,
  FileInfo,
  Isolation,
  NetworkInfo,
  NetworkRequest,
  NetworkStatus,
  OnTimeout,
  PortAccess,
  PortInfo,
  ProcessInfo,
  PtyInfo,
  PtySize,
  ReasonCode,
  SandboxCapabilities,
  SandboxInfo,
  SandboxState,
  SecretInfo,
  SecretSpec,
  SecretsRequest,
  SignalName,
  SignalScope,
  SnapshotInfo,
  TemplateBuildEvent,
  TemplateInfo,
  TemplateSpecInput,
  VolumeInfo,
  VolumeMount,
  WatchEvent,
} from '@paddock/protocol';
export {
  type Chart,
  type CodeContext,
  CodeContexts,
  CodeInterpreter,
  type CodeLanguage,
  type CreateCodeContextOptions,
  Execution,
  type ExecutionError,
  type ExecutionEvent,
  type Result,
  type ResultFormat,
  type RunCodeOptions,
} from './code-interpreter.js';
export {
  CommandHandle,
  type FollowOptions,
  type KillOptions,
  type ProcessOutputEvent,
} from './command-handle.js';
export { type CommandOutputEvent, type CommandResult, Commands, type RunOptions } from './commands.js';
export { Connection, type ConnectionOptions } from './connection.js';
export * from './errors.js';
export { type FileOptions, Files, type TransferOptions, type WriteData } from './files.js';
export { SandboxNetwork } from './network.js';
export { type PortCallOptions, Ports, type PortUrlOptions } from './ports.js';
export type { ProgressCallback, TransferProgress } from './progress.js';
export {
  Pty,
  type PtyCallOptions,
  type PtyConnectOptions,
  type PtyCreateOptions,
  PtyHandle,
} from './pty.js';
export { Sandbox, type SandboxCreateOptions, type SandboxListOptions } from './sandbox.js';
export { Snapshot } from './snapshots.js';
export {
  type BuildContextFile,
  type DockerfileBuildOptions,
  Template,
  type TemplateBuildOptions,
} from './templates.js';
export { Volume } from './volume.js';
export { type WatchCallback, WatchHandle, type WatchOptions } from './watch.js';
