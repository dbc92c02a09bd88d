// Wires the parts. Two loops run side by side, each on its own cadence on the monotonic clock:
// - the GPU loop reads nvidia-smi (and the kernel log) and publishes: it records the snapshot in the
//   store (history, GPU events) and rewrites the /metrics gauges, with the engines' newest reading;
// - the engine loop discovers and probes engines (and Docker) within one time budget per run, then
//   publishes its reading into the latest snapshot and /metrics (not into history: one history tick
//   per GPU tick).
// Neither waits for the other, so 64 hung engines or a dripping Docker API cannot hold GPU series back.
// Engines are mapped onto the newest good GPU reading when their run starts (at most one interval old).
// Ticks of one loop never overlap; a slow tick delays that loop's next one only.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { SidecarMetrics } from './api/metrics.js';
import { CapacityTracker } from './capacity/tracker.js';
import type { CapacityAnswer } from './capacity/types.js';
import { GpuCollector, type GpuReading, type SourceOutcome } from './collectors/gpuCollector.js';
import { MigProfilesReader } from './collectors/migProfilesReader.js';
import { SourceTracker } from './collectors/sourceTracker.js';
import { XidWatcher } from './collectors/xidWatcher.js';
import { EngineCollector, type EngineReading } from './engines/engineCollector.js';
import type { Config } from './config.js';
import { EnergyMeter } from './energy/energyMeter.js';
import type { FleetEvent, Gpu, Snapshot, SourceName } from './model.js';
import { normalizePciBusId } from './parsers/values.js';
import { Store } from './store/store.js';
import { systemClock, type Clock } from './util/clock.js';
import { Cadence } from './util/cadence.js';
import { nextTurn } from './util/turns.js';

export interface SidecarDeps {
  config: Config;
  logger: Logger;
  metrics: SidecarMetrics;
  /** Environment for nvidia-smi (the simulator reads its scenario from there). */
  nvidiaSmiEnv?: NodeJS.ProcessEnv;
  /** Simulate mode: the pids of the simulated host's processes, the only ones the engine scan sees. */
  procPids?: () => ReadonlySet<number> | null;
  /** Injected by tests to step the wall clock; the system clock otherwise. */
  clock?: Clock;
}

/** The engine loop's time budget per run: the interval, but at least 2 s (a loaded engine may take a
 * moment to render /metrics) and at most 10 s (past that, state is too old to be worth the wait). */
export function engineBudgetMs(intervalMs: number): number {
  return Math.min(10_000, Math.max(2000, intervalMs));
}

export class Sidecar {
  readonly store: Store;
  readonly sources: SourceTracker;
  private readonly clock: Clock;
  private readonly gpu: GpuCollector;
  private readonly xid: XidWatcher | null;
  private readonly engines: EngineCollector;
  private readonly startedAt = Date.now();
  private readonly gpuLoop: Cadence;
  private readonly engineLoop: Cadence;
  /** Aborts the engine run in flight at shutdown. */
  private readonly shutdown = new AbortController();
  /** The newest GPU reading and the monotonic ms it was published at. */
  private gpuReading: { reading: GpuReading; at: number } | null = null;
  /** The newest good GPU list: what the engine loop maps ranks onto. */
  private lastGoodGpus: Gpu[] = [];
  private engineReading: EngineReading | null = null;
  /** Resolves at the first GPU publication: the first engine run waits for it (bounded) to map ranks. */
  private firstGpu!: () => void;
  private readonly firstGpuPublished = new Promise<void>((resolve) => (this.firstGpu = resolve));
  private engineRuns = 0;
  private readonly capacityTracker: CapacityTracker;
  private readonly energy: EnergyMeter;
  private readonly migProfiles: MigProfilesReader;
  /** The capacity answer of the last publication (GET /api/v1/capacity); null before the first GPU tick. */
  capacity: CapacityAnswer | null = null;
  private stopped = false;
  /** GPU ticks published. */
  ticks = 0;

