// Runs an async job every `intervalMs`, measured on the monotonic clock from the start of one run to
// the start of the next; runs never overlap (a run longer than the interval is followed at once by
// the next). Node's timers already count monotonic time; the wait is computed on it too, so a
// wall-clock step backward cannot stretch it by the size of the step.
import type { Clock } from './clock.js';

export class Cadence {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly job: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
    private readonly clock: Clock,
  ) {}

  start(firstDelayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), firstDelayMs);
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const started = this.clock.monoMs();
    this.running = this.job().then(() => undefined, this.onError);
    await this.running;
    this.running = null;
    if (this.stopped) return;
    const wait = Math.min(this.intervalMs, Math.max(0, this.intervalMs - (this.clock.monoMs() - started)));
    this.timer = setTimeout(() => void this.run(), wait);
  }

  /** No new run starts; resolves when the one in flight is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
