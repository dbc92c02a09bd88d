// The HTTP surface: the read-only JSON API of ARCHITECTURE.md and Prometheus /metrics.
import express, { type Request } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { CapacityAnswer } from '../capacity/types.js';
import { SOURCE_NAMES, type SourceTracker } from '../collectors/sourceTracker.js';
import type { Gpu, Snapshot, SourceName } from '../model.js';
import type { Store } from '../store/store.js';
import { TIMESERIES_METRICS } from '../store/samples.js';
import { Authenticator } from './auth.js';
import { limitConcurrency } from './concurrency.js';
import { ApiError, errorHandler, validate } from './errors.js';
import { sanitizeLabel, type SidecarMetrics } from './metrics.js';
import { TimeSchema, answerKey, filterSet, gpuMatches, planQueries } from './query.js';
import { PublishedAnswers } from './publishedAnswers.js';
import { writeQueryAnswer } from './queryAnswer.js';
import { buildTopology } from './topology.js';
import { HOT_BODY_LIMIT, parseJsonBody, plainJsonBody, readJsonBody, setExtraHeaders, withHotRoutes, type HotBody, type HotRoute } from './hotRoutes.js';

export interface AppDeps {
  store: Store;
  sources: SourceTracker;
  metrics: SidecarMetrics;
  version: string;
  /** Monotonic ms (performance.now()) at start: uptime is an age, not a difference of wall times. */
  startedAt: number;
  /** A fixed bearer token (tests, bench); `auth` takes over when given. */
  token?: string | null;
  /** When it has credentials, every route but /healthz needs them. */
  auth?: Authenticator | null;
  /** Extra response headers (the web config's http_server_config.headers), read per request. */
  headers?: () => Record<string, string>;
  /** Requests in progress at once on the heavy routes (query, snapshot, topology, events). */
  maxHeavyRequests?: number;
  onError?: (err: unknown, req: Request) => void;
  /** The capacity answer of the last publication (the sidecar computes it once per tick). */
  capacity?: () => CapacityAnswer | null;
}

/** Events per answer: by default, and at most (`?limit=`); the newest ones are kept. */
export const DEFAULT_EVENTS_LIMIT = 1000;
export const MAX_EVENTS_LIMIT = 10_000;

const VARIABLES = ['hosts', 'gpus', 'migs', 'vgpus', 'vms', 'engines', 'models', 'metrics'] as const;

const EventsQuery = z.object({
  from: TimeSchema.optional(),
  to: TimeSchema.optional(),
  kind: z.string().max(64).optional(),
  subject: z.string().max(256).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_EVENTS_LIMIT).optional(),
});

const VariablesQuery = z.object({ gpu: z.string().max(4096).optional() });

export const DEFAULT_MAX_HEAVY_REQUESTS = 32;

/**
 * How long a query waits for the same answer being built by an earlier request before building its own: the
 * builder writes as its client reads, and a slow client must not hold the others for long.
 */
const MAX_BUILD_WAIT_MS = 250;

