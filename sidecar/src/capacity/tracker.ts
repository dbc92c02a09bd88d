// The capacity model over time: the snapshot's observations (observe.ts) plus what only time tells — how
// long a held GPU has been idle (idle-held after --idle-held-after), whether an Xid is recent enough
// (--unavailable-after-xid) and since when each GPU is in its state. Timers run on the monotonic clock;
// `since` is stamped from the wall clock for people. State starts empty at start-up: a GPU idle before the
// sidecar started becomes idle-held --idle-held-after after the start.
import type { Snapshot } from '../model.js';
import type { LostGpu } from '../store/store.js';
import { wallAt, type Clock } from '../util/clock.js';
import { enginesByGpu, migProfiles, modelCapacity, observeGpu, type MigProfileAvailability } from './observe.js';
import { GPU_CAPACITY_STATES, type CapacityAnswer, type CapacitySettings, type GpuCapacity, type GpuCapacityState } from './types.js';

interface GpuTimers {
  state: GpuCapacityState;
  /** Monotonic ms the GPU entered `state`. */
  since: number;
  /** Monotonic ms the GPU was first seen held and idle in the current idle stretch; null when not idle. */
  idleSince: number | null;
}

interface XidSeen {
  xid: number;
  /** Monotonic ms of the Xid record's time. */
  at: number;
}

/** GPUs remembered at most (lost ones included): a driver reporting ever new UUIDs cannot grow the maps. */
const MAX_TRACKED = 1024;

const formatSeconds = (ms: number) => {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
};

export interface CapacityInput {
  snap: Snapshot;
  lost: Iterable<LostGpu>;
  /** `nvidia-smi mig -lgip` rows per GPU UUID, when read. */
  migAvailability?: ReadonlyMap<string, readonly MigProfileAvailability[]> | null;
  /** The engines' --busy-threshold, echoed in the answer's settings. */
  busyThreshold?: number | null;
}

export class CapacityTracker {
  private readonly gpus = new Map<string, GpuTimers>();
  private readonly xids = new Map<string, XidSeen>();

  constructor(
    private readonly settings: CapacitySettings,
    private readonly clock: Clock,
  ) {}

  /** An Xid the driver logged for a GPU at wall time `wallMs` (from the kernel log record). */
  noteXid(gpuUuid: string, xid: number, wallMs: number): void {
    const at = this.clock.monoMs() - (this.clock.wallMs() - wallMs);
    const prev = this.xids.get(gpuUuid);
    if (prev && prev.at > at) return;
    this.xids.delete(gpuUuid);
    this.xids.set(gpuUuid, { xid, at });
    if (this.xids.size > MAX_TRACKED) this.xids.delete(this.xids.keys().next().value as string);
  }

  private enter(uuid: string, state: GpuCapacityState, now: number, idleSince: number | null): GpuTimers {
    const prev = this.gpus.get(uuid);
    const t: GpuTimers = prev && prev.state === state ? { ...prev, idleSince } : { state, since: now, idleSince };
    this.gpus.set(uuid, t);
    return t;
  }

  /** The capacity answer now; advances the timers. */
  update(input: CapacityInput): CapacityAnswer {
    const now = this.clock.monoMs();
    const { snap } = input;
    const s = this.settings;
    const byGpu = enginesByGpu(snap.gpus, snap.engines);
    const gpus: GpuCapacity[] = [];
    const seen = new Set<string>();
    const stamp = (mono: number) => new Date(wallAt(this.clock, mono)).toISOString();

    for (const g of snap.gpus) {
      seen.add(g.uuid);
      const engines = byGpu.get(g.uuid) ?? [];
      const o = observeGpu(g, engines, s.idleUtilization);
      const prev = this.gpus.get(g.uuid);
      const xid = this.xids.get(g.uuid);
      let state: GpuCapacityState;
      let reason: string | null = o.reason;
      let idleSince: number | null = null;
      let idleSeconds: number | null = null;
      if (xid && now - xid.at < s.unavailableAfterXidMs) {
        state = 'unavailable';
        reason = `Xid ${xid.xid} ${formatSeconds(now - xid.at)} ago (unavailable for ${formatSeconds(s.unavailableAfterXidMs)} after an Xid)`;
      } else if (o.condition === 'free') {
        state = 'free';
      } else if (o.condition === 'idle') {
        idleSince = prev?.idleSince ?? now;
        idleSeconds = (now - idleSince) / 1000;
        const idleFor = now - idleSince;
        if (idleFor >= s.idleHeldAfterMs) {
          state = 'idle-held';
          reason = `${o.reason}; idle for ${formatSeconds(idleFor)}`;
        } else {
          state = 'busy';
          reason = `${o.reason}; idle for ${formatSeconds(idleFor)}, idle-held after ${formatSeconds(s.idleHeldAfterMs)}`;
        }
      } else {
        state = 'busy';
      }
      const t = this.enter(g.uuid, state, now, idleSince);
      gpus.push({
        uuid: g.uuid, index: g.index, name: g.name, state, since: stamp(t.since),
        ...(reason ? { reason } : {}), engines: o.engines, pids: o.pids, idleSeconds,
      });
    }
    for (const l of input.lost) {
      if (seen.has(l.uuid)) continue;
      seen.add(l.uuid);
      const t = this.enter(l.uuid, 'unavailable', now, null);
      gpus.push({
        uuid: l.uuid, index: l.index, name: l.name, state: 'unavailable', since: stamp(t.since),
        reason: `lost since ${l.since}: nvidia-smi no longer reports it`, engines: [], pids: [], idleSeconds: null,
      });
    }
    for (const uuid of [...this.gpus.keys()]) if (!seen.has(uuid)) this.gpus.delete(uuid);
    for (const [uuid, x] of [...this.xids]) if (now - x.at >= s.unavailableAfterXidMs && !seen.has(uuid)) this.xids.delete(uuid);

    const summary = Object.fromEntries(GPU_CAPACITY_STATES.map((st) => [st, 0])) as Record<GpuCapacityState, number>;
    for (const g of gpus) summary[g.state]++;
    return {
      host: snap.host.hostname,
      collectedAt: snap.host.collectedAt,
      settings: {
        idleHeldAfterSeconds: s.idleHeldAfterMs / 1000,
        idleUtilization: s.idleUtilization,
        unavailableAfterXidSeconds: s.unavailableAfterXidMs / 1000,
        busyThreshold: input.busyThreshold ?? null,
      },
      summary,
      gpus,
      mig: migProfiles(snap.gpus, snap.engines, input.migAvailability),
      models: modelCapacity(snap.engines),
    };
  }
}
