// What the API reads: the latest snapshot, the bounded history of its numbers, the event log, and the
// GPUs that went missing (kept until they come back so the loss stays visible).
import type { FleetEvent, Gpu, Snapshot } from '../model.js';
import { EventLog, type EventLogLimits } from './eventLog.js';
import { diffGpus, gpuBackEvent } from './events.js';
import { History } from './history.js';
import type { Clock } from '../util/clock.js';
import { snapshotSamples } from './samples.js';

export interface LostGpu {
  uuid: string;
  index: number | null;
  name: string;
  since: string;
}

/** Lost GPUs remembered at most: a driver that reports ever new UUIDs must not grow the set for good. */
export const MAX_LOST_GPUS = 1024;

export class Store {
  latest: Snapshot | null = null;
  readonly history: History;
  readonly events: EventLog;
  readonly lostGpus = new Map<string, LostGpu>();
  private lastFreshGpus: Gpu[] | null = null;

  constructor(opts: { capacity: number; maxSeries: number; events?: Partial<EventLogLimits>; clock?: Clock }) {
    this.history = new History(opts.capacity, opts.maxSeries, opts.clock);
    this.events = new EventLog(opts.events);
  }

  /**
   * Records one tick. `gpusFresh` says whether the GPU list came from a successful nvidia-smi call this
   * tick; only fresh lists are compared for events. Returns the events kept as new entries (a flap or
   * a repeat folded into an earlier event is not returned: the caller logs what this returns).
   */
  record(snap: Snapshot, gpusFresh: boolean): FleetEvent[] {
    const time = snap.host.collectedAt;
    const host = snap.host.hostname;
    const found: FleetEvent[] = [];
    if (gpusFresh) {
      if (this.lastFreshGpus) found.push(...diffGpus(host, time, this.lastFreshGpus, snap.gpus));
      for (const e of found) {
        if (e.kind !== 'gpu-lost') continue;
        const g = this.lastFreshGpus?.find((x) => x.uuid === e.subject);
        if (g) this.lostGpus.set(g.uuid, { uuid: g.uuid, index: g.index, name: g.name, since: time });
        // Oldest loss first out (a Map iterates in insertion order).
        if (this.lostGpus.size > MAX_LOST_GPUS) this.lostGpus.delete(this.lostGpus.keys().next().value as string);
      }
      for (const g of snap.gpus) {
        const lost = this.lostGpus.get(g.uuid);
        if (lost) {
          found.push(gpuBackEvent(host, time, g, lost.since));
          this.lostGpus.delete(g.uuid);
        }
      }
      this.lastFreshGpus = snap.gpus;
    }
    const kept = this.addEvents(found);
    this.latest = snap;
    // A stale reading is served as the latest state, but history gets a gap, not repeated old values.
    this.history.append(snapshotSamples(gpusFresh ? snap : { ...snap, gpus: [] }));
    return kept;
  }

  /** Adds events to the log; returns those kept as new entries (cleaned and capped). */
  addEvents(events: FleetEvent[]): FleetEvent[] {
    const kept: FleetEvent[] = [];
    for (const e of events) {
      const k = this.events.add(e);
      if (k) kept.push(k);
    }
    return kept;
  }
}