/** What `p` resolves to, or null after `ms`. */
async function atMost<T>(p: Promise<T | null> | undefined, ms: number): Promise<T | null | undefined> {
  if (!p) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Query answers up to this size are kept for the rest of the tick; larger ones are only streamed. */
const KEEP_QUERY_ANSWER_BYTES = 1024 * 1024;

/** A JSON answer from a part built per request (ages of sources) and a part kept per publication. */
function jsonAnswer(head: string, tail: Buffer): Buffer {
  return Buffer.concat([Buffer.from(head), tail]);
}

function sendJson(res: express.Response, head: string, tail: Buffer): void {
  res.status(200).type('application/json').end(jsonAnswer(head, tail));
}

const HEALTHZ_BODY = Buffer.from('ok\n');

const HOT_BODY = Symbol('hot body');
type WithHotBody = IncomingMessage & { [HOT_BODY]?: HotBody };

/** The body the hot query route read: given to the route as express.json would (which then skips it). */
const takeHotBody: express.RequestHandler = (req, _res, next) => {
  const body = (req as WithHotBody)[HOT_BODY];
  if (!body) return next();
  if (!body.ok) return next(Object.assign(new Error(body.error.message), body.error));
  req.body = body.value;
  next();
};

function findGpu(snap: Snapshot, id: string): Gpu | undefined {
  const want = new Set([id]);
  return snap.gpus.find((g) => gpuMatches(g, want));
}

/**
 * An engine's scrape target: host (IPv6 in brackets) and port of its endpoint, when they agree with
 * its id ("<host>:<port>" of an --engine URL; the port of a discovered "<hostname>:<port>").
 */
function sdTarget(endpoint: string, id: string, byFlag: boolean): { host: string; port: string; loopback: boolean; https: boolean } | null {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    return null;
  }
  if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) return null;
  const https = u.protocol === 'https:';
  const port = u.port || (https ? '443' : '80');
  if (byFlag ? id !== `${u.hostname}:${port}` && id !== u.hostname : !id.endsWith(`:${port}`)) return null;
  const loopback = u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
  return { host: u.hostname, port, loopback, https };
}

