import type { Clock } from '../../packages/server/src/core/clock.js';

/** A clock that moves only when the test says so. */
export class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;

  constructor(public nowMs = 1_700_000_000_000) {}

  now(): number {
    return this.nowMs;
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.nowMs + delayMs, fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    this.nowMs += ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= this.nowMs).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.timers = this.timers.filter((t) => t.id !== due.id);
      due.fn();
    }
  }

  get pending(): number {
    return this.timers.length;
  }
}
