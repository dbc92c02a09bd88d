// GPU energy from the power nvidia-smi reports. nvidia-smi has no energy counter in its XML, only power: the
// 1 s average (`average_power_draw`; `power_draw` on older drivers), or the instant reading when that is all
// there is. Each GPU tick adds the trapezoid between this reading and the last one over the monotonic time
// between them. A gap longer than `maxGapMs` (nvidia-smi hung or failed, the process was stopped) is not
// bridged: the energy of that stretch is unknown and left out (`skippedSeconds` says how much), rather than
// guessed from two readings far apart. Counters start at 0 when the sidecar starts and only grow.
import type { Engine, Gpu } from '../model.js';
import type { Clock } from '../util/clock.js';
import { engineShares } from './shares.js';

export interface GpuEnergy {
  uuid: string;
  index: number | null;
  joules: number;
}

export interface EngineEnergy {
  id: string;
  joules: number;
  /** The share of each GPU's power charged to the engine at the last tick. */
  shares: { gpuUuid: string; ratio: number }[];
}

export interface EnergyReading {
  gpus: GpuEnergy[];
  engines: EngineEnergy[];
  /** GPU-seconds left out because two readings were more than maxGapMs apart. */
  skippedSeconds: number;
}

interface GpuMeter {
  index: number | null;
  joules: number;
  last: { at: number; watts: number } | null;
}

/** Devices and engines remembered at most: ids that come and go cannot grow the maps without bound. */
const MAX_TRACKED = 4096;

export function gpuWatts(g: Gpu): number | null {
  const w = g.powerAverageW ?? g.powerW;
  return w !== null && w !== undefined && Number.isFinite(w) && w >= 0 ? w : null;
}

export class EnergyMeter {
  private readonly gpus = new Map<string, GpuMeter>();
  private readonly engines = new Map<string, { joules: number; shares: Map<string, number> }>();
  private current: string[] = [];
  private listed: string[] = [];
  private skippedMs = 0;

  constructor(
    private readonly opts: { maxGapMs: number },
    private readonly clock: Clock,
  ) {}

  /** One fresh GPU reading, with the engines as they are now. */
  record(gpus: readonly Gpu[], engines: readonly Engine[]): void {
    const now = this.clock.monoMs();
    const added = new Map<string, number>();
    this.current = [];
    for (const g of gpus) {
      let m = this.gpus.get(g.uuid);
      if (!m) {
        m = { index: g.index, joules: 0, last: null };
        this.gpus.set(g.uuid, m);
        if (this.gpus.size > MAX_TRACKED) this.gpus.delete(this.gpus.keys().next().value as string);
      }
      m.index = g.index;
      this.current.push(g.uuid);
      const w = gpuWatts(g);
      if (w !== null && m.last) {
        const dt = now - m.last.at;
        if (dt > this.opts.maxGapMs) this.skippedMs += dt;
        else if (dt > 0) {
          const j = ((m.last.watts + w) / 2) * (dt / 1000);
          m.joules += j;
          added.set(g.uuid, j);
        }
      }
      m.last = w === null ? null : { at: now, watts: w };
    }
    const shares = engineShares(gpus, engines);
    for (const e of engines) {
      const s = shares.get(e.id) ?? new Map<string, number>();
      let meter = this.engines.get(e.id);
      if (!meter) {
        meter = { joules: 0, shares: s };
        this.engines.set(e.id, meter);
        if (this.engines.size > MAX_TRACKED) this.engines.delete(this.engines.keys().next().value as string);
      }
      meter.shares = s;
      for (const [gpu, ratio] of s) meter.joules += ratio * (added.get(gpu) ?? 0);
    }
    // Engines no longer listed keep their total (a restart under the same id continues it) but no shares.
    this.listed = engines.map((e) => e.id);
    const listed = new Set(this.listed);
    for (const [id, meter] of this.engines) if (!listed.has(id)) meter.shares = new Map();
  }

  reading(): EnergyReading {
    return {
      gpus: this.current.flatMap((uuid) => {
        const m = this.gpus.get(uuid);
        return m ? [{ uuid, index: m.index, joules: m.joules }] : [];
      }),
      // Engines listed now only: one that is gone keeps its total in memory but leaves /metrics.
      engines: this.listed.flatMap((id) => {
        const m = this.engines.get(id);
        return m ? [{ id, joules: m.joules, shares: [...m.shares.entries()].map(([gpuUuid, ratio]) => ({ gpuUuid, ratio })) }] : [];
      }),
      skippedSeconds: this.skippedMs / 1000,
    };
  }
}
