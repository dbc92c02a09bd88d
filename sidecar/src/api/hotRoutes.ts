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

/** Answers `res` and returns true, or returns false having touched neither `req` nor `res`. */
export type HotRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The path of a request target without its query ("/metrics?x" → "/metrics"). */
export function pathOf(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Puts `routes` (GET, by exact path) in front of `app`'s router; `app` keeps serving everything else. */
export function withHotRoutes(app: Application, routes: ReadonlyMap<string, HotRoute>): void {
  const slow = app as unknown as { handle: (req: IncomingMessage, res: ServerResponse, next?: unknown) => void };
  const expressHandle = slow.handle.bind(app);
  slow.handle = (req, res, next) => {
    if (req.method === 'GET') {
      const route = routes.get(pathOf(req.url));
      if (route && route(req, res)) return;
    }
    expressHandle(req, res, next);
  };
}

/** Sets the web config's extra headers as Express's res.set would (before the route's own). */
export function setExtraHeaders(res: ServerResponse, headers: Record<string, string>): void {
  // A Content-Type among them would get a charset from res.set; it does not matter, as both the hot
  // routes and their twins set their own Content-Type after.
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, String(v));
}
