// The `engines` source: each tick, discover engines, scrape /metrics (with /health every 5 s while
// that reads, /version and /v1/models when needed), derive load over a window, and map ranks to
// GPUs. One engine that hangs or answers garbage costs its own deadline and shows as its own error;
// it never delays or poisons another engine's state. The whole collection gets one time budget: when
// it runs out, the requests in flight are aborted and the engines not done keep their last state,
// marked stale.
import { isAscii } from 'node:buffer';
import type { Engine, EngineLoad, EngineRank, FleetEvent, Gpu } from '../model.js';
import { SourceError } from '../collectors/sourceError.js';
import { systemClock, wallAt, type Clock } from '../util/clock.js';
import { pacedPool } from '../util/pacedPool.js';
import { nextTurn } from '../util/turns.js';
import { byId, discoverEngines, type EngineCandidate } from './discovery.js';
import { DockerDiscovery, type ContainerEngine } from './dockerDiscovery.js';
import { describeDockerFailure } from './dockerError.js';
import { EndpointGate } from './endpointGate.js';
import { readFormat, readFormatAscii, type ExpositionFormat } from './expositionFormat.js';
import { parseAllowList, type VllmPath } from './endpointPolicy.js';
import { httpGet, httpGetBytes, type HttpBytesAnswer } from './httpGet.js';
import { LastParse } from './lastParse.js';
import { mapEngineGpus } from './mapping.js';
import { ProcScanner, type EnvState, type ProcInfo, type ProcLookup } from './procScan.js';
import { MAX_MODELS_BODY_BYTES, MAX_VERSION_BODY_BYTES, parseVllmModels, parseVllmVersion, type VllmModels } from './vllmApi.js';
import { engineBusy, LoadWindow, mergeEngineScrapes, type ScrapePoint } from './vllmLoad.js';
import { keepReadFamilies, keptLinesAscii, parseVllmMetrics, READ_SAMPLE_NAMES, type EngineScrape, type VllmMetrics } from './vllmMetrics.js';

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
  /** --engine-allow-remote: networks beyond loopback and this host's addresses that discovered engines may be on. */
  allowRemote?: string[];
  /** --max-engines: engines watched at most; more are skipped and reported. */
  maxEngines?: number;
  onLog?: (level: 'info' | 'warn' | 'debug', msg: string) => void;
  /** Monotonic time for windows, deadlines and ages; wall time for event and lastSeenUpAt stamps. */
  clock?: Clock;
}

export interface CollectLimits {
  /** The whole collection's time budget (Docker, every probe); none: only the per-request deadlines. */
  budgetMs?: number;
  /** Aborts the collection from outside (shutdown). */
  signal?: AbortSignal;
}

interface EngineState {
  candidate: EngineCandidate;
  health: Engine['health'];
  firstSeen: number;
  /** Monotonic ms it was last seen up: a successful /health answer, or /metrics read between them. */
  lastUpAt: number | null;
  /** When /health was last asked (ms); -Infinity: never. */
  healthAskedAt: number;
  /** When /metrics was last read (ms); -Infinity: never. */
  metricsReadAt: number;
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
  /** The format of the last /metrics answer read. */
  metricsFormat: ExpositionFormat | null;
  /** This engine's last kept /metrics lines and what they read as: an idle engine's are not read again. */
  lastParse: LastParse<VllmMetrics>;
  /** /metrics is asked with READ_METRICS_PATH's filter; off once the filter proved unanswered (see scrape). */
  filterMetrics: boolean;
  /** Answered /health and a /metrics with vLLM families at least once: only then is it a scrape target. */
  answeredAsVllm: boolean;
  /** Whether the last collection finished this engine's probe before its budget ran out. */
  refreshed: boolean;
  /** Monotonic ms of the last finished probe; -Infinity: never. */
  refreshedAt: number;
}

/**
 * /metrics with prometheus_client's `name[]` filter (vLLM serves its metrics through it): only the
 * samples read are rendered, a quarter of the text. Cheaper for the engine, which renders it in its API
 * server's Python thread every tick, and for the sidecar, which reads and compares less.
 */
