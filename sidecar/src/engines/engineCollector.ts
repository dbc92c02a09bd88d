// The `engines` source: each tick, discover engines, probe /health, scrape /metrics (and /version,
// /v1/models when needed), derive load over a window, and map ranks to GPUs. One engine that hangs
// or answers garbage costs its own deadline and shows as its own error; it never delays or poisons
// another engine's state.
import type { Engine, EngineLoad, FleetEvent, Gpu } from '../model.js';
import { SourceError } from '../collectors/sourceError.js';
import { discoverEngines, type EngineCandidate } from './discovery.js';
import { DockerDiscovery, type ContainerEngine } from './dockerDiscovery.js';
import { httpGet } from './httpGet.js';
import { mapEngineGpus } from './mapping.js';
import { ProcScanner, type ProcInfo } from './procScan.js';
import { parseVllmModels, parseVllmVersion, type VllmModels } from './vllmApi.js';
import { deriveLoadOverWindow, engineBusy, isBusy, mergeEngineScrapes, type ScrapePoint } from './vllmLoad.js';
import { keepReadFamilies, parseVllmMetrics, type EngineScrape } from './vllmMetrics.js';

export interface EngineCollectorOptions {
  procPath: string;
  /** Docker/Podman API socket; null: no container discovery. */
  dockerSocket: string | null;
  engineUrls: string[];
  hostname: string;
  intervalMs: number;
  busyThreshold: number;
  /** Per-request deadline. */
  timeoutMs: number;
  /** A down engine no longer found by discovery is dropped after this long. */
  graceMs: number;
  /** Window load is derived over. */
  windowMs: number;
  onLog?: (level: 'info' | 'warn' | 'debug', msg: string) => void;
}

interface EngineState {
  candidate: EngineCandidate;
  health: Engine['health'];
  firstSeen: number;
  lastUpAt: number | null;
  lastSeenInDiscovery: number;
  version: string | null;
  models: VllmModels | null;
  modelsAt: number;
  processStart: number | null;
  points: Map<string, ScrapePoint[]>;
  lastError: string | null;
}

export interface EngineReading {
  engines: Engine[];
  events: FleetEvent[];
  ok: boolean;
  error?: SourceError;
  durationSeconds: number;
  /** The container layer: null when turned off. */
  docker: { ok: boolean; error?: SourceError; durationSeconds: number } | null;
}

const MAX_METRICS_BYTES = 32 * 1024 * 1024;
const MODELS_REFRESH_MS = 60_000;
const PARALLEL_PROBES = 8;

const EMPTY_LOAD: EngineLoad = {
  running: null,
  waiting: null,
  kvCacheUsage: null,
  promptTokensPerSec: null,
  generationTokensPerSec: null,
  ttftSeconds: { p50: null, p95: null },
  itlSeconds: { p50: null, p95: null },
  e2eSeconds: { p50: null, p95: null },
  preemptions: null,
};

async function inBatches<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(fn));
}

export class EngineCollector {
  private readonly scanner: ProcScanner;
  private readonly docker: DockerDiscovery | null;
  private readonly states = new Map<string, EngineState>();

  constructor(private readonly opts: EngineCollectorOptions) {
    this.scanner = new ProcScanner(opts.procPath);
    this.docker = opts.dockerSocket ? new DockerDiscovery(opts.dockerSocket, opts.timeoutMs) : null;
  }

  private get(url: string, c: EngineCandidate, maxBytes: number) {
    return httpGet(url, { timeoutMs: this.opts.timeoutMs, maxBytes, socketPath: c.socketPath ?? undefined });
  }

