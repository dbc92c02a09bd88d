// Wires the parts: each tick runs the collectors, assembles a snapshot, records it in the store (which
// finds events) and rewrites the /metrics gauges. Ticks never overlap; a slow tick delays the next one.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { SidecarMetrics } from './api/metrics.js';
import { GpuCollector, type SourceOutcome } from './collectors/gpuCollector.js';
import { SourceTracker } from './collectors/sourceTracker.js';
import { XidWatcher } from './collectors/xidWatcher.js';
import { EngineCollector } from './engines/engineCollector.js';
import type { Config } from './config.js';
import type { FleetEvent, Gpu, Snapshot, SourceName } from './model.js';
import { normalizePciBusId } from './parsers/values.js';
import { Store } from './store/store.js';

export interface SidecarDeps {
  config: Config;
  logger: Logger;
  metrics: SidecarMetrics;
  /** Environment for nvidia-smi (the simulator reads its scenario from there). */
  nvidiaSmiEnv?: NodeJS.ProcessEnv;
  /** Simulate mode: the pids of the simulated host's processes, the only ones the engine scan sees. */
  procPids?: () => ReadonlySet<number> | null;
}

export class Sidecar {
  readonly store: Store;
  readonly sources: SourceTracker;
  private readonly gpu: GpuCollector;
  private readonly xid: XidWatcher | null;
  private readonly engines: EngineCollector;
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  ticks = 0;

  constructor(private readonly deps: SidecarDeps) {
    const { config, logger } = deps;
    this.store = new Store({ capacity: Math.max(1, Math.ceil(config.historyMs / config.intervalMs)), maxSeries: config.maxSeries });
    // Three missed intervals (plus the nvidia-smi deadline) before fresh data counts as stale.
    this.sources = new SourceTracker(3 * config.intervalMs + config.nvidiaSmiTimeoutMs);
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
      hostname: config.hostname,
      intervalMs: config.intervalMs,
      busyThreshold: config.busyThreshold,
      // An engine's answer must fit in a tick, but a loaded engine may take a moment to render /metrics.
      timeoutMs: Math.min(5000, Math.max(1000, config.intervalMs)),
      graceMs: config.engineGraceMs,
      windowMs: Math.max(60_000, 5 * config.intervalMs),
      onLog: (level, msg) => logger[level]({ collector: 'engines' }, msg),
    });
    this.xid = config.kmsg ? new XidWatcher(config.kmsg) : null;
    if (!this.xid) this.sources.disable('xid', 'turned off (--kmsg none)');
    this.gpu = new GpuCollector({
      nvidiaSmi: config.nvidiaSmi,
      mode: config.nvidiaSmiMode,
      intervalMs: config.intervalMs,
      timeoutMs: config.nvidiaSmiTimeoutMs,
      host: config.hostname,
      env: deps.nvidiaSmiEnv,
      onLog: (level, msg) => logger[level]({ collector: 'gpu' }, msg),
    });
  }

  start(): void {
    this.gpu.start();
    if (this.xid) {
      try {
        this.xid.open();
        this.sources.success('xid', Date.now());
      } catch (err) {
        const why = `cannot read ${this.deps.config.kmsg}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` +
          ' (Xid errors need root or CAP_SYSLOG; --kmsg none turns this off)';
        this.sources.disable('xid', why);
        this.deps.logger.warn({ collector: 'xid' }, why);
      }
    }
    const loop = async () => {
      if (this.stopped) return;
      const started = Date.now();
      this.running = this.tick().then(
        () => undefined,
        (err: unknown) => this.deps.logger.error({ err }, 'collection tick failed'),
      );
      await this.running;
      this.running = null;
      if (this.stopped) return;
      const wait = Math.max(0, this.deps.config.intervalMs - (Date.now() - started));
      this.timer = setTimeout(loop, wait);
    };
    // In loop mode the first document takes a moment; give it one short head start.
    this.timer = setTimeout(loop, this.deps.config.nvidiaSmiMode === 'loop' ? Math.min(1500, this.deps.config.intervalMs) : 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.gpu.stop();
    this.xid?.close();
    await this.running;
  }

  private outcome(name: SourceName, o: SourceOutcome, at: number): void {
    const { logger, metrics } = this.deps;
    if (!o.enabled) {
      this.sources.disable(name, 'no GPU on this host is in vGPU host mode');
      return;
    }
    const prev = this.sources.status(name, at).status;
    if (o.ok) {
      this.sources.success(name, at);
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
  private readXids(gpus: Gpu[], now: number): FleetEvent[] {
    if (!this.xid || this.sources.status('xid', now).status === 'disabled') return [];
    let records;
    try {
      records = this.xid.drain();
      this.sources.success('xid', now);
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
      const who = g ? `GPU ${g.index ?? '?'} ${g.name} (${g.uuid})` : `GPU at PCI ${x.pciBusId}`;
      const proc = x.pid !== null ? ` [pid ${x.pid}${x.processName ? ` ${x.processName}` : ''}]` : '';
      return { time: new Date(x.time).toISOString(), host, kind: 'xid', subject: g?.uuid ?? x.pciBusId, text: `Xid ${x.xid} on ${who}: ${x.detail}${proc}` };
    });
  }

  async tick(): Promise<Snapshot> {
    const reading = await this.gpu.collect();
    // A tick cut short by shutdown (its nvidia-smi child killed) is not a failure worth reporting.
    if (this.stopped && this.store.latest) return this.store.latest;
    const now = Date.now();
    this.outcome('gpu', reading.gpu, now);
    this.outcome('vgpu', reading.vgpu, now);
    // Engines are mapped onto this tick's GPU processes, so they come after the GPU reading.
    const engines = await this.engines.collect(reading.gpus, now);
    this.outcome('engines', { ok: engines.ok, enabled: true, error: engines.error, durationSeconds: engines.durationSeconds }, now);
    if (engines.docker) this.outcome('docker', { ...engines.docker, enabled: true }, now);
    const snap: Snapshot = {
      host: {
        hostname: this.deps.config.hostname,
        driverVersion: reading.driverVersion,
        cudaVersion: reading.cudaVersion,
        collectedAt: new Date(now).toISOString(),
        sources: this.sources.all(now),
      },
      gpus: reading.gpus,
      engines: engines.engines,
    };
    const events = this.store.record(snap, reading.fresh);
    const xids = this.readXids(reading.gpus, now);
    this.store.addEvents(xids);
    this.store.addEvents(engines.events);
    events.push(...xids, ...engines.events);
    for (const e of events) this.deps.logger.info({ event: e.kind, subject: e.subject }, e.text);
    // Prometheus gets no GPU series while the reading is stale: an exporter must not repeat old values
    // as current ones. gpufleet_collector_up says why they are missing.
    this.deps.metrics.update(reading.fresh ? snap : { ...snap, gpus: [] }, this.store.lostGpus.values());
    this.ticks++;
    return snap;
  }
}
