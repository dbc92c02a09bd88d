// One time budget for a whole engine collection: engines that accept and never answer cannot make it
// last longer than the budget, whatever their number; their requests are aborted, the engines left
// over keep their last state marked stale, and the next collection starts with them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineCollector } from './engineCollector.js';
import { httpGet, type GetOptions } from './httpGet.js';

// An http:// URL goes through plainHttp's kept connection (plainGetBytes), then is decoded.
const plainGet = (url: URL, opts: GetOptions) => httpGet(url.href, opts);

let proc: string;
const pits: { server: Server; port: number; sockets: Set<Socket> }[] = [];

beforeAll(async () => {
  proc = mkdtempSync(join(tmpdir(), 'procfs-'));
  mkdirSync(proc, { recursive: true });
  writeFileSync(join(proc, 'uptime'), '5000.00 9000.00\n');
  for (let i = 0; i < 24; i++) {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      // Read (and drop) what comes, so a peer's close is seen.
      s.resume();
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    pits.push({ server, port: (server.address() as { port: number }).port, sockets });
  }
});

afterAll(async () => {
  for (const p of pits) for (const s of p.sockets) s.destroy();
  await Promise.all(pits.map((p) => new Promise((r) => p.server.close(r))));
  rmSync(proc, { recursive: true, force: true });
});

describe('the engine collection budget', () => {
  it('24 engines that never answer (5 s deadline each): the collection ends at its budget, says so, and marks the rest stale', async () => {
    const c = new EngineCollector({
      procPath: proc, dockerSocket: null, engineUrls: pits.map((p) => `http://127.0.0.1:${p.port}`), hostname: 'h',
      intervalMs: 1000, busyThreshold: 0.9, timeoutMs: 5000, graceMs: 60_000, windowMs: 60_000,
    });
    const t0 = performance.now();
    const r = await c.collect([], undefined, { budgetMs: 300 });
    const ms = performance.now() - t0;
    // Without the budget: 3 rounds of 8 × 5 s. Generous bound for a loaded machine.
    expect(ms).toBeLessThan(4000);
    expect(r.ok).toBe(false);
    expect(r.error?.reason).toBe('timeout');
    expect(r.error?.message).toMatch(/overran its 300 ms budget: 24 of 24 engines not refreshed/);
    expect(r.overrun).toEqual({ stale: 24, total: 24, budgetMs: 300 });
    expect(r.engines.every((e) => e.stale && e.health === 'unknown' && e.lastError === null)).toBe(true);
    // Not a single open request is left behind on the tarpits.
    await new Promise((res) => setTimeout(res, 200));
    expect(pits.reduce((n, p) => n + p.sockets.size, 0)).toBe(0);
  });

  it('an aborted request rejects at once; one aborted before it starts is not sent', async () => {
    const ac = new AbortController();
    const p = plainGet(new URL(`http://127.0.0.1:${pits[0]?.port}/health`), { timeoutMs: 10_000, maxBytes: 1000, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ reason: 'timeout', message: expect.stringMatching(/aborted/) });
    // Already aborted: nothing is sent.
    await expect(plainGet(new URL(`http://127.0.0.1:${pits[0]?.port}/health`), { timeoutMs: 10_000, maxBytes: 1000, signal: ac.signal })).rejects.toMatchObject({ reason: 'timeout' });
  });
});