  constructor(private readonly deps: SidecarDeps) {
    const { config, logger } = deps;
    this.clock = deps.clock ?? systemClock;
    this.store = new Store({ capacity: Math.max(1, Math.ceil(config.historyMs / config.intervalMs)), maxSeries: config.maxSeries, clock: this.clock });
    // Three missed intervals (plus the nvidia-smi deadline) before fresh data counts as stale.
    this.sources = new SourceTracker(3 * config.intervalMs + config.nvidiaSmiTimeoutMs, this.clock);
    // vgpu -q is read every --vgpu-interval (or at a VM change), not every tick.
    const vgpuEvery = Math.max(config.intervalMs, config.vgpuIntervalMs);
    this.sources.setStaleAfter('vgpu', 3 * vgpuEvery + config.nvidiaSmiTimeoutMs);
    // The default socket is absent on hosts without Docker: that turns container discovery off, it
    // is not a failure. A socket that exists but does not answer is one.
    let dockerSocket = config.dockerSocket;
    if (!dockerSocket) this.sources.disable('docker', 'turned off (--docker-socket none)');
    else if (!existsSync(dockerSocket)) {
      this.sources.disable('docker', `no Docker API socket at ${dockerSocket}: container discovery is off (--docker-socket none silences this)`);
      dockerSocket = null;
    }
    this.engines = new EngineCollector({
      procPath: config.procPath,
      procPids: deps.procPids,
      dockerSocket,
      engineUrls: config.engines,
      allowRemote: config.engineAllowRemote,
      maxEngines: config.maxEngines,
      hostname: config.hostname,
      intervalMs: config.intervalMs,
      busyThreshold: config.busyThreshold,
      // An engine's answer must fit in a tick, but a loaded engine may take a moment to render /metrics.
      timeoutMs: Math.min(5000, Math.max(1000, config.intervalMs)),
      graceMs: config.engineGraceMs,
      windowMs: Math.max(60_000, 5 * config.intervalMs),
      onLog: (level, msg) => logger[level]({ collector: 'engines' }, msg),
      clock: this.clock,
    });
    this.xid = config.kmsg ? new XidWatcher(config.kmsg) : null;
    if (!this.xid) this.sources.disable('xid', 'turned off (--kmsg none)');
    this.gpu = new GpuCollector({
      nvidiaSmi: config.nvidiaSmi,
      mode: config.nvidiaSmiMode,
      intervalMs: config.intervalMs,
      timeoutMs: config.nvidiaSmiTimeoutMs,
      fullIntervalMs: config.nvidiaSmiFullIntervalMs,
      vgpuIntervalMs: config.vgpuIntervalMs,
      host: config.hostname,
      env: deps.nvidiaSmiEnv,
      onLog: (level, msg) => logger[level]({ collector: 'gpu' }, msg),
      clock: this.clock,
    });
    this.capacityTracker = new CapacityTracker(
      { idleHeldAfterMs: config.idleHeldAfterMs, idleUtilization: config.idleUtilization, unavailableAfterXidMs: config.unavailableAfterXidMs },
      this.clock,
    );
    // Gaps past five intervals (nvidia-smi hung or failing) are left out of the energy, not bridged.
    this.energy = new EnergyMeter({ maxGapMs: Math.max(5 * config.intervalMs, 5000) }, this.clock);
    this.migProfiles = new MigProfilesReader({
      nvidiaSmi: config.nvidiaSmi,
      env: deps.nvidiaSmiEnv,
      timeoutMs: config.nvidiaSmiTimeoutMs,
      refreshMs: 60_000,
      clock: this.clock,
      onLog: (level, msg) => logger[level]({ collector: 'gpu' }, msg),
    });
    const failed = (loop: string) => (err: unknown) => logger.error({ err }, `${loop} tick failed`);
    this.gpuLoop = new Cadence(config.intervalMs, () => this.gpuTick(), failed('GPU collection'), this.clock);
    this.engineLoop = new Cadence(config.intervalMs, () => this.engineTick(), failed('engine collection'), this.clock);
  }

