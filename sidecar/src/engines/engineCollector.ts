// The `engines` source: each tick, discover engines, probe /health, scrape /metrics (and /version,
// /v1/models when needed), derive load over a window, and map ranks to GPUs. One engine that hangs
// or answers garbage costs its own deadline and shows as its own error; it never delays or poisons
// another engine's state.
import type { Engine, EngineLoad, FleetEvent, Gpu } from '../model.js';
import { SourceError } from '../collectors/sourceError.js';
import { quoteOutput } from '../parsers/errors.js';
import { byId, discoverEngines, type EngineCandidate } from './discovery.js';
import { DockerDiscovery, type ContainerEngine } from './dockerDiscovery.js';
import { httpGet } from './httpGet.js';
import { mapEngineGpus } from './mapping.js';
import { ProcScanner, type ProcInfo } from './procScan.js';
import { MAX_MODELS_BODY_BYTES, MAX_VERSION_BODY_BYTES, parseVllmModels, parseVllmVersion, type VllmModels } from './vllmApi.js';
import { engineBusy, isBusy, LoadWindow, mergeEngineScrapes, type ScrapePoint } from './vllmLoad.js';
import { keepReadFamilies, parseVllmMetrics, type EngineScrape, type VllmMetrics } from './vllmMetrics.js';

export interface EngineCollectorOptions {
  procPath: string;
  /** When set and it returns a set: the only pids the process scan looks at (simulate mode). */
  procPids?: () => ReadonlySet<number> | null;
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
  /** When /version was last asked (ms); -Infinity: ask at the next tick. */
  versionAskedAt: number;
  models: VllmModels | null;
  /** When /v1/models was last asked (ms); -Infinity: ask at the next tick. */
  modelsAskedAt: number;
  processStart: number | null;
  /** Scrapes over the load window, per data-parallel rank (`engine` label). */
  windows: Map<string, LoadWindow>;
  /** With several ranks: their scrapes added up, tick by tick, for the engine's load; `mergedKey` names the ranks. */
  merged: LoadWindow | null;
  mergedKey: string;
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

/** At most n at a time, each slot taking the next item as soon as it is free: an engine that hangs
 * holds one slot for its deadline, not a whole batch of other engines. */
/** What was wrong in a /metrics answer that was still read (a broken histogram…); null when nothing. */
function metricsProblems(url: string, parsed: VllmMetrics): string | null {
  const problems = parsed.engines.flatMap((e) => e.problems.map((p) => (parsed.engines.length > 1 ? `engine ${e.engine}: ${p}` : p)));
  if (parsed.skippedLines > 0) problems.push(`${parsed.skippedLines} malformed line${parsed.skippedLines === 1 ? '' : 's'} skipped`);
  if (problems.length === 0) return null;
  const more = problems.length > MAX_PROBLEMS_SHOWN ? ` (and ${problems.length - MAX_PROBLEMS_SHOWN} more)` : '';
  return `GET ${url}: ${problems.slice(0, MAX_PROBLEMS_SHOWN).join('; ')}${more}`;
}

async function inPool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, slot));
}

/** The first bytes of a body say HTML: a proxy's error page or another web server on the port. */
function looksLikeHtml(body: string, contentType: string): boolean {
  return /html/i.test(contentType) || /^\s*</.test(body.slice(0, 256));
}

/** An HTML page in a few words: its title when it has one (an error page's is the error). */
function htmlSummary(body: string): string {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(body.slice(0, 4096));
  return title?.[1]?.trim() ? `title "${quoteOutput(title[1])}"` : quoteOutput(body);
}

function clearWindows(s: EngineState): void {
  s.windows.clear();
  s.merged = null;
  s.mergedKey = '';
}

/** Most metric problems quoted in an engine's lastError. */
const MAX_PROBLEMS_SHOWN = 3;

export class EngineCollector {
  private readonly scanner: ProcScanner;
  private readonly docker: DockerDiscovery | null;
  private readonly states = new Map<string, EngineState>();