  async collect(gpus: Gpu[], now = Date.now()): Promise<EngineReading> {
    const t0 = performance.now();
    let procs: ProcInfo[] = [];
    let scanError: SourceError | undefined;
    try {
      procs = this.scanner.scan();
    } catch (err) {
      scanError = new SourceError('other', (err as Error).message);
    }
    let containers: ContainerEngine[] = [];
    let docker: EngineReading['docker'] = null;
    if (this.docker) {
      const td = performance.now();
      try {
        containers = await this.docker.list(procs);
        docker = { ok: true, durationSeconds: (performance.now() - td) / 1000 };
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        docker = {
          ok: false,
          error: new SourceError('http', `Docker API at ${this.docker.socketPath}: ${e.code ?? e.message}`),
          durationSeconds: (performance.now() - td) / 1000,
        };
      }
    }
    const candidates = discoverEngines(procs, this.opts.engineUrls, this.opts.hostname, containers);
    for (const c of candidates) {
      const s = this.states.get(c.id);
      if (s) {
        s.candidate = c;
        s.lastSeenInDiscovery = now;
      } else {
        this.states.set(c.id, {
          candidate: c, health: 'unknown', firstSeen: now, lastUpAt: null, lastSeenInDiscovery: now, version: null, models: null,
          modelsAt: 0, processStart: null, points: new Map(), lastError: null,
        });
      }
    }

    const events: FleetEvent[] = [];
    await inBatches([...this.states.values()], PARALLEL_PROBES, (s) => this.probe(s, now, events));

    // Drop engines that are down and no longer discovered once the grace period is over.
    for (const [id, s] of this.states) {
      if (s.health !== 'up' && now - Math.max(s.lastSeenInDiscovery, s.lastUpAt ?? 0) > this.opts.graceMs) {
        this.states.delete(id);
        this.opts.onLog?.('info', `engine ${id} dropped: down and not discovered for ${Math.round(this.opts.graceMs / 1000)} s`);
      }
    }

    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const engines: Engine[] = [];
    for (const s of [...this.states.values()].sort((a, b) => a.candidate.id.localeCompare(b.candidate.id, undefined, { numeric: true }))) {
      engines.push(this.toEngine(s, byPid, gpus, now));
    }
    return {
      engines,
      events,
      ok: scanError === undefined,
      error: scanError,
      durationSeconds: (performance.now() - t0) / 1000,
      docker,
    };
  }

  private async probe(s: EngineState, now: number, events: FleetEvent[]): Promise<void> {
    const c = s.candidate;
    const before = s.health;
    if (!c.endpoint) {
      // Found (a container), but there is no way to reach it: say why instead of guessing.
      s.health = 'unknown';
      s.lastError = c.problem;
      return;
    }
    try {
      const h = await this.get(`${c.endpoint}/health`, c, 64 * 1024);
      if (h.status !== 200) throw new SourceError('http', `GET ${c.endpoint}/health: HTTP ${h.status}`);
      s.health = 'up';
      s.lastUpAt = now;
    } catch (err) {
      s.health = 'down';
      s.lastError = (err as Error).message;
    }
    const event = (kind: 'engine-up' | 'engine-down', text: string) =>
      events.push({ time: new Date(now).toISOString(), host: this.opts.hostname, kind, subject: c.id, text });
    if (s.health === 'up' && before !== 'up') event('engine-up', `engine ${c.id} (${c.launch?.model ?? c.endpoint}) is up`);
    if (s.health === 'down' && before === 'up') event('engine-down', `engine ${c.id} (${c.launch?.model ?? c.endpoint}) stopped answering: ${s.lastError}`);
    if (s.health !== 'up') {
      s.points.clear();
      return;
    }

    try {
      const m = await this.get(`${c.endpoint}/metrics`, c, MAX_METRICS_BYTES);
      if (m.status !== 200) throw new SourceError('http', `GET ${c.endpoint}/metrics: HTTP ${m.status}`);
      const parsed = parseVllmMetrics(keepReadFamilies(m.body));
      if (parsed.engines.length === 0) throw new SourceError('parse', `GET ${c.endpoint}/metrics: no vLLM metrics in the answer`);
      // A restarted server starts its counters over: its old points would give a bogus window.
      const restarted = parsed.processStartTimeSeconds !== null && s.processStart !== null && parsed.processStartTimeSeconds !== s.processStart;
      if (restarted) {
        s.points.clear();
        s.version = null;
        s.models = null;
      }
      s.processStart = parsed.processStartTimeSeconds;
      const seen = new Set<string>();
      for (const e of parsed.engines) {
        seen.add(e.engine);
        const list = s.points.get(e.engine) ?? [];
        list.push({ scrape: e, atMs: now });
        while (list.length > 2 && now - (list[0] as ScrapePoint).atMs > this.opts.windowMs) list.shift();
        s.points.set(e.engine, list);
      }
      for (const k of [...s.points.keys()]) if (!seen.has(k)) s.points.delete(k);
      s.lastError = null;
    } catch (err) {
      s.lastError = (err as Error).message;
      s.points.clear();
    }

    if (s.version === null) {
      try {
        const v = await this.get(`${c.endpoint}/version`, c, 64 * 1024);
        if (v.status === 200) s.version = parseVllmVersion(v.body);
      } catch (err) {
        s.lastError ??= (err as Error).message;
      }
    }
    if (s.models === null || now - s.modelsAt > MODELS_REFRESH_MS) {
      try {
        const r = await this.get(`${c.endpoint}/v1/models`, c, 4 * 1024 * 1024);
        if (r.status === 200) {
          s.models = parseVllmModels(r.body);
          s.modelsAt = now;
        }
      } catch (err) {
        s.lastError ??= (err as Error).message;
      }
    }
  }

