import { readFileSync, writeFileSync } from 'node:fs';
import { log } from './log.js';

/**
 * oom_score_adj of everything the agent starts: well above the agent's own (the runtime sets
 * that one, see the server's oci-spec.ts), so that when the sandbox hits its memory limit the
 * kernel kills user processes, never the agent that must report it. With equal scores it
 * picks the largest process, and the agent (~40 MiB) is larger than most commands.
 */
export const WORKLOAD_OOM_SCORE_ADJ = 900;

const SELF = '/proc/self/oom_score_adj';
let agentScore: number | undefined | null;

/**
 * Runs `start` (a synchronous spawn) with the agent's score raised to the workload's, so the
 * child is born with it and passes it to all it forks; the agent's own comes back right
 * after (lowering down to the value the runtime set needs no privilege). Where the file
 * cannot be written (an agent run by hand) commands start with the agent's score.
 */
export function withWorkloadOomScore<T>(start: () => T): T {
  agentScore ??= readScore();
  if (agentScore === null || !writeScore(WORKLOAD_OOM_SCORE_ADJ)) return start();
  try {
    return start();
  } finally {
    if (!writeScore(agentScore)) {
      log.error('cannot lower the agent oom_score_adj again; commands start with the agent score from now on');
      agentScore = null;
    }
  }
}

function readScore(): number | null {
  try {
    const score = Number(readFileSync(SELF, 'utf8').trim());
    return Number.isInteger(score) && score < WORKLOAD_OOM_SCORE_ADJ ? score : null;
  } catch {
    return null;
  }
}

function writeScore(score: number): boolean {
  try {
    writeFileSync(SELF, String(score));
    return true;
  } catch {
    return false;
  }
}