export const READ_METRICS_PATH: VllmPath = `/metrics?${READ_SAMPLE_NAMES.map((n) => `name%5B%5D=${encodeURIComponent(n)}`).join('&')}`;

/** How one /metrics request went: read, failed (an error kept in lastError), ran into its deadline, or aborted. */
type Scrape = 'read' | 'failed' | 'timeout' | 'aborted';

/** Since the collector started: /metrics answers read, and those whose kept lines were the same as the engine's last (not read again). */
export interface ParseCounts {
  parsed: number;
  reused: number;
}

export interface EngineReading {
  engines: Engine[];
  events: FleetEvent[];
  ok: boolean;
  error?: SourceError;
  durationSeconds: number;
  /** The container layer: null when turned off. */
  docker: { ok: boolean; error?: SourceError; durationSeconds: number } | null;
  /** Set when the budget ran out: how many engines kept their last state. */
  overrun?: { stale: number; total: number; budgetMs: number };
}

const MAX_METRICS_BYTES = 32 * 1024 * 1024;
const MODELS_REFRESH_MS = 60_000;
/**
 * While an engine is up and its /metrics reads, /health is asked this often rather than every tick:
 * a dead API server fails /metrics at once (and /health is asked in that tick); what only /health
 * tells is an engine core dead behind a live API server, and vLLM's own watchdog ends such a
 * server within 5 s. Half the requests to every engine, and their CPU on both sides.
 */
const HEALTH_EVERY_MS = 5_000;
/** Probes in flight at most: a hung engine holds one for its deadline, not the others. */
const PARALLEL_PROBES = 8;
/** Longest wait for a probe before the next starts beside it (pacedPool.ts says why one at a time). */
const PROBE_PACE_MS = 50;
export const DEFAULT_MAX_ENGINES = 256;
/** Engines remembered at most, found now or within the grace period. */
export const MAX_ENGINE_STATES = 1024;

/** A scan that failed lists no process. */
const NO_PROCS: ProcLookup = new Map<number, ProcInfo>();

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

/** What was wrong in a /metrics answer that was still read (a broken histogram…); null when nothing. */
function metricsProblems(url: string, parsed: VllmMetrics): string | null {
  // The `engine` label is the engine's text: named only when it is a rank number.
  const rank = (e: EngineScrape, i: number) => (/^\d{1,6}$/.test(e.engine) ? e.engine : `#${i + 1}`);
  const problems = parsed.engines.flatMap((e, i) => e.problems.map((p) => (parsed.engines.length > 1 ? `engine ${rank(e, i)}: ${p}` : p)));
  if (parsed.skippedLines > 0) problems.push(`${parsed.skippedLines} malformed line${parsed.skippedLines === 1 ? '' : 's'} skipped`);
  if (problems.length === 0) return null;
  const more = problems.length > MAX_PROBLEMS_SHOWN ? ` (and ${problems.length - MAX_PROBLEMS_SHOWN} more)` : '';
  return `GET ${url}: ${problems.slice(0, MAX_PROBLEMS_SHOWN).join('; ')}${more}`;
}

/** The first bytes of a body say HTML: a proxy's error page or another web server on the port. */
function looksLikeHtml(body: string, contentType: string): boolean {
  return /html/i.test(contentType) || /^\s*</.test(body.slice(0, 256));
}

/**
 * What an answer was, never what it said: whatever listens on a discovered port may hold another
 * user's or service's data, and lastError is published on the API. Only the content type's media
 * type, when it is a plain token, and the size.
 */
