// The sidecar under wall-clock steps, as NTP or `date -s` makes them on a live host: Date.now() jumps
// an hour while the sidecar runs. Collection keeps its interval, health tells the truth, and a healthy
// long-running nvidia-smi is not killed for a silence that never happened.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { jest } from '@jest/globals';
import { pino } from 'pino';
import { SidecarMetrics } from './api/metrics.js';
import { parseConfig } from './config.js';
import { Sidecar } from './sidecar.js';

const HOUR = 3_600_000;
let dir: string;
let smi: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gpufleet-clock-'));
  mkdirSync(join(dir, 'proc'));
  smi = join(dir, 'nvidia-smi');
  // A host without GPUs: an empty but valid report. Each one-shot call takes 300 ms, so a clock step
  // lands inside a tick; loop mode prints a report every 100 ms.
  writeFileSync(smi, `#!/bin/sh
doc='<?xml version="1.0" ?><nvidia_smi_log><driver_version>570.124.06</driver_version><cuda_version>12.8</cuda_version><attached_gpus>0</attached_gpus></nvidia_smi_log>'
case "$*" in
  *-lms*) while :; do echo "$doc"; sleep 0.1; done ;;
  *-q*) sleep 0.3; echo "$doc" ;;
esac
`);
  chmodSync(smi, 0o755);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  jest.restoreAllMocks();
});

function sidecarWith(mode: 'loop' | 'spawn'): { sidecar: Sidecar; logs: string[] } {
  const logs: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, cb) => (logs.push(String(chunk)), cb()) });
  const config = parseConfig(['node', 'gpufleet-sidecar', '--nvidia-smi', smi, '--nvidia-smi-mode', mode, '--interval', '200ms', '--history', '1m',
    '--nvidia-smi-timeout', '1s', '--docker-socket', 'none', '--kmsg', 'none', '--proc', join(dir, 'proc')]);
  const sidecar = new Sidecar({ config, logger: pino({ level: 'debug' }, sink), metrics: new SidecarMetrics({ maxSeries: 100, defaultMetrics: false }) });
  return { sidecar, logs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** From now on Date.now() reads `by` ms off. */
function stepWallClock(by: number): void {
  const real = Date.now.bind(Date);
  jest.spyOn(Date, 'now').mockImplementation(() => real() + by);
}

describe('a wall-clock step while the sidecar runs', () => {
  it('backward by an hour: GPU ticks keep their interval, health stays honest, history stays in order', async () => {
    const { sidecar } = sidecarWith('spawn');
    sidecar.start();
    try {
      await until('the first tick', () => sidecar.ticks >= 1);
      await sleep(100); // inside the next tick's 300 ms nvidia-smi call
      stepWallClock(-HOUR);
      const before = sidecar.ticks;
      await sleep(2500);
      // 2.5 s at 200 ms with 300 ms calls: about 8 ticks; 3 is a generous floor. (Before: none for an hour.)
      expect(sidecar.ticks - before).toBeGreaterThanOrEqual(3);
      expect(sidecar.sources.status('gpu')).toMatchObject({ status: 'ok' });
      const span = sidecar.store.history.span();
      expect(span).not.toBeNull();
      // The window reads in the stepped clock: it ends now, not an hour in the future.
      expect(Math.abs((span?.to ?? 0) - Date.now())).toBeLessThan(5000);
      expect(span?.from ?? Infinity).toBeLessThanOrEqual(span?.to ?? -Infinity);
    } finally {
      await sidecar.stop();
    }
  }, 20_000);

  it('forward by an hour: the healthy long-running nvidia-smi is not killed', async () => {
    const { sidecar, logs } = sidecarWith('loop');
    sidecar.start();
    try {
      await until('the GPU source ok', () => sidecar.sources.status('gpu').status === 'ok');
      stepWallClock(+HOUR);
      const before = sidecar.ticks;
      await sleep(2000);
      expect(sidecar.ticks - before).toBeGreaterThanOrEqual(3);
      expect(sidecar.sources.status('gpu')).toMatchObject({ status: 'ok' });
      expect(logs.join('')).not.toMatch(/printed nothing for \d+ ms; killing it/);
    } finally {
      await sidecar.stop();
    }
  }, 20_000);
});
