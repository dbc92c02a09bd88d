// Reads `nvidia-smi mig -lgip` (how many more instances of each MIG profile could be created on each GPU) for
// the capacity model. Only while some GPU has MIG on, and only when the layout changed or a minute passed: the
// answer changes only when instances are created or destroyed. The read runs beside the GPU loop, never in its
// way; until it answers for the current layout, "creatable" is simply unknown. Listing needs no root on a
// default install (the driver's MIG "monitor" capability is readable by all users); creating instances would,
// and the sidecar never does.
import type { MigProfileAvailability } from '../capacity/observe.js';
import type { Gpu } from '../model.js';
import { parseMigProfiles } from '../parsers/migProfiles.js';
import type { Clock } from '../util/clock.js';
import { runNvidiaSmi } from './nvidiaSmiRunner.js';

export interface MigProfilesReaderOptions {
  nvidiaSmi: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** A layout that did not change is read again after this long. */
  refreshMs: number;
  clock: Clock;
  onLog: (level: 'warn' | 'info' | 'debug', msg: string) => void;
}

/** The MIG layout a reading belongs to: GPU, MIG instance UUIDs and profiles. */
function layoutKey(gpus: readonly Gpu[]): string {
  return gpus
    .filter((g) => g.mig.mode === 'enabled')
    .map((g) => `${g.uuid}:${g.index}=${g.mig.instances.map((m) => `${m.uuid}/${m.profile}`).join(',')}`)
    .join(';');
}

export class MigProfilesReader {
  private reading: { key: string; at: number; byGpu: Map<string, MigProfileAvailability[]> } | null = null;
  private inFlight: Promise<void> | null = null;
  private lastTry: { key: string; at: number } | null = null;
  private failing = false;

  constructor(private readonly opts: MigProfilesReaderOptions) {}

  /** Availability per GPU UUID for this GPU list's layout; null when not read (yet) or no GPU has MIG on. */
  current(gpus: readonly Gpu[]): ReadonlyMap<string, readonly MigProfileAvailability[]> | null {
    const key = layoutKey(gpus);
    return key && this.reading?.key === key ? this.reading.byGpu : null;
  }

  /** After a fresh GPU reading: starts a read when the layout is new or the last one is old. Not awaited. */
  poke(gpus: readonly Gpu[]): Promise<void> | null {
    const key = layoutKey(gpus);
    if (!key || this.inFlight) return this.inFlight;
    const now = this.opts.clock.monoMs();
    if (this.lastTry && this.lastTry.key === key && now - this.lastTry.at < this.opts.refreshMs) return null;
    this.lastTry = { key, at: now };
    const byIndex = new Map(gpus.filter((g) => g.index !== null).map((g) => [g.index as number, g.uuid]));
    this.inFlight = this.read(key, byIndex).finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private async read(key: string, byIndex: Map<number, string>): Promise<void> {
    try {
      const text = await runNvidiaSmi(this.opts.nvidiaSmi, ['mig', '-lgip'], { timeoutMs: this.opts.timeoutMs, maxBytes: 1 << 20, env: this.opts.env });
      const byGpu = new Map<string, MigProfileAvailability[]>();
      for (const r of parseMigProfiles(text)) {
        const uuid = byIndex.get(r.gpu);
        if (!uuid) continue;
        const list = byGpu.get(uuid) ?? [];
        list.push({ profile: r.profile, free: r.free, total: r.total });
        byGpu.set(uuid, list);
      }
      this.reading = { key, at: this.opts.clock.monoMs(), byGpu };
      if (this.failing) this.opts.onLog('info', 'nvidia-smi mig -lgip answers again: creatable MIG instances are back in the capacity model');
      this.failing = false;
    } catch (err) {
      this.reading = null;
      const msg = `nvidia-smi mig -lgip failed (creatable MIG instances are left out of the capacity model; ` +
        `it needs read access to /proc/driver/nvidia/capabilities/mig/monitor): ${(err as Error).message}`;
      this.opts.onLog(this.failing ? 'debug' : 'warn', msg);
      this.failing = true;
    }
  }
}
