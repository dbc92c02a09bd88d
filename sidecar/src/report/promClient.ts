// A small client for Prometheus' HTTP query API (also what VictoriaMetrics and Thanos serve): instant queries
// by POST (long PromQL does not fit a URL), build info, bearer or basic auth, a timeout per request.
// Unreachable / refused / not-an-API answers are ReportErrors (exit 3); a query Prometheus rejects is a
// QueryError the report records against its column.
import { EXIT, ReportError } from './errors.js';

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface QueryAnswer {
  samples: Sample[];
  /** `warnings` and `infos` of the answer (Prometheus 2.x has warnings, 3.x infos too; VictoriaMetrics neither). */
  notes: string[];
}

export type Auth = { kind: 'none' } | { kind: 'bearer'; token: string } | { kind: 'basic'; user: string; password: string };

export interface ClientOptions {
  url: string;
  auth: Auth;
  timeoutMs: number;
}

/** A query Prometheus answered with an error: `limit` when it ran into one of its limits (samples, points, time). */
export class QueryError extends Error {
  constructor(
    message: string,
    readonly limit: boolean,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

// Prometheus: "query processing would load too many samples into memory", "exceeded maximum resolution of
// 11,000 points per timeseries", "query timed out"; VictoriaMetrics: -search.maxSamplesPerQuery,
// -search.maxUniqueTimeseries, -search.maxQueryDuration, "cannot select more than".
const LIMIT_TEXT = /too many samples|maximum resolution|timed out|timeout|max(SamplesPerQuery|UniqueTimeseries|QueryDuration|Series|PointsPerTimeseries)|cannot select more than|exceeds? .*limit|limit (exceeded|reached)/i;

export function isLimitError(text: string): boolean {
  return LIMIT_TEXT.test(text);
}

interface ApiBody {
  status?: string;
  data?: unknown;
  error?: string;
  errorType?: string;
  warnings?: unknown;
  infos?: unknown;
}

export class PromClient {
  private readonly base: string;

  constructor(private readonly opts: ClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    if (this.opts.auth.kind === 'bearer') h.authorization = `Bearer ${this.opts.auth.token}`;
    if (this.opts.auth.kind === 'basic') {
      h.authorization = `Basic ${Buffer.from(`${this.opts.auth.user}:${this.opts.auth.password}`).toString('base64')}`;
    }
    return h;
  }

  /** One API call; the answer's body if it is Prometheus' JSON envelope. */
  private async call(path: string, form?: Record<string, string>, lenient = false): Promise<{ status: number; body: ApiBody | null }> {
    const url = `${this.base}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: form ? 'POST' : 'GET',
        headers: form ? { ...this.headers(), 'content-type': 'application/x-www-form-urlencoded' } : this.headers(),
        body: form ? new URLSearchParams(form).toString() : undefined,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError') {
        // A query that runs out of our time is a limit on that query; build info that does is a dead server.
        if (form) throw new QueryError(`no answer within ${this.opts.timeoutMs / 1000} s (--timeout)`, true);
        throw new ReportError(EXIT.unreachable, `Prometheus at ${this.base} did not answer within ${this.opts.timeoutMs / 1000} s`);
      }
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new ReportError(EXIT.unreachable, `cannot reach Prometheus at ${this.base}: ${why}`);
    }
    if (res.status === 401 || res.status === 403) {
      throw new ReportError(EXIT.unreachable, `Prometheus at ${this.base} refused the request (HTTP ${res.status}): check --token-file / --basic-auth`);
    }
    const text = await res.text();
    let body: ApiBody;
    try {
      body = JSON.parse(text) as ApiBody;
    } catch {
      if (lenient) return { status: res.status, body: null };
      throw new ReportError(
        EXIT.unreachable,
        `${url} answered HTTP ${res.status} with something that is not Prometheus' API (${JSON.stringify(text.slice(0, 120))}): is --prometheus the server's base URL?`,
      );
    }
    if (typeof body !== 'object' || body === null || (body.status !== 'success' && body.status !== 'error')) {
      if (lenient) return { status: res.status, body: null };
      throw new ReportError(EXIT.unreachable, `${url} answered JSON that is not Prometheus' API (no "status")`);
    }
    return { status: res.status, body };
  }

  async query(promql: string, timeMs: number): Promise<QueryAnswer> {
    const { status, body: answer } = await this.call('/api/v1/query', { query: promql, time: (timeMs / 1000).toFixed(3) });
    const body = answer as ApiBody;
    const notes = [...strings(body.warnings), ...strings(body.infos)];
    if (body.status !== 'success') {
      const msg = `${body.errorType ?? `HTTP ${status}`}: ${body.error ?? 'no error text'}`;
      throw new QueryError(msg, isLimitError(msg) || body.errorType === 'timeout');
    }
    const data = body.data as { resultType?: string; result?: unknown } | undefined;
    if (data?.resultType === 'scalar') {
      const v = data.result as [number, string];
      return { samples: [{ metric: {}, value: v }], notes };
    }
    if (data?.resultType !== 'vector' || !Array.isArray(data.result)) {
      throw new QueryError(`expected an instant vector, got ${String(data?.resultType)}`, false);
    }
    return { samples: data.result.filter(isSample), notes };
  }

  /** `/api/v1/status/buildinfo` (VictoriaMetrics answers a Prometheus-like one); null where the server has none. */
  async buildInfo(): Promise<Record<string, string> | null> {
    const { body } = await this.call('/api/v1/status/buildinfo', undefined, true);
    if (!body || body.status !== 'success' || typeof body.data !== 'object' || body.data === null) return null;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(body.data as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
    return out;
  }
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function isSample(v: unknown): v is Sample {
  const s = v as Sample;
  return typeof s === 'object' && s !== null && typeof s.metric === 'object' && Array.isArray(s.value) && typeof s.value[1] === 'string';
}