function describeAnswer(contentType: string, body: string): string {
  const media = /^\s*([A-Za-z0-9!#$&^_.+-]{1,40}\/[A-Za-z0-9!#$&^_.+-]{1,60})\s*(?:;|$)/.exec(contentType)?.[1];
  return `${media ? `content type ${media.toLowerCase()}, ` : ''}${Buffer.byteLength(body)} bytes`;
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
  private readonly procTable: ProcLookup = { get: (pid) => this.scanner.proc(pid) };
  private readonly docker: DockerDiscovery | null;
  private readonly states = new Map<string, EngineState>();
  private readonly gate: EndpointGate;
  /** Candidates left out by --max-engines at the last tick. */
  private overCap = 0;
  private readonly clock: Clock;
  readonly parseCounts: ParseCounts = { parsed: 0, reused: 0 };

  constructor(private readonly opts: EngineCollectorOptions) {
    this.scanner = new ProcScanner(opts.procPath, undefined, opts.procPids ?? null);
    this.docker = opts.dockerSocket ? new DockerDiscovery(opts.dockerSocket, opts.timeoutMs) : null;
    this.gate = new EndpointGate({ hostname: opts.hostname, allow: parseAllowList(opts.allowRemote ?? []), uids: (pid) => this.scanner.uids(pid) });
    this.clock = opts.clock ?? systemClock;
  }

  /** Only vLLM's own paths are ever asked, on the endpoint the gate let through. */
  private get(c: EngineCandidate, path: VllmPath, maxBytes: number, signal: AbortSignal) {
    return httpGet(`${c.endpoint}${path}`, { timeoutMs: this.opts.timeoutMs, maxBytes, socketPath: c.socketPath ?? undefined, signal });
  }

  /** As get, the body left as received. */
  private getBytes(c: EngineCandidate, path: VllmPath, maxBytes: number, signal: AbortSignal) {
    const shownUrl = path === READ_METRICS_PATH ? `${c.endpoint}/metrics?name[]=…` : undefined;
    return httpGetBytes(`${c.endpoint}${path}`, { timeoutMs: this.opts.timeoutMs, maxBytes, socketPath: c.socketPath ?? undefined, signal, shownUrl });
  }

  /** Engines already watched stay; new ones (--engine ones first) while under --max-engines. */
  private withinCap(found: EngineCandidate[]): EngineCandidate[] {
    const max = this.opts.maxEngines ?? DEFAULT_MAX_ENGINES;
    let watched = this.states.size;
    const kept: EngineCandidate[] = [];
    let skipped = 0;
    for (const c of [...found.filter((x) => x.source === 'flag'), ...found.filter((x) => x.source !== 'flag')]) {
      if (this.states.has(c.id)) kept.push(c);
      else if (watched < max) {
        watched++;
        kept.push(c);
      } else skipped++;
    }
    if (skipped > 0 && this.overCap === 0) this.opts.onLog?.('warn', `${skipped} engine candidates over --max-engines ${max} are not watched`);
    else if (skipped === 0 && this.overCap > 0) this.opts.onLog?.('info', `engine candidates back under --max-engines ${max}`);
    this.overCap = skipped;
    return kept;
  }

  /**
   * One collection. `now` is monotonic ms (windows and grace are measured on it). With a budget, Docker
   * gets half of it, and the collection returns when it is spent, whatever engines still owe.
   */
  async collect(gpus: Gpu[], now = this.clock.monoMs(), limits: CollectLimits = {}): Promise<EngineReading> {
    const t0 = performance.now();
    const budget = new AbortController();
    const budgetTimer = limits.budgetMs !== undefined ? setTimeout(() => budget.abort(), limits.budgetMs) : null;
    const onOuterAbort = () => budget.abort();
    limits.signal?.addEventListener('abort', onOuterAbort);
    if (limits.signal?.aborted) budget.abort();
    try {
      return await this.collectWithin(gpus, now, budget.signal, limits.budgetMs);
    } finally {
      if (budgetTimer) clearTimeout(budgetTimer);
      limits.signal?.removeEventListener('abort', onOuterAbort);
      this.opts.onLog?.('debug', `engines collected in ${Math.round(performance.now() - t0)} ms`);
    }
  }

  private async collectWithin(gpus: Gpu[], now: number, signal: AbortSignal, budgetMs: number | undefined): Promise<EngineReading> {
    const t0 = performance.now();
    let procs: ProcInfo[] = [];
    let scanError: SourceError | undefined;
    // The scanner's table, kept from tick to tick (a map built here each tick outlived young collections).
    let byPid: ProcLookup = this.procTable;
    try {
      procs = this.scanner.scan();
      if (this.scanner.lastError) scanError = new SourceError('other', this.scanner.lastError);
    } catch (err) {
      scanError = new SourceError('other', (err as Error).message);
      byPid = NO_PROCS;
    }
    let containers: ContainerEngine[] = [];
    let docker: EngineReading['docker'] = null;
    if (this.docker) {
      const td = performance.now();
      // Half the budget at most: a Docker API that drips its answer must leave time for the engines.
      const dockerMs = budgetMs !== undefined ? Math.max(1, Math.floor(budgetMs / 2)) : undefined;
      const dockerSignal = dockerMs !== undefined ? AbortSignal.any([signal, AbortSignal.timeout(dockerMs)]) : signal;
      try {
        containers = await this.docker.list(procs, dockerSignal);
        docker = { ok: true, durationSeconds: (performance.now() - td) / 1000 };
      } catch (err) {
        // Say what was wrong, never what was said: the answer's text is not ours to publish.
        const f = describeDockerFailure(err, this.docker.socketPath, dockerSignal.aborted, dockerMs);
        const error = new SourceError(f.reason, f.message);
        docker = { ok: false, error, durationSeconds: (performance.now() - td) / 1000 };
      }
    }
    const candidates = await this.gate.admit(this.withinCap(discoverEngines(procs, this.opts.engineUrls, this.opts.hostname, containers, {
      listenAddress: (pid, fd) => this.scanner.listenAddress(pid, fd),
    })));
    if (this.overCap > 0 && !scanError) {
      scanError = new SourceError('other', `${this.overCap} engine candidates over --max-engines ${this.opts.maxEngines ?? DEFAULT_MAX_ENGINES} are not watched`);
    }
    for (const c of candidates) {
      const s = this.states.get(c.id);
      if (s) {
        if (s.candidate.endpoint !== c.endpoint || s.candidate.socketPath !== c.socketPath) s.answeredAsVllm = false;
        s.candidate = c;
        s.lastSeenInDiscovery = now;
      } else {
        this.states.set(c.id, {
          candidate: c, health: 'unknown', firstSeen: now, lastUpAt: null, healthAskedAt: -Infinity, metricsReadAt: -Infinity, lastSeenInDiscovery: now, version: null, models: null,
          versionAskedAt: -Infinity, modelsAskedAt: -Infinity, processStart: null, windows: new Map(), merged: null, mergedKey: '', lastError: null,
          metricsFormat: null, lastParse: new LastParse<VllmMetrics>(), filterMetrics: true, answeredAsVllm: false,
          refreshed: false, refreshedAt: -Infinity,
        });
      }
    }

    const events: FleetEvent[] = [];
    // Longest unrefreshed first: when the budget cannot cover every engine, each run takes up where
    // the last one stopped instead of starving the same engines every time.
    const all = [...this.states.values()].sort((a, b) => a.refreshedAt - b.refreshedAt);
    for (const s of all) s.refreshed = false;
    // Probes that cannot finish in the budget are left behind, not awaited: their requests are aborted
    // and each probe gives up without touching its engine's state.
    let onAbort: () => void = () => undefined;
    const budgetOut = new Promise<void>((resolve) => {
      onAbort = resolve;
      signal.addEventListener('abort', onAbort, { once: true });
    });
    // Probes are started within a quarter of the budget however many engines there are.
    const paceMs = Math.min(PROBE_PACE_MS, (budgetMs ?? Infinity) / 4 / Math.max(1, all.length));
    const probes = pacedPool(all, { maxInFlight: PARALLEL_PROBES, paceMs, signal }, (s) => this.probe(s, now, events, signal));
    await Promise.race([probes, budgetOut]);
    signal.removeEventListener('abort', onAbort);
    const stale = all.filter((s) => !s.refreshed).length;

    // Drop engines that are down and no longer discovered once the grace period is over.
    for (const [id, s] of this.states) {
      if (s.health !== 'up' && now - Math.max(s.lastSeenInDiscovery, s.lastUpAt ?? 0) > this.opts.graceMs) {
        this.states.delete(id);
        this.opts.onLog?.('info', `engine ${id} dropped: down and not discovered for ${Math.round(this.opts.graceMs / 1000)} s`);
      }
    }

    // Engines that vanished are kept for the grace period so their loss stays visible, but no more than
    // MAX_ENGINE_STATES: processes that change ports every tick must not grow this map for good.
    if (this.states.size > MAX_ENGINE_STATES) {
      const gone = [...this.states.entries()]
        .filter(([, s]) => s.lastSeenInDiscovery !== now)
        .sort((a, b) => a[1].lastSeenInDiscovery - b[1].lastSeenInDiscovery);
      for (const [id] of gone.slice(0, this.states.size - MAX_ENGINE_STATES)) this.states.delete(id);
    }

    const engines: Engine[] = [];
    for (const s of [...this.states.values()].sort((a, b) => byId.compare(a.candidate.id, b.candidate.id))) {
      // Each engine's load is derived over its window in a turn of its own (see nextTurn).
      await nextTurn();
      engines.push(this.toEngine(s, byPid, gpus, now));
    }
    const overrun = signal.aborted && stale > 0 ? { stale, total: all.length, budgetMs: budgetMs ?? 0 } : undefined;
    const error = scanError ?? (overrun
      ? new SourceError('timeout', `engine collection overran its ${overrun.budgetMs} ms budget: ${stale} of ${all.length} engines not refreshed (their last state is kept, marked stale)`)
      : undefined);
    return {
      engines,
      events,
      ok: error === undefined,
      error,
      durationSeconds: (performance.now() - t0) / 1000,
      docker,
      ...(overrun ? { overrun } : {}),
    };
  }

  /** Reads a 200 answer to /metrics; throws for an HTML page or a cut-off OpenMetrics one. */
  private readMetrics(s: EngineState, metricsUrl: string, m: HttpBytesAnswer): { parsed: VllmMetrics; format: ExpositionFormat } {
    // An all-ASCII body (every vLLM scrape, as a rule) is read from its bytes: only the lines kept
    // are decoded. Any other is decoded whole and read as text; both read the same.
    const ascii = isAscii(m.bytes);
    let decoded: string | null = null;
    const body = (): string => (decoded ??= m.bytes.toString('utf8'));
    if (looksLikeHtml(ascii ? m.bytes.toString('latin1', 0, Math.min(m.bytes.length, 256)) : body(), m.contentType)) {
      throw new SourceError('parse', `GET ${metricsUrl}: answered an HTML page, not Prometheus text — a proxy or another server on the port? (${describeAnswer(m.contentType, body())})`);
    }
    const format = ascii ? readFormatAscii(m.contentType, m.bytes) : readFormat(m.contentType, body());
    if (format.truncated) {
      throw new SourceError('parse', `GET ${metricsUrl}: OpenMetrics answer without its closing "# EOF": cut short, not read (${describeAnswer(m.contentType, body())})`);
    }
    // The kept lines as bytes (an ASCII body's are not decoded yet); the same as this engine's last
    // answer's, they read the same: its last result is taken again, and the scrape still counts as
    // new (its time is now, in scrape).
    const keptText = ascii ? null : keepReadFamilies(body());
    const kept = keptText === null ? keptLinesAscii(m.bytes) : Buffer.from(keptText, 'utf8');
    const c = s.candidate;
    const read = s.lastParse.read(c.socketPath ? `unix:${c.socketPath} ${metricsUrl}` : metricsUrl, kept, () =>
      parseVllmMetrics(keptText ?? kept.toString('latin1'), { source: `GET ${metricsUrl}` }),
    );
    if (read.reused) this.parseCounts.reused++;
    else this.parseCounts.parsed++;
    return { parsed: read.result, format: format.format };
  }

  private refreshed(s: EngineState, now: number): void {
    s.refreshed = true;
    s.refreshedAt = now;
  }

  /** Probes one engine; returns without touching its state once `signal` is aborted. */
  private async probe(s: EngineState, now: number, events: FleetEvent[], signal: AbortSignal): Promise<void> {
    const c = s.candidate;
    const before = s.health;
    if (!c.endpoint) {
      // Found (a container), but there is no way to reach it: say why instead of guessing.
      s.health = 'unknown';
      s.lastError = c.problem;
      this.refreshed(s, now);
      return;
    }
    // An engine that let a request run into its deadline is not asked again this tick: a hung
    // server would otherwise cost a deadline per endpoint.
    let scraped: Scrape | null = null;
    const healthDue = before !== 'up' || s.metricsReadAt !== s.refreshedAt || now - s.healthAskedAt >= HEALTH_EVERY_MS - this.opts.intervalMs / 2;
    if (!healthDue) {
      scraped = await this.scrape(s, now, signal);
      if (scraped === 'aborted') return;
      if (scraped === 'timeout') {
        this.refreshed(s, now);
        return;
      }
      if (scraped === 'read') s.lastUpAt = now;
    }
    if (scraped !== 'read') {
      s.healthAskedAt = now;
      let healthError: string | null = null;
      try {
        const h = await this.get(c, '/health', 64 * 1024, signal);
        if (h.status !== 200) throw new SourceError('http', `GET ${c.endpoint}/health: HTTP ${h.status}`);
      } catch (err) {
        healthError = (err as Error).message;
      }
      if (signal.aborted) return;
      if (healthError === null) {
        s.health = 'up';
        s.lastUpAt = now;
      } else {
        s.health = 'down';
        s.lastError = healthError;
      }
      const event = (kind: 'engine-up' | 'engine-down', text: string) =>
        events.push({ time: new Date(wallAt(this.clock, now)).toISOString(), host: this.opts.hostname, kind, subject: c.id, text });
      if (s.health === 'up' && before !== 'up') event('engine-up', `engine ${c.id} (${c.launch?.model ?? c.endpoint}) is up`);
      if (s.health === 'down' && before === 'up') event('engine-down', `engine ${c.id} (${c.launch?.model ?? c.endpoint}) stopped answering: ${s.lastError}`);
      if (s.health !== 'up') {
        clearWindows(s);
        s.lastParse.clear();
        this.refreshed(s, now);
        return;
      }
    }
    if (scraped === null) {
      scraped = await this.scrape(s, now, signal);
      if (scraped === 'aborted') return;
      if (scraped === 'timeout') {
        this.refreshed(s, now);
        return;
      }
    }

    // Both change only with a restart (a new process_start_time_seconds clears them) or, for
    // /v1/models, when LoRA adapters are loaded: asked once, then every MODELS_REFRESH_MS; a failed
    // answer is asked again no sooner than that either.
    if (s.version === null && now - s.versionAskedAt >= MODELS_REFRESH_MS) {
      s.versionAskedAt = now;
      try {
        const v = await this.get(c, '/version', MAX_VERSION_BODY_BYTES, signal);
        if (v.status === 200) s.version = parseVllmVersion(v.body);
      } catch (err) {
        if (signal.aborted) {
          s.versionAskedAt = -Infinity;
          return;
        }
        s.lastError ??= (err as Error).message;
        if (err instanceof SourceError && err.reason === 'timeout') {
          this.refreshed(s, now);
          return;
        }
      }
    }
    if (now - s.modelsAskedAt >= MODELS_REFRESH_MS) {
      s.modelsAskedAt = now;
      try {
        const r = await this.get(c, '/v1/models', MAX_MODELS_BODY_BYTES, signal);
        if (r.status === 200) s.models = parseVllmModels(r.body);
      } catch (err) {
        if (signal.aborted) {
          s.modelsAskedAt = -Infinity;
          return;
        }
        s.lastError ??= (err as Error).message;
      }
    }
    this.refreshed(s, now);
  }

  /** Asks /metrics and records what it reads; says how that went. */
  private async scrape(s: EngineState, now: number, signal: AbortSignal): Promise<Scrape> {
    const c = s.candidate;
    const metricsUrl = `${c.endpoint}/metrics`;
    try {
      const filtered = s.filterMetrics;
      let m = await this.getBytes(c, filtered ? READ_METRICS_PATH : '/metrics', MAX_METRICS_BYTES, signal);
      // Reading the answer holds the loop about a millisecond, and the probes' answers come in
      // together: each is read in a turn of its own, after the API requests that came in meanwhile.
      await nextTurn();
      if (signal.aborted) return 'aborted';
      let read = m.status === 200 ? this.readMetrics(s, metricsUrl, m) : null;
      // A registry with no names to match answers the filter empty (vLLM's multiprocess one, with
      // --api-server-count over 1), and a server other than prometheus_client may refuse the query:
      // asked again whole, and whole from then on once that answer reads.
      if (filtered && (read ? read.parsed.engines.length === 0 : m.status >= 400 && m.status < 500)) {
        m = await this.getBytes(c, '/metrics', MAX_METRICS_BYTES, signal);
        await nextTurn();
        if (signal.aborted) return 'aborted';
        read = m.status === 200 ? this.readMetrics(s, metricsUrl, m) : null;
        if (read !== null && read.parsed.engines.length > 0) s.filterMetrics = false;
      }
      if (read === null) throw new SourceError('http', `GET ${metricsUrl}: HTTP ${m.status}`);
      const parsed = read.parsed;
      if (parsed.engines.length === 0) throw new SourceError('parse', `GET ${metricsUrl}: not Prometheus text with vLLM metrics (${describeAnswer(m.contentType, m.bytes.toString('utf8'))})`);
      s.answeredAsVllm = true;
      s.metricsFormat = read.format;
      // A restarted server starts its counters over: its old points would give a bogus window.
      const restarted = parsed.processStartTimeSeconds !== null && s.processStart !== null && parsed.processStartTimeSeconds !== s.processStart;
      if (restarted) {
        clearWindows(s);
        s.version = null;
        s.versionAskedAt = -Infinity;
        s.modelsAskedAt = -Infinity;
        s.filterMetrics = true;
      }
      s.processStart = parsed.processStartTimeSeconds;
      this.record(s, parsed.engines, now);
      s.lastError = metricsProblems(metricsUrl, parsed);
      s.metricsReadAt = now;
      return 'read';
    } catch (err) {
      if (signal.aborted) return 'aborted';
      s.lastError = (err as Error).message;
      clearWindows(s);
      s.lastParse.clear();
      return err instanceof SourceError && err.reason === 'timeout' ? 'timeout' : 'failed';
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

  private toEngine(s: EngineState, procs: ProcLookup, gpus: Gpu[], _now: number): Engine {
    const c = s.candidate;
    const env = new Map<number, EnvState>();
    for (const pid of c.pids) {
      const role = procs.get(pid);
      if (role) env.set(pid, this.scanner.envState(pid, 'CUDA_VISIBLE_DEVICES'));
    }
    const mapping = mapEngineGpus(c, procs, gpus, env);

    let load: EngineLoad = EMPTY_LOAD;
    let busy = false;
    let rankLoads: EngineRank[] | undefined;
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
        busy = engineBusy(per.map((x) => x.busy));
      }
      // Ranks by their global index; an `engine` label that is no number has no rank to be listed by.
      rankLoads = per
        .map((d, i) => ({ rank: ranks[i]?.last?.scrape.rank ?? null, d }))
        .filter((x): x is { rank: number; d: (typeof per)[number] } => x.rank !== null)
        .map(({ rank, d }) => ({ rank, running: d.load.running, waiting: d.load.waiting, kvCacheUsage: d.load.kvCacheUsage, busy: d.busy }))
        .sort((a, b) => a.rank - b.rank);
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
      ...(rankLoads ? { ranks: rankLoads } : {}),
      metricsFormat: s.metricsFormat,
      discoveredBy: c.source,
      lastError: s.lastError,
      answeredAsVllm: s.answeredAsVllm,
      lastSeenUpAt: s.lastUpAt === null ? null : new Date(wallAt(this.clock, s.lastUpAt)).toISOString(),
      stale: !s.refreshed,
    };
  }
}
