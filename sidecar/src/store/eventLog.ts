// A bounded log of fleet events (Grafana annotations). Oldest events fall off first.
import type { FleetEvent } from '../model.js';

export class EventLog {
  private readonly events: FleetEvent[] = [];

  constructor(readonly capacity = 10_000) {}

  add(event: FleetEvent): void {
    this.events.push(event);
    if (this.events.length > this.capacity) this.events.splice(0, this.events.length - this.capacity);
  }

  /** Events with time in [fromMs, toMs], oldest first. */
  between(fromMs: number, toMs: number): FleetEvent[] {
    return this.events.filter((e) => {
      const t = Date.parse(e.time);
      return t >= fromMs && t <= toMs;
    });
  }

  get size(): number {
    return this.events.length;
  }
}
