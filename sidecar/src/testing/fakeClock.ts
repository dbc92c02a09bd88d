// A clock a test moves by hand: advance() lets time pass on both clocks, stepWall() steps only the
// wall clock, as NTP or `date -s` does.
import type { Clock } from '../util/clock.js';

export class FakeClock implements Clock {
  constructor(
    private wall = 1_700_000_000_000,
    private mono = 10_000,
  ) {}

  wallMs(): number {
    return this.wall;
  }

  monoMs(): number {
    return this.mono;
  }

  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }

  stepWall(ms: number): void {
    this.wall += ms;
  }
}