  start(): void {
    this.gpu.start();
    if (this.xid) {
      try {
        this.xid.open();
        this.sources.success('xid');
      } catch (err) {
        const why = `cannot read ${this.deps.config.kmsg}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` +
          ' (Xid errors need root or CAP_SYSLOG; --kmsg none turns this off)';
        this.sources.disable('xid', why);
        this.deps.logger.warn({ collector: 'xid' }, why);
      }
    }
    // The first GPU tick runs as soon as the first document is in (loop mode), not after a fixed head
    // start: GPUs show up as early as nvidia-smi can print them, and until then the source is
    // `starting`, not failed. A child that exits or stays silent past its deadline fails that tick.
    const { intervalMs, nvidiaSmiTimeoutMs } = this.deps.config;
    void this.gpu.firstDocument(intervalMs + nvidiaSmiTimeoutMs).then(() => {
      if (!this.stopped) this.gpuLoop.start(0);
    });
    this.engineLoop.start(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.shutdown.abort();
    this.gpu.stop();
    await Promise.all([this.gpuLoop.stop(), this.engineLoop.stop()]);
    this.xid?.close();
  }

  private outcome(name: SourceName, o: SourceOutcome): void {
    const { logger, metrics } = this.deps;
    if (!o.enabled) {
      this.sources.disable(name, 'no GPU on this host is in vGPU host mode');
      return;
    }
    // Not read this tick (vGPU between its reads): its state and age stay those of the last read.
    if (o.skipped) return;
    const prev = this.sources.status(name).status;
    if (o.ok) {
      this.sources.success(name);
      if (prev === 'failed') logger.info({ collector: name }, `${name} source recovered`);
    } else {
      const msg = o.error?.message ?? 'failed';
      this.sources.failure(name, msg);
      // Log the first failure and changes of reason, not every tick of a lasting outage.
      if (prev !== 'failed') logger.warn({ collector: name, reason: o.error?.reason }, msg);
      else logger.debug({ collector: name, reason: o.error?.reason }, msg);
    }
    metrics.recordCollector(name, o.ok, o.durationSeconds, o.error?.reason);
  }

  /** New Xid errors as events (and counts on /metrics), attributed to GPUs by PCI bus id. */
  private readXids(gpus: Gpu[]): FleetEvent[] {
    if (!this.xid || this.sources.status('xid').status === 'disabled') return [];
    let records;
    try {
      records = this.xid.drain();
      this.sources.success('xid');
    } catch (err) {
      this.sources.failure('xid', `reading ${this.deps.config.kmsg}: ${(err as Error).message}`);
      this.deps.metrics.recordCollector('xid', false, 0, 'other');
      return [];
    }
    const byBus = new Map(gpus.map((g) => [normalizePciBusId(g.pciBusId), g]));
    const host = this.deps.config.hostname;
    return records.map((x) => {
      const g = byBus.get(normalizePciBusId(x.pciBusId));
      // Records replayed from before the sidecar started are history, not new errors to count.
      if (x.time >= this.startedAt) this.deps.metrics.recordXid(host, g?.uuid ?? x.pciBusId, g?.index ?? null, x.xid);
      if (g) this.capacityTracker.noteXid(g.uuid, x.xid, x.time);
      const who = g ? `GPU ${g.index ?? '?'} ${g.name} (${g.uuid})` : `GPU at PCI ${x.pciBusId}`;
      const proc = x.pid !== null ? ` [pid ${x.pid}${x.processName ? ` ${x.processName}` : ''}]` : '';
      return { time: new Date(x.time).toISOString(), host, kind: 'xid', subject: g?.uuid ?? x.pciBusId, text: `Xid ${x.xid} on ${who}: ${x.detail}${proc}` };
    });
  }

  /** The snapshot of this moment: the newest GPU reading with the newest engine reading. */
  private compose(): Snapshot {
    const r = this.gpuReading?.reading;
    return {
      host: {
        hostname: this.deps.config.hostname,
        driverVersion: r?.driverVersion ?? null,
        cudaVersion: r?.cudaVersion ?? null,
        collectedAt: new Date(this.clock.wallMs()).toISOString(),
        sources: this.sources.all(),
      },
      gpus: r?.gpus ?? [],
      engines: this.engineReading?.engines ?? [],
    };
  }

  /**
   * Rewrites /metrics. GPU families go out only while the GPU reading is this tick's own and younger
   * than two intervals: an exporter must not repeat old values as current ones (gpufleet_collector_up
   * says why they are missing).
   */
  private exportMetrics(snap: Snapshot): void {
    const g = this.gpuReading;
    const fresh = g !== null && g.reading.fresh && this.clock.monoMs() - g.at <= 2 * this.deps.config.intervalMs;
    const capacity = this.capacityTracker.update({
      snap, lost: this.store.lostGpus.values(), busyThreshold: this.deps.config.busyThreshold, migAvailability: this.migProfiles.current(snap.gpus),
    });
    this.capacity = capacity;
    this.deps.metrics.update(fresh ? snap : { ...snap, gpus: [] }, this.store.lostGpus.values(), {
      capacity: fresh ? capacity : { ...capacity, gpus: capacity.gpus.filter((x) => x.state === 'unavailable'), mig: [] },
      energy: this.energy.reading(),
    });
  }

  /** One GPU tick: read, publish (store, history, /metrics). */
  async gpuTick(): Promise<Snapshot> {
    const reading = await this.gpu.collect();
    const at = this.clock.monoMs();
    // The document was parsed in this turn: the publication below takes a turn of its own (see nextTurn).
    await nextTurn();
    // A tick cut short by shutdown (its nvidia-smi child killed) is not a failure worth reporting.
    if (this.stopped && this.store.latest) return this.store.latest;
    this.outcome('gpu', reading.gpu);
    this.outcome('vgpu', reading.vgpu);
    this.deps.metrics.recordDuplicateUuids(reading.newDuplicateUuids ?? 0);
    this.gpuReading = { reading, at };
    if (reading.fresh) this.lastGoodGpus = reading.gpus;
    this.firstGpu();
    const snap = this.compose();
    const events = this.store.record(snap, reading.fresh);
    // Only what the event log kept as new entries is logged: a flap or an Xid storm is one line, capped.
    events.push(...this.store.addEvents(this.readXids(reading.gpus)));
    if (reading.fresh) {
      this.energy.record(reading.gpus, snap.engines);
      void this.migProfiles.poke(reading.gpus);
    }
    for (const e of events) this.deps.logger.info({ event: e.kind, subject: e.subject }, e.text);
    this.exportMetrics(snap);
    this.ticks++;
    return snap;
  }

  /** One engine run within its budget, then publish (latest snapshot, /metrics). */
  async engineTick(): Promise<Snapshot | null> {
    const budgetMs = engineBudgetMs(this.deps.config.intervalMs);
    if (this.engineRuns++ === 0) {
      // Ranks are mapped onto GPU processes: give the first GPU reading a moment, not forever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.firstGpuPublished, new Promise<void>((r) => (timer = setTimeout(r, budgetMs + 1500)))]);
      clearTimeout(timer);
      if (this.stopped) return null;
    }
    const r = await this.engines.collect(this.lastGoodGpus, undefined, { budgetMs, signal: this.shutdown.signal });
    await nextTurn();
    if (this.stopped) return null;
    this.outcome('engines', { ok: r.ok, enabled: true, error: r.error, durationSeconds: r.durationSeconds });
    if (r.docker) this.outcome('docker', { ...r.docker, enabled: true });
    this.engineReading = r;
    for (const e of this.store.addEvents(r.events)) this.deps.logger.info({ event: e.kind, subject: e.subject }, e.text);
    // Before the first GPU tick there is nothing to publish the engines with: that tick will.
    if (!this.store.latest) return null;
    const snap = this.compose();
    this.store.latest = snap;
    this.exportMetrics(snap);
    return snap;
  }
}
