// The `gpu` and `vgpu` sources: nvidia-smi -q -x (GPUs, MIG devices, processes), -L (GPU index, MIG
// UUIDs and profiles, which the XML lacks) and vgpu -q (host-side vGPU instances). A failed call keeps
// the last good reading, which the API serves marked with the source's failure and age.
//
// `nvidia-smi vgpu -q` has no millisecond loop like -q -x -lms, and a spawn re-initialises NVML (the
// bulk of a call's cost), so it is not run every tick: every vgpuIntervalMs, and at once when the
// XML shows a VM attach or detach (each running vGPU is a `vgpu` process of its GPU in the XML).
//
// Query mode: on a real H200, nvidia-smi's `-q -x -lms 1000` loop cost 27-30 ms of CPU a second, twice the
// sidecar's own, where a `--query-gpu` CSV loop of 25 fields cost 3.3. So that mode runs both:
// the CSV loop every tick (utilization, memory, temperature, power, clocks) and the XML loop every
// fullIntervalMs (identity, MIG devices, processes, vGPU state, ECC), parsed once per document.
import type { Gpu } from '../model.js';
import { buildGpus, duplicateUuidGpus } from '../parsers/gpuSnapshot.js';
import { parseNvidiaSmiList, type ListedGpu } from '../parsers/nvidiaSmiList.js';
import { parseNvidiaSmiXml, type SmiXmlLog } from '../parsers/nvidiaSmiXml.js';
import { parseQueryGpuLine, QUERY_GPU_FIELDS, splitQueryLines, withQueryRows, type QueryGpuRow } from '../parsers/queryGpuCsv.js';
import { quoteOutput } from '../parsers/errors.js';
import { normalizePciBusId } from '../parsers/values.js';
import { parseVgpuQuery, type VgpuHostGpu } from '../parsers/vgpuQuery.js';
import { systemClock, type Clock } from '../util/clock.js';
import { loopMsArgs, NvidiaSmiLoop } from './nvidiaSmiLoop.js';
import { runNvidiaSmi } from './nvidiaSmiRunner.js';
import { SourceError } from './sourceError.js';

export interface GpuCollectorOptions {
  nvidiaSmi: string;
  mode: 'loop' | 'spawn' | 'query';
  intervalMs: number;
  timeoutMs: number;
  /** Query mode: how often the full `-q -x` document is read (default DEFAULT_FULL_INTERVAL_MS). */
  fullIntervalMs?: number;
  /** How often vgpu -q is read when the XML shows no VM change (default DEFAULT_VGPU_INTERVAL_MS). */
  vgpuIntervalMs?: number;
  host: string;
  env?: NodeJS.ProcessEnv;
  onLog?: (level: 'info' | 'warn', msg: string) => void;
  clock?: Clock;
}

export const DEFAULT_VGPU_INTERVAL_MS = 30_000;
export const DEFAULT_FULL_INTERVAL_MS = 5_000;
/** Query rows kept at most: one per GPU; a stream naming more UUIDs than this is not a host's GPUs. */
const MAX_QUERY_ROWS = 256;

export interface SourceOutcome {
  ok: boolean;
  /** false when the source does not apply to this host (no vGPU host GPU). */
  enabled: boolean;
  /** true when the source was not read this tick (vGPU between its reads): nothing new to report. */
  skipped?: boolean;
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

/** Whether a -L listing names the GPUs of an XML document and as many MIG devices on each. */
function listMatches(listed: ListedGpu[], log: SmiXmlLog): boolean {
  const byUuid = new Map(listed.map((g) => [g.uuid, g]));
  return listed.length === log.gpus.length && log.gpus.every((g) => byUuid.get(g.uuid)?.migDevices.length === g.migDevices.length);
}

/** Whether a vgpu -q reading has, on each vGPU host GPU of an XML document, one instance per VM process. */
function vgpuMatches(read: VgpuHostGpu[], log: SmiXmlLog): boolean {
  const byBus = new Map(read.map((g) => [normalizePciBusId(g.pciBusId), g.instances.length]));
  return log.gpus.filter(isVgpuHostGpu).every((g) => (byBus.get(normalizePciBusId(g.pciBusId)) ?? 0) === g.processes.length);
}

function isVgpuHostGpu(g: SmiXmlLog['gpus'][number]): boolean {
  return g.hostVgpuMode !== 'none' || /host\s*vgpu/i.test(g.virtualizationMode ?? '');
}

function isVgpuHost(log: SmiXmlLog): boolean {
  return log.gpus.some(isVgpuHostGpu);
}

/** What changes when a VM attaches or detaches: the processes (one per running vGPU) of vGPU host GPUs. */
export function vgpuSignature(log: SmiXmlLog): string {
  return log.gpus
    .filter(isVgpuHostGpu)
    .map((g) => `${g.uuid}:${g.processes.map((p) => p.pid).sort((a, b) => a - b).join(',')}`)
    .join(';');
}

export class GpuCollector {
  /** GPUs already reported as sharing a UUID (`uuid|index|bus`): said once, counted once. */
  private readonly duplicatesSeen = new Set<string>();
  private readonly loop: NvidiaSmiLoop | null;
  /** Query mode: the `--query-gpu` CSV loop, and its newest row per GPU UUID (`at`: monotonic ms read). */
  private readonly rowsLoop: NvidiaSmiLoop | null = null;
  private readonly rows = new Map<string, { row: QueryGpuRow; at: number }>();
  private notARow: string | null = null;
  /** The GPUs of the last document joined with rows, and those already said to have none (bounded). */
  private rowsGpuSet: string | null = null;
  private readonly rowlessSaid = new Set<string>();
  /** The last document parsed: in query mode the same one serves several ticks. */
  private parsed: { text: string; log: SmiXmlLog } | null = null;
  private list: ListedGpu[] | null = null;
  private listSignature: string | null = null;
  /** -L read at start, used by the first tick if it lists the GPUs and MIG devices of its document. */
  private prefetchedList: Promise<ListedGpu[] | null> | null = null;
  /** vgpu -q read at start, used by the first tick if it has as many instances per GPU as VMs in its document. */
  private prefetchedVgpu: Promise<VgpuHostGpu[] | null> | null = null;
  private vgpu: VgpuHostGpu[] | null = null;
  /** The XML's vGPU signature and the monotonic ms at the last vgpu -q attempt. */
  private vgpuRead: { signature: string; at: number; ok: boolean } | null = null;
  private last: { log: SmiXmlLog; gpus: Gpu[] } | null = null;
  private readonly clock: Clock;

