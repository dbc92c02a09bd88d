// What the API reads: the latest snapshot, the bounded history of its numbers, the event log, and the
// GPUs that went missing (kept until they come back so the loss stays visible).
import type { FleetEvent, Gpu, Snapshot } from '../model.js';
import { EventLog } from './eventLog.js';
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

export class Store {
  latest: Snapshot | null = null;
  readonly history: History;
  readonly events: EventLog;
  readonly lostGpus = new Map<string, LostGpu>();
  private lastFreshGpus: Gpu[] | null = null;

  constructor(opts: { capacity: number; maxSeries: number; maxEvents?: number; clock?: Clock }) {
    this.history = new History(opts.capacity, opts.maxSeries, opts.clock);
    this.events = new EventLog(opts.maxEvents);
  }

  /**
   * Records one tick. `gpusFresh` says whether the GPU list came from a successful nvidia-smi call this
   * tick; only fresh lists are compared for events.
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
    for (const e of found) this.events.add(e);
    this.latest = snap;
    // A stale reading is served as the latest state, but history gets a gap, not repeated old values.
    this.history.append(snapshotSamples(gpusFresh ? snap : { ...snap, gpus: [] }));
    return found;
  }

  addEvents(events: FleetEvent[]): void {
    for (const e of events) this.events.add(e);
  }
}
