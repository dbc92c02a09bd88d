// The `gpu` and `vgpu` sources: nvidia-smi -q -x (GPUs, MIG devices, processes), -L (GPU index, MIG
// UUIDs and profiles, which the XML lacks) and vgpu -q (host-side vGPU instances). A failed call keeps
// the last good reading, which the API serves marked with the source's failure and age.
import type { Gpu } from '../model.js';
import { buildGpus, duplicateUuidGpus } from '../parsers/gpuSnapshot.js';
import { parseNvidiaSmiList, type ListedGpu } from '../parsers/nvidiaSmiList.js';
import { parseNvidiaSmiXml, type SmiXmlLog } from '../parsers/nvidiaSmiXml.js';
import { parseVgpuQuery, type VgpuHostGpu } from '../parsers/vgpuQuery.js';
import type { Clock } from '../util/clock.js';
import { NvidiaSmiLoop } from './nvidiaSmiLoop.js';
import { runNvidiaSmi } from './nvidiaSmiRunner.js';
import { SourceError } from './sourceError.js';

export interface GpuCollectorOptions {
  nvidiaSmi: string;
  mode: 'loop' | 'spawn';
  intervalMs: number;
  timeoutMs: number;
  host: string;
  env?: NodeJS.ProcessEnv;
  onLog?: (level: 'info' | 'warn', msg: string) => void;
  clock?: Clock;
}

export interface SourceOutcome {
  ok: boolean;
  /** false when the source does not apply to this host (no vGPU host GPU). */
  enabled: boolean;
  error?: SourceError;
  durationSeconds: number;
}

export interface GpuReading {
  gpus: Gpu[];
  driverVersion: string | null;
  cudaVersion: string | null;
  /** Whether `gpus` comes from this tick's nvidia-smi call (false: last good reading). */
  fresh: boolean;
  gpu: SourceOutcome;
  vgpu: SourceOutcome;
  /** GPUs seen for the first time reporting another GPU's UUID (each GPU counted once while the sidecar runs). */
  newDuplicateUuids?: number;
}

function asSourceError(err: unknown): SourceError {
  if (err instanceof SourceError) return err;
  const e = err as Error;
  // Parsers throw their own errors for bad output; everything else is unexpected.
  return new SourceError(e?.name === 'ParseError' ? 'parse' : 'other', e?.message ?? String(err));
}

/** What changes when -L must be read again: the set of GPUs and of their MIG devices. */
function layoutSignature(log: SmiXmlLog): string {
  return log.gpus
    .map((g) => `${g.uuid}:${g.migDevices.map((m) => `${m.index}/${m.gpuInstanceId}/${m.computeInstanceId}`).join(',')}`)
    .join(';');
}

function isVgpuHost(log: SmiXmlLog): boolean {
  return log.gpus.some((g) => g.hostVgpuMode !== 'none' || /host\s*vgpu/i.test(g.virtualizationMode ?? ''));
}

export class GpuCollector {
  /** GPUs already reported as sharing a UUID (`uuid|index|bus`): said once, counted once. */
  private readonly duplicatesSeen = new Set<string>();
  private readonly loop: NvidiaSmiLoop | null;
  private list: ListedGpu[] | null = null;
  private listSignature: string | null = null;
  private vgpu: VgpuHostGpu[] | null = null;
  private last: { log: SmiXmlLog; gpus: Gpu[] } | null = null;

  constructor(private readonly opts: GpuCollectorOptions) {
    this.loop =
      opts.mode === 'loop'
        ? new NvidiaSmiLoop({ path: opts.nvidiaSmi, intervalMs: opts.intervalMs, timeoutMs: opts.timeoutMs, env: opts.env, onLog: opts.onLog, clock: opts.clock })
        : null;
  }

  start(): void {
    this.loop?.start();
  }

  stop(): void {
    this.loop?.stop();
  }

  private run(args: string[]): Promise<string> {
    return runNvidiaSmi(this.opts.nvidiaSmi, args, { timeoutMs: this.opts.timeoutMs, env: this.opts.env });
  }