  constructor(private readonly opts: GpuCollectorOptions) {
    this.clock = opts.clock ?? systemClock;
    const common = { path: opts.nvidiaSmi, timeoutMs: opts.timeoutMs, env: opts.env, onLog: opts.onLog, clock: opts.clock };
    const full = Math.max(opts.intervalMs, opts.fullIntervalMs ?? DEFAULT_FULL_INTERVAL_MS);
    this.loop =
      opts.mode === 'spawn' ? null : new NvidiaSmiLoop({ ...common, intervalMs: opts.mode === 'query' ? full : opts.intervalMs });
    // With the full document due every tick anyway, a CSV loop beside it would only add to the cost.
    if (opts.mode === 'query' && full > opts.intervalMs) {
      this.rowsLoop = new NvidiaSmiLoop({
        ...common,
        intervalMs: opts.intervalMs,
        args: [`--query-gpu=${QUERY_GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits', ...loopMsArgs(opts.intervalMs)],
        split: splitQueryLines,
        onDocument: (line, at) => {
          const row = parseQueryGpuLine(line);
          // What is not a row is most likely nvidia-smi saying why (a field this driver lacks): kept for the error.
          this.notARow = row ? null : quoteOutput(line);
          if (!row) return false;
          if (!this.rows.has(row.uuid) && this.rows.size >= MAX_QUERY_ROWS) this.dropStaleRows(at);
          if (this.rows.has(row.uuid) || this.rows.size < MAX_QUERY_ROWS) this.rows.set(row.uuid, { row, at });
          return true;
        },
      });
    }
  }

  start(): void {
    this.loop?.start();
    this.rowsLoop?.start();
    // -L (and vgpu -q on a vGPU host) are needed with the first document: read them while nvidia-smi's
    // loop starts, not one after the other after it. On a host without vGPUs the vgpu -q is wasted once.
    if (this.loop && this.list === null) {
      this.prefetchedList = this.run(['-L']).then(parseNvidiaSmiList, () => null);
      this.prefetchedVgpu = this.run(['vgpu', '-q']).then(parseVgpuQuery, () => null);
    }
  }

  stop(): void {
    this.loop?.stop();
    this.rowsLoop?.stop();
  }

  /** Loop and query modes: resolves once the first document had its chance (see NvidiaSmiLoop.firstDocument). */
  async firstDocument(ms: number): Promise<void> {
    await Promise.all([this.loop?.firstDocument(ms), this.rowsLoop?.firstDocument(ms)]);
  }

  private run(args: string[]): Promise<string> {
    return runNvidiaSmi(this.opts.nvidiaSmi, args, { timeoutMs: this.opts.timeoutMs, env: this.opts.env });
  }

  private async readXml(): Promise<string> {
    if (this.loop) return this.loop.latest().text;
    return this.run(['-q', '-x']);
  }

  private parse(text: string): SmiXmlLog {
    if (this.parsed?.text === text) return this.parsed.log;
    const log = parseNvidiaSmiXml(text);
    this.parsed = { text, log };
    return log;
  }

  private rowDeadlineMs(): number {
    return this.opts.intervalMs + this.opts.timeoutMs;
  }

  private dropStaleRows(now: number): void {
    for (const [uuid, r] of this.rows) if (now - r.at > this.rowDeadlineMs()) this.rows.delete(uuid);
  }

  /**
   * Query mode: the document's GPUs with this tick's CSV figures. A GPU without a fresh row keeps the
   * document's (at most --nvidia-smi-full-interval old) and is said once; with no row for any GPU the
   * tick fails. A document with another set of GPUs restarts the CSV loop, which enumerates them at start.
   */
  private withRows(log: SmiXmlLog): SmiXmlLog {
    if (!this.rowsLoop) return log;
    const set = log.gpus.map((g) => g.uuid).join(',');
    if (this.rowsGpuSet !== null && set !== this.rowsGpuSet) this.rowsLoop.restart();
    this.rowsGpuSet = set;
    const now = this.clock.monoMs();
    const deadline = this.rowDeadlineMs();
    const fresh = new Map<string, QueryGpuRow>();
    const rowless: string[] = [];
    for (const g of log.gpus) {
      const r = this.rows.get(g.uuid);
      if (r && now - r.at <= deadline) fresh.set(g.uuid, r.row);
      else rowless.push(g.uuid);
    }
    if (rowless.length > 0 && fresh.size === 0) {
      const said = this.notARow === null ? '' : ` (it printed '${this.notARow}')`;
      const which = rowless.length === 1 ? `GPU ${quoteOutput(rowless[0] as string)}` : `any of its ${rowless.length} GPUs`;
      throw new SourceError('timeout', `${this.opts.nvidiaSmi} --query-gpu: no row for ${which} within ${deadline} ms${said}`);
    }
    for (const uuid of rowless) {
      if (this.rowlessSaid.has(uuid) || this.rowlessSaid.size >= MAX_QUERY_ROWS) continue;
      this.rowlessSaid.add(uuid);
      this.opts.onLog?.('warn', `nvidia-smi --query-gpu printed no row for GPU ${quoteOutput(uuid)}: its figures come from -q -x, at most --nvidia-smi-full-interval old`);
    }
    return withQueryRows(log, fresh);
  }

  async collect(): Promise<GpuReading> {
    const t0 = performance.now();
    let log: SmiXmlLog;
    try {
      this.rowsLoop?.latest(); // a silent or hung CSV loop fails the tick (and is restarted) whatever the XML does
      log = this.withRows(this.parse(await this.readXml()));
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

    // -L is only needed again when GPUs or MIG devices changed (or the last read failed). It and
    // vgpu -q run side by side: the first reading after start needs both.
    const signature = layoutSignature(log);
    const listing = this.list === null || signature !== this.listSignature ? this.readList(signature, log) : null;
    const vgpuReading = this.readVgpu(log);
    await listing;
    const gpuDuration = (performance.now() - t0) / 1000;
    const vgpuOutcome = await vgpuReading;
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

  private async readList(signature: string, log: SmiXmlLog): Promise<void> {
    const early = this.prefetchedList;
    this.prefetchedList = null;
    const listed = early ? await early : null;
    if (listed && listMatches(listed, log)) {
      this.list = listed;
      this.listSignature = signature;
      return;
    }
    try {
      this.list = parseNvidiaSmiList(await this.run(['-L']));
      this.listSignature = signature;
    } catch (err) {
      this.list = null;
      this.opts.onLog?.('warn', `nvidia-smi -L failed, GPU indexes and MIG UUIDs unknown this tick: ${asSourceError(err).message}`);
    }
  }

  /** vgpu -q when due: first time, after a failed read, on a VM change, or every vgpuIntervalMs. */
  private async readVgpu(log: SmiXmlLog): Promise<SourceOutcome> {
    if (!isVgpuHost(log)) {
      this.vgpu = null;
      this.vgpuRead = null;
      this.prefetchedVgpu = null;
      return { ok: true, enabled: false, durationSeconds: 0 };
    }
    const signature = vgpuSignature(log);
    const now = this.clock.monoMs();
    const every = this.opts.vgpuIntervalMs ?? DEFAULT_VGPU_INTERVAL_MS;
    const r = this.vgpuRead;
    if (r && r.ok && r.signature === signature && now - r.at < every) return { ok: true, enabled: true, skipped: true, durationSeconds: 0 };
    const t1 = performance.now();
    const early = this.prefetchedVgpu;
    this.prefetchedVgpu = null;
    const prefetched = early ? await early : null;
    if (prefetched && vgpuMatches(prefetched, log)) {
      this.vgpu = prefetched;
      this.vgpuRead = { signature, at: now, ok: true };
      return { ok: true, enabled: true, durationSeconds: (performance.now() - t1) / 1000 };
    }
    try {
      this.vgpu = parseVgpuQuery(await this.run(['vgpu', '-q']));
      this.vgpuRead = { signature, at: now, ok: true };
      return { ok: true, enabled: true, durationSeconds: (performance.now() - t1) / 1000 };
    } catch (err) {
      // Keep the last good vGPU instances: the VMs are most likely still there. Tried again next tick.
      this.vgpuRead = { signature, at: now, ok: false };
      return { ok: false, enabled: true, error: asSourceError(err), durationSeconds: (performance.now() - t1) / 1000 };
    }
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
