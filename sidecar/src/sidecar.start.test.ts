// The first moments of a sidecar: until nvidia-smi's first document had its chance, the GPU source is
// `starting`, never `failed`, and the first GPU tick runs as soon as that document is in.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SidecarMetrics } from './api/metrics.js';
import { parseConfig } from './config.js';
import { Sidecar } from './sidecar.js';
import { fixtureDir } from './testing/fixtureDir.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gpufleet-start-'));
  mkdirSync(join(dir, 'proc'));
  writeFileSync(join(dir, 'q.xml'), fixtureDir('nvidia-smi').read('q-x_rtx-3060_570.124.04.xml'));
  // Slow to start, as a real nvidia-smi initialising NVML on a large host is: its first document comes
  // well after the sidecar's first interval (200 ms here).
  writeFileSync(join(dir, 'slow-smi'), `#!/bin/sh
case "$*" in
  *-lms*) sleep 1.2; while :; do cat "${dir}/q.xml"; sleep 0.1; done ;;
  -L) echo L >> "${dir}/slow-calls"; echo "GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625)" ;;
esac
`);
  // Its first -L (read while the loop starts) lists no GPU yet, as a driver still enumerating them might.
  writeFileSync(join(dir, 'late-list-smi'), `#!/bin/sh
case "$*" in
  *-lms*) sleep 0.5; while :; do cat "${dir}/q.xml"; sleep 0.1; done ;;
  -L) echo L >> "${dir}/late-calls"; [ "$(wc -l < "${dir}/late-calls")" -gt 1 ] && echo "GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625)"; exit 0 ;;
esac
`);
  writeFileSync(join(dir, 'broken-smi'), '#!/bin/sh\necho "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."\nexit 9\n');
  for (const f of ['slow-smi', 'broken-smi', 'late-list-smi']) chmodSync(join(dir, f), 0o755);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sidecarWith(smi: string): Sidecar {
  const config = parseConfig(['node', 'gpufleet-sidecar', '--nvidia-smi', join(dir, smi), '--interval', '200ms', '--history', '1m',
    '--nvidia-smi-timeout', '5s', '--docker-socket', 'none', '--kmsg', 'none', '--proc', join(dir, 'proc')]);
  return new Sidecar({ config, logger: pino({ level: 'silent' }), metrics: new SidecarMetrics({ maxSeries: 100, defaultMetrics: false }) });
}

/** The GPU source's states as seen every 20 ms until `done`. */
async function watchGpuSource(sidecar: Sidecar, done: () => boolean, ms = 15_000): Promise<string[]> {
  const seen: string[] = [];
  const end = performance.now() + ms;
  while (!done()) {
    const s = sidecar.sources.status('gpu').status;
    if (seen[seen.length - 1] !== s) seen.push(s);
    if (performance.now() > end) throw new Error(`timed out; GPU source went ${seen.join(' → ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const s = sidecar.sources.status('gpu').status;
  if (seen[seen.length - 1] !== s) seen.push(s);
  return seen;
}

describe('sidecar start-up', () => {
  it('a slow first nvidia-smi document: the GPU source goes starting → ok, never failed, and the first tick has the GPUs', async () => {
    const sidecar = sidecarWith('slow-smi');
    sidecar.start();
    try {
      expect(sidecar.sources.overall()).toBe('starting');
      const seen = await watchGpuSource(sidecar, () => sidecar.ticks >= 1);
      expect(seen).toEqual(['starting', 'ok']);
      // The very first publication is a fresh reading, not an empty "failed" one.
      expect(sidecar.store.latest?.gpus.map((g) => g.uuid)).toEqual(['GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625']);
      expect(sidecar.store.latest?.host.sources.gpu.status).toBe('ok');
      // -L was read while the loop started, once, and gave the GPU its index.
      expect(readFileSync(join(dir, 'slow-calls'), 'utf8')).toBe('L\n');
      expect(sidecar.store.latest?.gpus[0]?.index).toBe(0);
    } finally {
      await sidecar.stop();
    }
  }, 20_000);

  it('a -L read at start that does not list the document\'s GPUs is read again for the first tick', async () => {
    const sidecar = sidecarWith('late-list-smi');
    sidecar.start();
    try {
      await watchGpuSource(sidecar, () => sidecar.ticks >= 1);
      expect(readFileSync(join(dir, 'late-calls'), 'utf8')).toBe('L\nL\n');
      expect(sidecar.store.latest?.gpus[0]?.index).toBe(0);
    } finally {
      await sidecar.stop();
    }
  }, 20_000);

  it('an nvidia-smi that exits before any document fails the source once its chance is over', async () => {
    const sidecar = sidecarWith('broken-smi');
    sidecar.start();
    try {
      const seen = await watchGpuSource(sidecar, () => sidecar.ticks >= 1);
      expect(seen).toEqual(['starting', 'failed']);
      expect(sidecar.sources.status('gpu').error).toMatch(/exited with code 9/);
    } finally {
      await sidecar.stop();
    }
  }, 20_000);
});
