// The routes polled most (/healthz, /metrics, /api/v1/snapshot) answered before Express's router when the
// request is the plain, common one. Express 5 costs ~0.3 ms of CPU and tens of KB of garbage per request
// (prototype swaps, the router walking its layers, response helpers); at 200 requests/s under the
// sidecar's 1 MB semi-space that garbage is most of the young-generation collections, and what they
// promote is what the old-space collections pause the loop for. A hot route answers only when it can
// answer exactly as its Express twin would (same status, headers and bytes); anything else (another
// method, a trailing slash, credentials that need a bcrypt check, not ready yet, the heavy-request cap
// reached) goes on to Express, which answers as it always has.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Application } from 'express';

/**
 * Returns false having touched neither `req` nor `res` (Express takes the request), or true: it answers
 * `res`, or hands the request to Express later through `toExpress` (after reading its body, say).
 */
export type HotRoute = (req: IncomingMessage, res: ServerResponse, toExpress: () => void) => boolean;

/** The path of a request target without its query ("/metrics?x" → "/metrics"). */
export function pathOf(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Puts `routes` (keyed "METHOD /exact/path") in front of `app`'s router; `app` keeps serving everything else. */
export function withHotRoutes(app: Application, routes: ReadonlyMap<string, HotRoute>): void {
  const slow = app as unknown as { handle: (req: IncomingMessage, res: ServerResponse, next?: unknown) => void };
  const expressHandle = slow.handle.bind(app);
  slow.handle = (req, res, next) => {
    const route = routes.get(`${req.method} ${pathOf(req.url)}`);
    if (route && route(req, res, () => expressHandle(req, res, next))) return;
    expressHandle(req, res, next);
  };
}

/** The largest body readJsonBody takes: the query route's express.json limit. */
export const HOT_BODY_LIMIT = 256 * 1024;

/** A body the hot route read, parsed as express.json would, or the error express.json would have raised. */
export type HotBody = { ok: true; value: unknown } | { ok: false; error: { status: 400; type: 'entity.parse.failed'; message: string } };

/**
 * Whether readJsonBody may take this request's body: express.json would read it as is (a JSON type with
 * no charset or UTF-8, no content encoding) and its length is declared and under the limit. Anything else
 * (chunked, compressed, another charset, empty, too large) is left to express.json and its errors.
 */
export function plainJsonBody(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (!type || !/^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i.test(type)) return false;
  const enc = req.headers['content-encoding'];
  if (enc !== undefined && enc.toLowerCase() !== 'identity') return false;
  if (req.headers['transfer-encoding'] !== undefined) return false;
  const length = Number(req.headers['content-length']);
  return Number.isInteger(length) && length > 0 && length <= HOT_BODY_LIMIT;
}

/** Parses as body-parser's strict JSON does: a BOM dropped, an object or array at the top. */
export function parseJsonBody(text: string): HotBody {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const first = /\S/.exec(body)?.[0];
  if (first === '{' || first === '[') {
    try {
      return { ok: true, value: JSON.parse(body) as unknown };
    } catch {
      // below
    }
  }
  return { ok: false, error: { status: 400, type: 'entity.parse.failed', message: 'body is not valid JSON' } };
}

/** Reads a body plainJsonBody accepted; null when the client went away or sent another length. */
export function readJsonBody(req: IncomingMessage, done: (text: string | null) => void): void {
  const length = Number(req.headers['content-length']);
  const chunks: Buffer[] = [];
  let got = 0;
  let finished = false;
  const finish = (text: string | null) => {
    if (finished) return;
    finished = true;
    done(text);
  };
  req.on('data', (c: Buffer) => {
    got += c.length;
    if (got <= length) chunks.push(c);
  });
  req.once('end', () => finish(got === length ? Buffer.concat(chunks, got).toString('utf8') : null));
  req.once('error', () => finish(null));
  req.once('aborted', () => finish(null));
}

/** Sets the web config's extra headers as Express's res.set would (before the route's own). */
export function setExtraHeaders(res: ServerResponse, headers: Record<string, string>): void {
  // A Content-Type among them would get a charset from res.set; it does not matter, as both the hot
  // routes and their twins set their own Content-Type after.
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, String(v));
}