export function createApp(deps: AppDeps) {
  const { store, sources, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (deps.headers) {
    const headers = deps.headers;
    app.use((_req, res, next) => {
      for (const [k, v] of Object.entries(headers())) res.set(k, v);
      next();
    });
  }

  // Unauthenticated liveness for container health checks: says nothing about the host.
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  // The hot routes' answers, as their Express twins below write them (tests compare the two).
  const hot = new Map<string, HotRoute>();
  const extraHeaders = deps.headers;
  /** A 200 as the Express twin writes it: the web config's headers first, then the route's own type. */
  const sendHot = (res: ServerResponse, contentType: string, body: Buffer): true => {
    if (extraHeaders) setExtraHeaders(res, extraHeaders());
    res.statusCode = 200;
    res.setHeader('Content-Type', contentType);
    res.end(body);
    return true;
  };
  hot.set('GET /healthz', (_req, res) => {
    res.setHeader('Content-Length', HEALTHZ_BODY.length);
    return sendHot(res, 'text/plain; charset=utf-8', HEALTHZ_BODY);
  });

  const token = deps.token ?? null;
  const auth = deps.auth ?? (token ? new Authenticator(() => ({ token, basicUsers: new Map() })) : null);
  if (auth) app.use(auth.middleware());
  /** A hot route past the auth middleware answers only what that middleware would let through at once. */
  const letIn = (req: IncomingMessage) => !auth || auth.allowsAtOnce(req.headers.authorization);
  const heavy = limitConcurrency(deps.maxHeavyRequests ?? DEFAULT_MAX_HEAVY_REQUESTS, '--web.max-heavy-requests');

  const published = (): Snapshot => {
    if (!store.latest) throw new ApiError(503, 'not-ready', 'the first collection has not finished yet; retry in a few seconds');
    return store.latest;
  };
  const snapshot = (): Snapshot => {
    const latest = published();
    // Source ages are computed now, not at collection time, so a stuck collector shows its real age.
    return { ...latest, host: { ...latest.host, sources: sources.all() } };
  };
  // The big parts of the snapshot answers, serialised once per publication (ages stay per request).
  const answers = new PublishedAnswers();

  app.get('/api/v1/health', (_req, res) => {
    res.json({
      status: sources.overall(),
      version: deps.version,
      uptimeSeconds: Math.round((performance.now() - deps.startedAt) / 1000),
      host: store.latest?.host.hostname ?? null,
      lastCollectedAt: store.latest?.host.collectedAt ?? null,
      sources: sources.all(),
    });
  });

  const snapshotAnswer = (s: Snapshot): Buffer => {
    const tail = answers.get(s, 'snapshot', () => `,"gpus":${JSON.stringify(s.gpus)},"engines":${JSON.stringify(s.engines)}}`);
    return jsonAnswer(`{"host":${JSON.stringify({ ...s.host, sources: sources.all() })}`, tail);
  };
  app.get('/api/v1/snapshot', heavy, (_req, res) => {
    res.status(200).type('application/json').end(snapshotAnswer(published()));
  });
  hot.set('GET /api/v1/snapshot', (req, res) => {
    const s = store.latest;
    if (!s || !letIn(req) || !heavy.tryEnter(res)) return false;
    return sendHot(res, 'application/json; charset=utf-8', snapshotAnswer(s));
  });

  app.get('/api/v1/gpus', (_req, res) => {
    const s = published();
    const tail = answers.get(s, 'gpus', () => `,"gpus":${JSON.stringify(s.gpus)}}`);
    const head = { host: s.host.hostname, sources: { gpu: sources.status('gpu'), vgpu: sources.status('vgpu') } };
    sendJson(res, JSON.stringify(head).slice(0, -1), tail);
  });

  app.get('/api/v1/gpus/:uuid', (req, res) => {
    const s = snapshot();
    const id = String(req.params.uuid);
    const g = findGpu(s, id);
    if (!g) throw new ApiError(404, 'not-found', `no GPU or MIG instance ${id} on ${s.host.hostname}`, 'uuid');
    res.json(g);
  });

  app.get('/api/v1/engines', (_req, res) => {
    const s = snapshot();
    res.json({ host: s.host.hostname, engines: s.engines });
  });

  app.get('/api/v1/engines/:id', (req, res) => {
    const s = snapshot();
    const id = String(req.params.id);
    const e = s.engines.find((x) => x.id === id);
    if (!e) throw new ApiError(404, 'not-found', `no engine ${id} on ${s.host.hostname}`, 'id');
    res.json(e);
  });

  // The capacity model: computed once per tick, served as is (a router may poll it). ?model= keeps one model's
  // engines (GPUs and MIG profiles stay: placement does not depend on the model).
  app.get('/api/v1/capacity', (req, res) => {
    const q = validate(z.object({ model: z.string().min(1).max(512).optional() }), req.query);
    const c = deps.capacity?.() ?? null;
    if (!c) throw new ApiError(503, 'not-ready', 'the first collection has not finished yet; retry in a few seconds');
    res.json(q.model === undefined ? c : { ...c, models: c.models.filter((m) => m.model === q.model) });
  });

  app.get('/api/v1/topology', heavy, (_req, res) => {
    res.json(buildTopology(snapshot(), deps.capacity?.() ?? null));
  });

  const notices = (names: SourceName[]) =>
    names.flatMap((name) => {
      const st = sources.status(name);
      if (st.status !== 'failed' && st.status !== 'stale') return [];
      const age = st.ageSeconds !== undefined ? `; data is ${Math.round(st.ageSeconds)} s old` : '';
      return [{ severity: st.status === 'failed' ? ('error' as const) : ('warning' as const), text: `${name} source ${st.status}: ${st.error ?? 'no detail'}${age}` }];
    });
  // The same request within one tick gets the same answer: dashboards viewed by several people, or
  // several panels asking alike. Only requests that name their time range are kept (a default range
  // moves with the clock), keyed with the notices they would carry.
  const queryKey = (body: unknown) => answerKey(body, () => JSON.stringify(notices(SOURCE_NAMES)));
  app.post('/api/v1/query', heavy, takeHotBody, express.json({ limit: HOT_BODY_LIMIT }), async (req, res) => {
    const now = Date.now();
    const latest = published();
    const key = queryKey(req.body);
    const kept = key === null ? undefined : (answers.peek(latest, key) ?? (await atMost(answers.pending(latest, key), MAX_BUILD_WAIT_MS)));
    if (kept) {
      res.status(200).type('application/json').end(kept);
      return;
    }
    // A request that waited for a build that was not kept (over 1 MB, its client left) or took too long
    // builds its own; if a publication came meanwhile, from the new one and without keeping it.
    if (store.latest !== latest) return void (await answerQuery(req.body, Date.now(), res));
    await answerQuery(req.body, now, res, key);
  });
  /** Plans (refused when over the point budget) before anything is written; then writes in slices. */
  const answerQuery = async (body: unknown, now: number, res: express.Response, key: string | null = null): Promise<void> => {
    const latest = published();
    const done = key === null ? null : answers.building(latest, key);
    let kept: Buffer | null = null;
    try {
      await writeQueryAnswer(res, planQueries(store, body, now, notices, deps.capacity?.() ?? null), {
        keepUpTo: key === null ? 0 : KEEP_QUERY_ANSWER_BYTES,
        onKept: (text) => {
          // An answer written across a publication (it yields while writing) is not kept for either.
          if (key !== null && store.latest === latest) kept = answers.keep(latest, key, text);
        },
      });
    } finally {
      done?.(kept);
    }
  };

  // A kept answer is served from the body alone; any other request goes on to the route above with the
  // body it sent (parsed here as express.json would, or the error express.json would have raised).
  hot.set('POST /api/v1/query', (req, res, toExpress) => {
    // The slot is taken before the body is read, as on the route: a slow body holds it.
    if (!store.latest || !plainJsonBody(req) || !letIn(req) || !heavy.tryEnter(res)) return false;
    readJsonBody(req, (text) => {
      // The client went away while sending: nobody to answer.
      if (text === null) return void res.destroy();
      const body = parseJsonBody(text);
      const latest = store.latest;
      const key = body.ok && latest ? queryKey(body.value) : null;
      const kept = key === null || !latest ? undefined : answers.peek(latest, key);
      if (kept) return void sendHot(res, 'application/json; charset=utf-8', kept);
      (req as WithHotBody)[HOT_BODY] = body;
      toExpress();
    });
    return true;
  });

  app.get('/api/v1/events', heavy, (req, res) => {
    const q = validate(EventsQuery, req.query);
    const to = q.to ?? Date.now();
    const from = q.from ?? to - 3_600_000;
    if (from > to) throw new ApiError(400, 'bad-request', 'from: must not be after to', 'from');
    const { events, truncated } = store.events.query({
      fromMs: from, toMs: to, kinds: filterSet(q.kind), subject: q.subject || undefined, limit: q.limit ?? DEFAULT_EVENTS_LIMIT,
    });
    res.json({ events, truncated });
  });

  app.get('/api/v1/variables/:name', (req, res) => {
    const name = String(req.params.name);
    if (!(VARIABLES as readonly string[]).includes(name)) {
      throw new ApiError(404, 'not-found', `no variable "${name}" (one of ${VARIABLES.join(', ')})`, 'name');
    }
    const q = validate(VariablesQuery, req.query);
    const s = snapshot();
    // Several GPUs come comma-joined (GPU UUIDs and indexes have no commas).
    const wanted = q.gpu ? filterSet(q.gpu.split(',').map((x) => x.trim())) : null;
    const gpus = s.gpus.filter((g) => gpuMatches(g, wanted));
    const gpuText = (g: Gpu) => (g.index === null ? `${g.name} (${g.uuid})` : `GPU ${g.index} · ${g.name}`);
    let values: { text: string; value: string }[] = [];
    switch (name as (typeof VARIABLES)[number]) {
      case 'hosts':
        values = [{ text: s.host.hostname, value: s.host.hostname }];
        break;
      case 'gpus':
        values = gpus.map((g) => ({ text: gpuText(g), value: g.uuid }));
        break;
      case 'migs':
        values = gpus.flatMap((g) =>
          g.mig.instances
            .filter((m) => m.uuid !== null)
            .map((m) => ({ text: `${gpuText(g)} · ${m.profile ?? 'MIG'} (GI ${m.gpuInstanceId})`, value: m.uuid as string })),
        );
        break;
      case 'vgpus':
        values = gpus.flatMap((g) =>
          g.vgpu.instances.map((v) => ({ text: `${v.vmName ?? v.vmId ?? v.id} · ${v.type ?? 'vGPU'}`, value: v.id })),
        );
        break;
      case 'vms':
        values = [...new Set(gpus.flatMap((g) => g.vgpu.instances.map((v) => v.vmName ?? v.vmId)).filter((x): x is string => !!x))].map(
          (v) => ({ text: v, value: v }),
        );
        break;
      case 'engines':
        values = s.engines.map((e) => ({ text: `${e.model ?? e.id} (${e.endpoint})`, value: e.id }));
        break;
      case 'models':
        values = [...new Set(s.engines.flatMap((e) => [e.model, ...e.servedModels]).filter((x): x is string => !!x))].map((m) => ({
          text: m,
          value: m,
        }));
        break;
      case 'metrics':
        values = TIMESERIES_METRICS.map((m) => ({ text: `${m.name} (${m.unit})`, value: m.name }));
        break;
    }
    res.json({ values });
  });

  // Prometheus HTTP service discovery: the /metrics of every engine that has answered like vLLM, as
  // a target. Engines reached on loopback are only scrapeable by a Prometheus on this host;
  // ?loopback=<name> rewrites them to a name the Prometheus can reach (this host's DNS name). An
  // endpoint that does not parse, or whose port is not its engine id's, is left out (never the whole
  // answer): Prometheus must not be sent anywhere discovery has not vouched for.
  app.get('/api/v1/sd/engines', (req, res) => {
    const q = validate(z.object({ loopback: z.string().max(253).regex(/^[A-Za-z0-9.-]+$/).optional() }), req.query);
    const s = snapshot();
    const groups = s.engines.flatMap((e) => {
      if (!e.answeredAsVllm || !/^https?:\/\//.test(e.endpoint)) return [];
      const t = sdTarget(e.endpoint, e.id, e.discoveredBy === 'flag');
      if (!t) return [];
      const host = t.loopback && q.loopback ? q.loopback : t.host;
      return [{
        targets: [`${host}:${t.port}`],
        // Target labels end up on every series Prometheus scrapes from the engine: cleaned as on
        // /metrics (the model name is the engine's own text, which may hold control characters).
        labels: {
          host: sanitizeLabel(s.host.hostname),
          // `engine_id`, not `engine`: vLLM labels its own series `engine` (the data-parallel rank), and a
          // target label of that name would push it aside to `exported_engine`.
          engine_id: sanitizeLabel(e.id),
          model: sanitizeLabel(e.model),
          deployment: e.deployment,
          ...(t.https ? { __scheme__: 'https' } : {}),
        },
      }];
    });
    res.json(groups);
  });

  // The text changes once per tick: its bytes are made once per tick too, not per scrape.
  let metricsText: string | null = null;
  let metricsBytes = Buffer.alloc(0);
  const metricsAnswer = (text: string): Buffer => {
    if (text !== metricsText) {
      metricsText = text;
      metricsBytes = Buffer.from(text);
    }
    return metricsBytes;
  };
  app.get('/metrics', async (_req, res) => {
    const text = await metrics.render();
    res.status(200).set('content-type', metrics.contentType).end(metricsAnswer(text));
  });
  hot.set('GET /metrics', (req, res) => {
    // While a tick's text is rendering, Express's route waits for it.
    const text = metrics.renderedNow();
    if (text === null || !letIn(req)) return false;
    // The registry's type carries its charset: res.set keeps it as is.
    return sendHot(res, metrics.contentType, metricsAnswer(text));
  });
  withHotRoutes(app, hot);

  app.use((req, _res, next) => {
    next(new ApiError(404, 'not-found', `no route ${req.method} ${req.path}`));
  });
  app.use(((err, req, res, next) => {
    if (!(err instanceof ApiError) && deps.onError) deps.onError(err, req);
    errorHandler(err, req, res, next);
  }) as express.ErrorRequestHandler);
  return app;
}
