import type { AgentClient } from '../agent-client/agent-client.js';
import type { Commands } from '../core/commands.js';
import type { Forks } from '../core/fork/forks.js';
import type { Snapshots } from '../core/fork/snapshots.js';
import type { Logger } from '../core/logger.js';
import type { PauseResume } from '../core/pause/pause-resume.js';
import type { SandboxService } from '../core/sandbox-service.js';
import type { Volumes } from '../core/volumes.js';
import type { SandboxNetworkService } from '../network/sandbox-networks.js';
import type { ExposedPorts } from '../ports/exposed-ports.js';
import type { SandboxSecrets } from '../secrets/sandbox-secrets.js';
import type { TemplateRegistry } from '../templates/registry.js';

/** Pause/resume/hibernate, snapshots, forks and volumes, as the API sees them (assembled by pause-and-fork.ts). */
export interface PauseAndFork {
  pause: PauseResume;
  snapshots: Snapshots;
  forks: Forks;
  volumes: Volumes;
}

/** What route handlers get: the core service and the adapters, never globals. */
export interface ApiContext {
  service: SandboxService;
  templates: TemplateRegistry;
  /** The agent of a running sandbox (throws the service's typed errors otherwise). */
  agentOf(sandboxId: string): AgentClient;
  /** The owner of what a command gets: running check, env, OOM, "sandbox lost" (core/commands.ts). */
  commands: Commands<AgentClient>;
  logger: Logger;
  /** Pause/resume/hibernate, snapshots, forks, volumes. */
  pauseAndFork: PauseAndFork;
  /** Exposed ports: preview URLs, tokens, the public flag (see ports/exposed-ports.ts). */
  ports: ExposedPorts;
  /** Create `secrets`: placeholders, host-side values, the egress CA (absent: secrets are refused). */
  secrets?: SandboxSecrets;
  /** Each sandbox's network: policy, address, denied attempts, live updates (absent: no networking). */
  networks?: SandboxNetworkService;
}
