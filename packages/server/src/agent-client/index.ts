export {
  AgentClient,
  type AgentFileStream,
  type AgentHealth,
  type CallOptions,
  type ListOptions,
  type ReadFileOptions,
  type WriteFileOptions,
} from './agent-client.js';
export { AgentProcessClient, type FollowOptions, type ProcessEvents } from './process-client.js';
export { AgentPtyClient } from './pty-client.js';
export type { AgentRequest } from './transport.js';
export { openWatch } from './watch-stream.js';