  constructor(private readonly opts: EngineCollectorOptions) {
    this.scanner = new ProcScanner(opts.procPath, undefined, opts.procPids ?? null);
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
          versionAskedAt: -Infinity, modelsAskedAt: -Infinity, processStart: null, windows: new Map(), merged: null, mergedKey: '', lastError: null,
        });
      }
    }

    const events: FleetEvent[] = [];
    await inPool([...this.states.values()], PARALLEL_PROBES, (s) => this.probe(s, now, events));

    // Drop engines that are down and no longer discovered once the grace period is over.
    for (const [id, s] of this.states) {
      if (s.health !== 'up' && now - Math.max(s.lastSeenInDiscovery, s.lastUpAt ?? 0) > this.opts.graceMs) {
        this.states.delete(id);
        this.opts.onLog?.('info', `engine ${id} dropped: down and not discovered for ${Math.round(this.opts.graceMs / 1000)} s`);
      }
    }

    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const engines: Engine[] = [];
    for (const s of [...this.states.values()].sort((a, b) => byId.compare(a.candidate.id, b.candidate.id))) {
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
      clearWindows(s);
      return;
    }

    // An engine that let a request run into its deadline is not asked again this tick: a hung
    // server would otherwise cost a deadline per endpoint.
    let timedOut = false;
    const metricsUrl = `${c.endpoint}/metrics`;
    try {
      const m = await this.get(metricsUrl, c, MAX_METRICS_BYTES);
      if (m.status !== 200) throw new SourceError('http', `GET ${metricsUrl}: HTTP ${m.status}`);
      if (looksLikeHtml(m.body, m.contentType)) {
        throw new SourceError('parse', `GET ${metricsUrl}: answered an HTML page, not Prometheus text — a proxy or another server on the port? (${htmlSummary(m.body)})`);
      }
      const parsed = parseVllmMetrics(keepReadFamilies(m.body), { source: `GET ${metricsUrl}` });
      if (parsed.engines.length === 0) throw new SourceError('parse', `GET ${metricsUrl}: no vLLM metrics in the answer (${quoteOutput(m.body)})`);
      // A restarted server starts its counters over: its old points would give a bogus window.
      const restarted = parsed.processStartTimeSeconds !== null && s.processStart !== null && parsed.processStartTimeSeconds !== s.processStart;
      if (restarted) {
        clearWindows(s);
        s.version = null;
        s.versionAskedAt = -Infinity;
        s.modelsAskedAt = -Infinity;
      }
      s.processStart = parsed.processStartTimeSeconds;
      this.record(s, parsed.engines, now);
      s.lastError = metricsProblems(metricsUrl, parsed);
    } catch (err) {
      timedOut = err instanceof SourceError && err.reason === 'timeout';
      s.lastError = (err as Error).message;
      clearWindows(s);
    }
    if (timedOut) return;

    // Both change only with a restart (a new process_start_time_seconds clears them) or, for
    // /v1/models, when LoRA adapters are loaded: asked once, then every MODELS_REFRESH_MS; a failed
    // answer is asked again no sooner than that either.
    if (s.version === null && now - s.versionAskedAt >= MODELS_REFRESH_MS) {
      s.versionAskedAt = now;
      try {
        const v = await this.get(`${c.endpoint}/version`, c, MAX_VERSION_BODY_BYTES);
        if (v.status === 200) s.version = parseVllmVersion(v.body);
      } catch (err) {
        s.lastError ??= (err as Error).message;
        if (err instanceof SourceError && err.reason === 'timeout') return;
      }
    }
    if (now - s.modelsAskedAt >= MODELS_REFRESH_MS) {
      s.modelsAskedAt = now;
      try {
        const r = await this.get(`${c.endpoint}/v1/models`, c, MAX_MODELS_BODY_BYTES);
        if (r.status === 200) s.models = parseVllmModels(r.body);
      } catch (err) {
        s.lastError ??= (err as Error).message;
      }
    }
  }

  /** Adds one scrape's ranks to the engine's windows (and to the sum of its ranks when there are several). */
  private record(s: EngineState, ranks: EngineScrape[], now: number): void {
    const seen = new Set<string>();
    for (const e of ranks) {
      seen.add(e.engine);
      let w = s.windows.get(e.engine);
      if (!w) {
        w = new LoadWindow();
        s.windows.set(e.engine, w);
      }
      w.push({ scrape: e, atMs: now });
      w.trim(now, this.opts.windowMs);
    }
    for (const k of [...s.windows.keys()]) if (!seen.has(k)) s.windows.delete(k);
    if (s.windows.size < 2) {
      s.merged = null;
      s.mergedKey = '';
      return;
    }
    const windows = [...s.windows.values()];
    const key = [...s.windows.keys()].join('\0');
    const merged = { scrape: mergeEngineScrapes(windows.map((w) => (w.last as ScrapePoint).scrape)), atMs: now };
    if (!s.merged || key !== s.mergedKey) {
      // Ranks came or went (a restart, as a rule): their sum starts over.
      s.merged = new LoadWindow();
      s.mergedKey = key;
    }
    s.merged.push(merged);
    s.merged.trim(now, this.opts.windowMs);
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
    const ranks = [...s.windows.values()];
    if (s.health === 'up' && ranks.length) {
      const per = ranks.map((w) => w.derive(this.opts.busyThreshold));
      if (ranks.length === 1 || !s.merged) {
        const d = per[0] as (typeof per)[number];
        load = { ...d.load, prefixCacheHitRatio: d.prefixCacheHitRatio, requestsPerSec: d.requestsPerSec };
        busy = d.busy;
      } else {
        // Data-parallel ranks behind one API server: one engine, its figures added up.
        const d = s.merged.derive(this.opts.busyThreshold);
        load = { ...d.load, prefixCacheHitRatio: d.prefixCacheHitRatio, requestsPerSec: d.requestsPerSec };
        busy = engineBusy(per.map((x) => isBusy(x.load.kvCacheUsage, this.opts.busyThreshold)));
      }
    }

    const lastScrape: EngineScrape | undefined = ranks[0]?.last?.scrape;
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
      ...(c.image ? { image: c.image } : {}),
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
