// An open-loop HTTP load at a fixed rate over keep-alive connections, with each request's latency
// kept to the microsecond (autocannon rounds to whole milliseconds, too coarse beside node_exporter).
// Requests are sent on schedule whether or not earlier ones have answered; beyond `connections`
// in flight they wait for a socket, and that wait counts in their latency, as it would for a client.
import http from 'node:http';
import { createServer } from 'node:net';

export interface Target {
  label: string;
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  /** Share of the requests, relative to the other targets' (default 1). */
  weight?: number;
}

export interface TargetResult {
  /** Latencies in ms, ascending; a request still unanswered when the run is cut off counts as Infinity. */
  latencies: number[];
  ok: number;
  errors: number;
  /** Requests cut off unanswered `drainMs` after the last was sent, or not sent because too many were waiting. */
  cutOff: number;
}

export interface LoadOptions {
  rate: number;
  seconds: number;
  connections?: number;
  /** How long after the last request is sent the run waits for answers (default 10 s): a saturated
   * server must not hold the bench for minutes. */
  drainMs?: number;
}

/** Round-robin by weight: the order requests go out in, for `targets` with integer weights. */
export function weightedOrder(targets: readonly { weight?: number }[]): number[] {
  const order: number[] = [];
  const w = targets.map((t) => Math.max(0, Math.round(t.weight ?? 1)));
  const max = Math.max(0, ...w);
  for (let round = 0; round < max; round++) w.forEach((wi, i) => wi > round && order.push(i));
  if (order.length === 0) throw new Error('no target has a positive weight');
  return order;
}

const MAX_QUEUED_PER_CONNECTION = 50;

export async function runLoad(targets: Target[], opts: LoadOptions): Promise<Map<string, TargetResult>> {
  const connections = opts.connections ?? 16;
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const order = weightedOrder(targets);
  const results = new Map<string, TargetResult>(targets.map((t) => [t.label, { latencies: [], ok: 0, errors: 0, cutOff: 0 }]));
  /** Unanswered requests, each with what cutting it off records. */
  const inFlight = new Map<http.ClientRequest, () => void>();
  let cutTimer: NodeJS.Timeout | undefined;
  const total = Math.round(opts.rate * opts.seconds);
  let sent = 0;
  let done = 0;
  const start = performance.now();
  await new Promise<void>((finish) => {
    const send = (t: Target) => {
      const r = results.get(t.label) as TargetResult;
      const t0 = performance.now();
      let ended = false;
      const end = (ok: boolean) => {
        if (ended) return;
        ended = true;
        inFlight.delete(req);
        if (ok) {
          r.ok++;
          r.latencies.push(performance.now() - t0);
        } else r.errors++;
        if (++done === total) finish();
      };
      const req = http.request(t.url, { method: t.method ?? 'GET', agent, headers: t.body ? { 'content-type': 'application/json' } : {} }, (res) => {
        res.on('data', () => {});
        res.on('end', () => end((res.statusCode ?? 0) < 400));
        res.on('error', () => end(false));
      });
      inFlight.set(req, () => {
        ended = true;
        r.cutOff++;
        r.latencies.push(Infinity);
      });
      req.on('error', () => end(false));
      req.end(t.body);
    };
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * opts.rate));
      for (; sent < due; sent++) {
        const t = targets[order[sent % order.length] as number] as Target;
        // A server this far behind answers nothing in time: not queueing more keeps the generator's own
        // memory and event loop out of the figure.
        if (inFlight.size >= MAX_QUEUED_PER_CONNECTION * connections) {
          const r = results.get(t.label) as TargetResult;
          r.cutOff++;
          r.latencies.push(Infinity);
          if (++done === total) finish();
        } else send(t);
      }
      if (sent >= total) {
        clearInterval(timer);
        cutTimer = setTimeout(() => {
          for (const [req, cut] of inFlight) {
            cut();
            req.destroy();
          }
          inFlight.clear();
          finish();
        }, opts.drainMs ?? 10_000);
      }
    }, 2);
    if (total === 0) finish();
  });
  clearTimeout(cutTimer);
  agent.destroy();
  for (const r of results.values()) r.latencies.sort((a, b) => a - b);
  return results;
}

/** A TCP port free on 127.0.0.1 now, for a peer program that must be told its port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 2xx or `timeoutMs` passes. */
export async function waitReady(url: string, timeoutMs = 30_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > until) throw new Error(`${url} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
