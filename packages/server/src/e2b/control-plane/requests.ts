import { CreateSandboxRequest, LIMITS, PaddockError } from '@paddock/protocol';
import { z } from 'zod';
import { paddockTemplateOf } from '../template-names.js';
import { E2bNetwork, toNetworkPolicy } from './network-options.js';

const MAX_TIMEOUT_S = LIMITS.timeoutMs.max / 1000;
const stringMap = z.record(z.string(), z.string());
const timeoutS = z.int().min(0).max(MAX_TIMEOUT_S);

/**
 * `NewSandbox` (POST /sandboxes, Python and older JS) and `NewSandboxV2` (POST /v2/sandboxes):
 * V2 is V1 without `secure`. Unknown fields are ignored, as E2B's API does.
 */
export const E2bNewSandbox = z.looseObject({
  templateID: z.string().min(1).max(128),
  timeout: timeoutS.optional(),
  metadata: stringMap.optional(),
  envVars: stringMap.optional(),
  secure: z.boolean().optional(),
  allow_internet_access: z.boolean().optional(),
  network: E2bNetwork.optional(),
  mcp: z.record(z.string(), z.unknown()).nullable().optional(),
  iam: z.record(z.string(), z.unknown()).optional(),
  autoPause: z.boolean().optional(),
  autoPauseMemory: z.boolean().optional(),
  autoResume: z.object({ enabled: z.boolean() }).optional(),
  volumeMounts: z.array(z.object({ name: z.string(), path: z.string() })).optional(),
});
export type E2bNewSandbox = z.infer<typeof E2bNewSandbox>;

/** `POST /v2/sandboxes/:id/connect` and `POST /sandboxes/:id/connect` (Python requires `timeout`). */
export const E2bConnect = z.looseObject({ timeout: timeoutS.optional(), memory: z.boolean().optional() });
/** `POST /sandboxes/:id/pause`: `memory: false` keeps only the filesystem. */
export const E2bPause = z.looseObject({ memory: z.boolean().optional() });
/** `POST /sandboxes/:id/timeout`. */
export const E2bTimeout = z.looseObject({ timeout: timeoutS });
/** `POST /sandboxes/:id/refreshes`. */
export const E2bRefresh = z.looseObject({ duration: timeoutS.optional() });
/** `POST /sandboxes/:id/fork`. */
export const E2bFork = z.looseObject({ timeout: timeoutS.optional(), count: z.int().min(1).max(64).optional() });
/** `PUT /sandboxes/:id/network`: replaces the egress config. */
export const E2bNetworkUpdate = E2bNetwork.extend({ allow_internet_access: z.boolean().optional() });
/** `POST /sandboxes/:id/snapshots`. */
export const E2bSnapshot = z.looseObject({ name: z.string().min(1).max(64).optional() });

/** Parses an E2B body; a bad one is a 400 whose message names the E2B field. */
export function parseE2b<T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || '(body)';
  throw new PaddockError('INVALID_ARGUMENT', `${what}: ${field}: ${issue?.message ?? 'invalid'}`, { field });
}

/** Timeout in seconds → ms, within Paddock's bounds (E2B allows 0; our minimum is 1 s). */
export function timeoutMsOf(seconds: number): number {
  return Math.max(LIMITS.timeoutMs.min, seconds * 1000);
}

/** Options E2B has and Paddock does not: refused by name, as E2B refuses what a plan lacks. */
function refuseUnsupported(body: E2bNewSandbox): void {
  const unsupported: string[] = [];
  if (body.mcp !== undefined && body.mcp !== null) unsupported.push('mcp');
  if (body.iam !== undefined && Object.keys(body.iam).length > 0) unsupported.push('iam');
  if (unsupported.length > 0) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `${unsupported.join(', ')}: not supported by this Paddock server (the MCP gateway and IAM tokens are not available through the E2B API); remove the option`,
      { field: unsupported[0] },
    );
  }
}

/**
 * The Paddock create request for an E2B one. Only E2B's own default is applied here (a 300 s
 * timeout, E2B's contract); Paddock's defaults are core's (see `core/create-plan.ts`).
 */
export function toCreateRequest(body: E2bNewSandbox): CreateSandboxRequest {
  refuseUnsupported(body);
  const req: CreateSandboxRequest = {
    template: paddockTemplateOf(body.templateID),
    timeoutMs: timeoutMsOf(body.timeout ?? 300),
  };
  if (body.metadata !== undefined) req.metadata = body.metadata;
  if (body.envVars !== undefined) req.env = body.envVars;
  if (body.autoPause === true) req.onTimeout = 'pause';
  if (body.autoResume !== undefined) req.autoResume = body.autoResume.enabled;
  if (body.volumeMounts !== undefined && body.volumeMounts.length > 0) req.volumes = body.volumeMounts;
  const network = toNetworkPolicy(body.allow_internet_access, body.network);
  if (network !== undefined) req.network = network;
  const parsed = CreateSandboxRequest.safeParse(req);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field =
      { env: 'envVars', timeoutMs: 'timeout', volumes: 'volumeMounts' }[String(issue?.path[0])] ??
      String(issue?.path[0]);
    throw new PaddockError('INVALID_ARGUMENT', `sandbox create: ${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  return parsed.data;
}
