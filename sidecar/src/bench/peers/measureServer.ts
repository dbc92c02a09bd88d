// Latency and CPU per request of one HTTP server process under an open-loop load: the process's own
// CPU (from /proc) beyond what it spends idle in the same time, divided by the requests it answered.
// The load client runs in a process of its own (loadClient.ts), as in section 2: the bench's heap and
// timers are not in the figures of either server.
import { cpuSeconds } from '../proc.js';
import type { Target } from '../load.js';
import { runLoadApart } from '../loadClient.js';

export interface ServerFigures {
  p50: number;
  p99: number;
  ok: number;
  errors: number;
  cutOff: number;
  /** ms of the server's CPU per answered request, idle work subtracted. */
  cpuPerRequestMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until each process spends under `share` of a core over half a second (at most `maxSeconds`).
 * A server pushed past its capacity goes on answering requests its client gave up on: measured
 * right after, the next server would share the cores with that backlog.
 */
export async function settle(pids: readonly number[], share = 0.05, maxSeconds = 60): Promise<void> {
  const until = performance.now() + maxSeconds * 1000;
  while (performance.now() < until) {
    const before = pids.map(cpuSeconds);
    await sleep(500);
    if (pids.every((pid, i) => (cpuSeconds(pid) - (before[i] as number)) / 0.5 < share)) return;
  }
}

export async function measureServer(pid: number, target: Target, rate: number, seconds: number, idleSeconds = 3): Promise<ServerFigures> {
  const i0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(idleSeconds * 1000);
  const idlePerSecond = (cpuSeconds(pid) - i0) / ((performance.now() - t0) / 1000);
  const c0 = cpuSeconds(pid);
  const l0 = performance.now();
  const r = (await runLoadApart({ targets: [target], rate, seconds }))[target.label];
  const elapsed = (performance.now() - l0) / 1000;
  const busy = cpuSeconds(pid) - c0 - idlePerSecond * elapsed;
  if (!r) throw new Error('no result');
  return {
    p50: r.p50,
    p99: r.p99,
    ok: r.ok,
    errors: r.errors,
    cutOff: r.cutOff,
    cpuPerRequestMs: r.ok > 0 ? (Math.max(0, busy) * 1000) / r.ok : NaN,
  };
}
