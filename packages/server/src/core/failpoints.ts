/**
 * Failpoints, as containerd's runc-fp: named places between two steps of a multi-step
 * operation where a test makes the server die, to prove that the restart finishes or undoes
 * the step and loses nothing. Off unless `PADDOCK_FAILPOINTS` names some (comma-separated);
 * a hit calls the handler the server installs, which kills the process with SIGKILL as a crash
 * would: nothing after it runs, no cleanup, no flush.
 */
export const FAILPOINTS = [
  /** The runtime started a new sandbox, the store still says `starting`. */
  'create.booted',
  /** A kill stored `stopping` and has not touched the runtime yet. */
  'kill.stopping',
  /** A kill destroyed the sandbox, its network is still up and the store says `stopping`. */
  'kill.destroyed',
  /** A pause froze the sandbox, the store still says `pausing`. */
  'pause.frozen',
  /** A resume thawed a paused sandbox, the store still says `paused`. */
  'resume.thawed',
  /** A hibernate checkpointed (gVisor) or skipped that, and the processes still run. */
  'hibernate.checkpointed',
  /** A hibernate stopped the processes; a checkpoint is still the temp one, the store says `hibernating`. */
  'hibernate.stopped',
  /** A resume started a hibernated sandbox again, the store still says `resuming`. */
  'wake.started',
  /** A fork started its children, whose rows still say `starting`; the parent's says `hibernating`. */
  'fork.started',
  /** A volume's disk is made and mounted, the store does not know it yet. */
  'volume.made',
  /** An upload has sent its first bytes to the agent, which writes them to a temp file. */
  'upload.streaming',
  /** A snapshot froze the sandbox and has not copied its layer yet. */
  'snapshot.frozen',
  /** A snapshot copied the layer into its temp dir, the sandbox is still frozen. */
  'snapshot.copied',
  /** gVisor: a hibernated sandbox was restored, its agent waits for the wake file. */
  'wake.restored',
  /** gVisor: the agent quiesced for a checkpoint that has not been taken yet. */
  'checkpoint.quiesced',
] as const;

export type Failpoint = (typeof FAILPOINTS)[number];

let armed: ReadonlySet<string> = new Set();
let onHit: (name: Failpoint) => void = () => {};

/** Arms `names` (from config); unknown names are refused so a typo never tests nothing. */
export function armFailpoints(names: readonly string[], handler: (name: Failpoint) => void): void {
  const unknown = names.filter((n) => !(FAILPOINTS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(`PADDOCK_FAILPOINTS: unknown failpoint(s) ${unknown.join(', ')}; known: ${FAILPOINTS.join(', ')}`);
  }
  armed = new Set(names);
  onHit = handler;
}

/** Whether `name` is armed: for a failpoint that costs something to place (e.g. a stream listener). */
export function failpointArmed(name: Failpoint): boolean {
  return armed.has(name);
}

/** Marks a place between two steps; dies here when armed. */
export function failpoint(name: Failpoint): void {
  if (armed.has(name)) onHit(name);
}