  private toEngine(s: EngineState, procs: Map<number, ProcInfo>, gpus: Gpu[], _now: number): Engine {
    const c = s.candidate;
    const env = new Map<number, string | null>();
    for (const pid of c.pids) {
      const role = procs.get(pid);
      if (role) env.set(pid, this.scanner.env(pid, 'CUDA_VISIBLE_DEVICES'));
    }
    const mapping = mapEngineGpus(c, procs, gpus, env);

    let load: EngineLoad = EMPTY_LOAD;
    let busy = false;
    const ranks = [...s.points.values()].filter((p) => p.length > 0);
    if (s.health === 'up' && ranks.length) {
      const per = ranks.map((pts) => deriveLoadOverWindow(pts, this.opts.busyThreshold));
      if (ranks.length === 1) {
        const d = per[0] as (typeof per)[number];
        load = { ...d.load, prefixCacheHitRatio: d.prefixCacheHitRatio, requestsPerSec: d.requestsPerSec };
        busy = d.busy;
      } else {
        // Data-parallel ranks behind one API server: one engine, its figures added up.
        const length = Math.min(...ranks.map((p) => p.length));
        const merged: ScrapePoint[] = [];
        for (let i = 0; i < length; i++) {
          const at = ranks.map((p) => p[p.length - length + i] as ScrapePoint);
          merged.push({ scrape: mergeEngineScrapes(at.map((x) => x.scrape)), atMs: (at[0] as ScrapePoint).atMs });
        }
        const d = deriveLoadOverWindow(merged, this.opts.busyThreshold);
        load = { ...d.load, prefixCacheHitRatio: d.prefixCacheHitRatio, requestsPerSec: d.requestsPerSec };
        busy = engineBusy(per.map((x) => isBusy(x.load.kvCacheUsage, this.opts.busyThreshold)));
      }
    }

    const lastScrape: EngineScrape | undefined = ranks[0]?.[ranks[0].length - 1]?.scrape;
    const served = s.models?.models.map((m) => m.id) ?? c.launch?.servedModelNames ?? [];
    const base = s.models?.tree[0]?.model;
    const parallel = {
      tensor: c.launch?.parallel.tensor ?? 1,
      pipeline: c.launch?.parallel.pipeline ?? 1,
      data: Math.max(c.launch?.parallel.data ?? 1, ranks.length),
    };
    return {
      host: this.opts.hostname,
      id: c.id,
      type: 'vllm',
      endpoint: c.socketPath ? `unix:${c.socketPath}` : c.endpoint,
      deployment: c.deployment,
      ...(c.container ? { container: c.container } : {}),
      model: base?.root ?? c.launch?.model ?? base?.id ?? lastScrape?.modelNames[0] ?? null,
      servedModels: served,
      maxModelLen: base?.maxModelLen ?? null,
      version: s.version,
      health: s.health,
      parallel,
      workers: mapping.workers,
      gpuMapping: { status: mapping.status, reason: mapping.reason },
      load,
      busy,
      discoveredBy: c.source,
      lastError: s.lastError,
      lastSeenUpAt: s.lastUpAt === null ? null : new Date(s.lastUpAt).toISOString(),
    };
  }
}
