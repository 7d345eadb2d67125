/** Time as core sees it: injected so that timeout logic is tested without sleeping. */
export interface Clock {
  now(): number;
  /** Runs `fn` after `delayMs`; returns a function that cancels it. */
  setTimer(delayMs: number, fn: () => void): () => void;
}

// setTimeout's delay is a signed 32-bit int; longer sandbox timeouts re-arm in steps.
const MAX_TIMER_MS = 2_147_000_000;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    let handle: NodeJS.Timeout;
    const deadline = Date.now() + delayMs;
    const arm = () => {
      const left = deadline - Date.now();
      handle = setTimeout(left > MAX_TIMER_MS ? arm : fn, Math.max(0, Math.min(left, MAX_TIMER_MS)));
      handle.unref();
    };
    arm();
    return () => clearTimeout(handle);
  },
};
