import { z } from 'zod';

/**
 * What an agent can do beyond the minimal set, named in its `GET /health` answer so that the
 * host decides from a handshake, not from the errors of an older agent:
 * - `processes.follow`: `POST /processes` takes `follow` and `closeStdin` (start and follow a
 *   background process in one round trip).
 */
export const AGENT_FEATURES = ['processes.follow'] as const;
export type AgentFeature = (typeof AGENT_FEATURES)[number];

/**
 * The agent's `GET /health` answer. `version` and `features` are absent from agents older
 * than the handshake (a sandbox paused across a server upgrade): those have the minimal set.
 */
export const AgentHealth = z.object({
  ok: z.literal(true),
  pid: z.number(),
  uptimeMs: z.number(),
  /** The agent bundle's version, e.g. `0.1.0`. */
  version: z.string().optional(),
  /** Unknown names (from a newer agent) are kept; the host asks only for those it knows. */
  features: z.array(z.string()).optional(),
});
export type AgentHealth = z.infer<typeof AgentHealth>;
