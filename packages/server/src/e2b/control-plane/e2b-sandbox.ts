import { PaddockError } from '@paddock/protocol';
import { FINAL_STATES, PAUSED_STATES, type SandboxService } from '../../core/sandbox-service.js';
import type { SandboxRecord } from '../../core/seams/store.js';
import type { EnvdAccessTokens } from '../access-token.js';
import { ENVD_VERSION } from '../envd-version.js';

/** What every answer needs beyond the record: the access tokens and the sandbox domain. */
export interface E2bView {
  tokens: EnvdAccessTokens;
  /** `domain` of the answers (the SDK builds `getHost()` from it); null lets the SDK use E2B_DOMAIN. */
  domain: string | null;
}

/** E2B's two sandbox states: everything between running and killed that is not running is paused. */
export function e2bStateOf(record: SandboxRecord): 'running' | 'paused' {
  return PAUSED_STATES.includes(record.state) ? 'paused' : 'running';
}

/**
 * The sandbox as E2B knows it: live (running or paused). Killed, failed and unknown sandboxes
 * are all 404 to E2B clients (`kill` twice → false, `connect` → SandboxNotFoundError).
 */
export function liveSandbox(service: SandboxService, id: string): SandboxRecord {
  const record = service.get(id);
  if (FINAL_STATES.includes(record.state) || record.state === 'stopping') {
    throw new PaddockError('NOT_FOUND', `sandbox '${id}' not found (it is ${record.state})`, { sandboxId: id });
  }
  return record;
}

/** Create/connect answer (`Sandbox`). templateID, sandboxID, clientID and envdVersion are required by Python. */
export function toE2bSandbox(record: SandboxRecord, view: E2bView) {
  return {
    templateID: record.template,
    sandboxID: record.id,
    alias: record.template,
    clientID: 'paddock',
    envdVersion: ENVD_VERSION,
    envdAccessToken: view.tokens.tokenOf(record.id),
    // The JS code interpreter sends this (not the access token) on `/contexts`, which checks it.
    trafficAccessToken: view.tokens.trafficTokenOf(record.id),
    domain: view.domain,
  };
}

/** `SandboxDetail` (getInfo) and `ListedSandbox` (list): the same required fields. */
export function toE2bDetail(record: SandboxRecord, view: E2bView) {
  return {
    templateID: record.template,
    alias: record.template,
    sandboxID: record.id,
    clientID: 'paddock',
    startedAt: new Date(record.createdAtMs).toISOString(),
    endAt: new Date(record.expiresAtMs ?? record.createdAtMs).toISOString(),
    // E2B counts whole vCPUs; a fractional Paddock limit shows as the next whole one.
    cpuCount: Math.max(1, Math.ceil(record.cpus)),
    memoryMB: record.memoryMiB,
    diskSizeMB: record.diskMiB,
    state: e2bStateOf(record),
    envdVersion: ENVD_VERSION,
    envdAccessToken: view.tokens.tokenOf(record.id),
    domain: view.domain,
    metadata: record.metadata,
    allowInternetAccess: null,
    lifecycle: { onTimeout: record.onTimeout === 'kill' ? 'kill' : 'pause', autoResume: record.autoResume },
    volumeMounts: record.volumes.map((v) => ({ name: v.name, path: v.path })),
  };
}