  private async readXml(): Promise<string> {
    if (this.loop) return this.loop.latest().text;
    return this.run(['-q', '-x']);
  }

  async collect(): Promise<GpuReading> {
    const t0 = performance.now();
    let log: SmiXmlLog;
    try {
      log = parseNvidiaSmiXml(await this.readXml());
    } catch (err) {
      const error = asSourceError(err);
      const durationSeconds = (performance.now() - t0) / 1000;
      return {
        gpus: this.last?.gpus ?? [],
        driverVersion: this.last?.log.driverVersion ?? null,
        cudaVersion: this.last?.log.cudaVersion ?? null,
        fresh: false,
        gpu: { ok: false, enabled: true, error, durationSeconds },
        // vGPU instances come with the GPU reading: without one there is nothing new about them either.
        vgpu: { ok: false, enabled: this.vgpu !== null, error: new SourceError(error.reason, `no GPU reading: ${error.message}`), durationSeconds: 0 },
      };
    }

    // -L is only needed again when GPUs or MIG devices changed (or the last read failed).
    const signature = layoutSignature(log);
    if (this.list === null || signature !== this.listSignature) {
      try {
        this.list = parseNvidiaSmiList(await this.run(['-L']));
        this.listSignature = signature;
      } catch (err) {
        this.list = null;
        this.opts.onLog?.('warn', `nvidia-smi -L failed, GPU indexes and MIG UUIDs unknown this tick: ${asSourceError(err).message}`);
      }
    }
    const gpuDuration = (performance.now() - t0) / 1000;

    const t1 = performance.now();
    let vgpuOutcome: SourceOutcome;
    if (isVgpuHost(log)) {
      try {
        this.vgpu = parseVgpuQuery(await this.run(['vgpu', '-q']));
        vgpuOutcome = { ok: true, enabled: true, durationSeconds: (performance.now() - t1) / 1000 };
      } catch (err) {
        // Keep the last good vGPU instances: the VMs are most likely still there.
        vgpuOutcome = { ok: false, enabled: true, error: asSourceError(err), durationSeconds: (performance.now() - t1) / 1000 };
      }
    } else {
      this.vgpu = null;
      vgpuOutcome = { ok: true, enabled: false, durationSeconds: 0 };
    }

    const gpus = buildGpus(this.opts.host, log, this.list, this.vgpu);
    this.last = { log, gpus };
    const newDuplicateUuids = this.noteDuplicates(gpus);
    return {
      ...(newDuplicateUuids > 0 ? { newDuplicateUuids } : {}),
      gpus,
      driverVersion: log.driverVersion,
      cudaVersion: log.cudaVersion,
      fresh: true,
      gpu: { ok: true, enabled: true, durationSeconds: gpuDuration },
      vgpu: vgpuOutcome,
    };
  }

  /**
   * Two GPUs reporting one UUID (a masked capture, a broken board) would be one GPU wherever the UUID is the
   * key: each such GPU is logged once and counted, and keeps its own index (gpufleet_gpu_* rows stay apart).
   */
  private noteDuplicates(gpus: Gpu[]): number {
    let fresh = 0;
    for (const g of duplicateUuidGpus(gpus)) {
      const key = `${g.uuid}|${g.index ?? ''}|${g.pciBusId}`;
      if (this.duplicatesSeen.has(key) || this.duplicatesSeen.size >= 1024) continue;
      this.duplicatesSeen.add(key);
      fresh++;
      const first = gpus.find((x) => x.uuid === g.uuid);
      this.opts.onLog?.(
        'warn',
        `GPU ${g.index ?? '?'} (PCI ${g.pciBusId}) reports the UUID ${g.uuid} of GPU ${first?.index ?? '?'} (PCI ${first?.pciBusId ?? '?'}): ` +
          'kept apart by index on /metrics (gpufleet_gpu_duplicate_uuid_total); anything keyed by the UUID alone (MIG, engine and topology rows) sees one GPU'
      );
    }
    return fresh;
  }
}
