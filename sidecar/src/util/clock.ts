// Two clocks, kept apart on purpose. Monotonic time (never steps, only advances) measures intervals:
// scheduling, deadlines, staleness, ages, rates. Wall time only stamps what a user reads
// (collectedAt, lastSuccessAt, event times, history timestamps). NTP or an operator may step the wall
// clock either way at any moment; nothing that waits or compares may depend on it.

export interface Clock {
  /** Wall time, ms since the Unix epoch. */
  wallMs(): number;
  /** Monotonic time, ms from an arbitrary origin. */
  monoMs(): number;
}

export const systemClock: Clock = {
  wallMs: () => Date.now(),
  monoMs: () => performance.now(),
};

/** The wall time at which monotonic instant `mono` happened, on the wall clock as it reads now. */
export function wallAt(clock: Clock, mono: number): number {
  return clock.wallMs() - (clock.monoMs() - mono);
}
