// Query mode: the per-tick figures come from a `--query-gpu` CSV loop, everything else from a `-q -x` loop
// read every --nvidia-smi-full-interval. The nvidia-smi here is a script printing real captures of one H200
// (its XML and its CSV loop, read a second apart) the way the real loops do.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUERY_GPU_FIELDS } from '../parsers/queryGpuCsv.js';
import { fixtureDir } from '../testing/fixtureDir.js';
import { GpuCollector } from './gpuCollector.js';

const fx = fixtureDir('nvidia-smi');
const MiB = 1048576;
const CSV_ARGS = `--query-gpu=${QUERY_GPU_FIELDS.join(',')} --format=csv,noheader,nounits -lms 200`;
let dir: string;
let smi: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gpufleet-query-'));
  writeFileSync(join(dir, 'q.xml'), fx.read('q-x_h200-b_python-load_580.159.04.xml'));
  // The last row of the capture, printed at every loop tick.
  const rows = fx.read('query-gpu-lms500_h200_python-load_580.159.04.csv').trim().split('\n');
  writeFileSync(join(dir, 'row.csv'), `${rows[rows.length - 1]}\n`);
  smi = join(dir, 'nvidia-smi');
  writeFileSync(smi, `#!/bin/sh
echo "$*" >> "${dir}/calls"
case "$*" in
  "-L") echo "GPU 0: NVIDIA H200 (UUID: GPU-e91e2fd3-995a-f027-a648-c805a0f3c07c)" ;;
  "vgpu -q") echo "No supported devices in vGPU mode" ;;
  "-q -x -lms 5000") while :; do cat "${dir}/q.xml"; sleep 0.2; done ;;
  "${CSV_ARGS}")
    if [ -e "${dir}/old-driver" ]; then echo 'Field "power.draw.instant" is not a valid field to query.'; exit 2; fi
    while :; do cat "${dir}/row.csv"; sleep 0.2; done ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`);
  chmodSync(smi, 0o755);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const csvStarts = () => readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter((l) => l === CSV_ARGS).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The capture's document with a second H200 (another UUID and bus) beside the first. */
function twoGpuXml(): string {
  const xml = fx.read('q-x_h200-b_python-load_580.159.04.xml');
  const gpu = xml.slice(xml.indexOf('<gpu id='), xml.indexOf('</gpu>') + '</gpu>'.length);
  const second = gpu.replaceAll('GPU-e91e2fd3-995a-f027-a648-c805a0f3c07c', 'GPU-11111111-2222-3333-4444-555555555555').replaceAll('00000000:00:06.0', '00000000:00:07.0');
  return xml.replace(gpu, `${gpu}\n${second}`).replace('<attached_gpus>1</attached_gpus>', '<attached_gpus>2</attached_gpus>');
}

async function firstReading(c: GpuCollector) {
  c.start();
  await c.firstDocument(10_000);
  return c.collect();
}

describe('query mode', () => {
  it('serves the CSV loop\'s figures with the XML\'s processes and identity', async () => {
    const c = new GpuCollector({ nvidiaSmi: smi, mode: 'query', intervalMs: 200, fullIntervalMs: 5000, timeoutMs: 10_000, host: 'h' });
    try {
      const r = await firstReading(c);
      expect(r.gpu).toMatchObject({ ok: true });
      const [g] = r.gpus;
      // The CSV row (737.11 W instant, 1515 MHz), not the document's (668.29 W, 1485 MHz).
      expect([g?.powerW, g?.powerAverageW, g?.clocks.smMHz, g?.utilization.gpu, g?.memory.usedBytes]).toEqual([737.11, 690.83, 1515, 100, 5235 * MiB]);
      expect([g?.uuid, g?.index, g?.name, g?.processes.map((p) => [p.pid, p.name])]).toEqual([
        'GPU-e91e2fd3-995a-f027-a648-c805a0f3c07c', 0, 'NVIDIA H200', [[553, 'python3']],
      ]);
      // A new row is served on the next tick while the document stays the same.
      writeFileSync(join(dir, 'row.csv'), `${fx.read('query-gpu-lms500_h200_python-load_580.159.04.csv').split('\n')[1]}\n`);
      await new Promise((r) => setTimeout(r, 600));
      expect((await c.collect()).gpus[0]?.powerW).toBe(651.33);
    } finally {
      c.stop();
    }
  });

  it('a driver that refuses a field fails the GPU source with nvidia-smi\'s words', async () => {
    writeFileSync(join(dir, 'old-driver'), '');
    const c = new GpuCollector({ nvidiaSmi: smi, mode: 'query', intervalMs: 200, fullIntervalMs: 5000, timeoutMs: 10_000, host: 'h' });
    try {
      const r = await firstReading(c);
      expect(r.gpu.ok).toBe(false);
      expect(r.gpu.error?.message).toMatch(/--query-gpu: no row for GPU GPU-e91e2fd3-\S+ within \d+ ms \(it printed 'Field "power.draw.instant" is not a valid field to query.'\)$/);
      expect(r.gpus).toEqual([]);
    } finally {
      c.stop();
    }
  });

  it('a GPU of the document with no row in the CSV fails the tick, naming the GPU', async () => {
    writeFileSync(join(dir, 'row.csv'), 'GPU-00000000-0000-0000-0000-000000000000, 1, 1, 0, 0, 143771, 1, 30, 70, 70, 700, 345, 3201\n');
    const c = new GpuCollector({ nvidiaSmi: smi, mode: 'query', intervalMs: 200, fullIntervalMs: 5000, timeoutMs: 10_000, host: 'h' });
    try {
      const r = await firstReading(c);
      expect(r.gpu.ok).toBe(false);
      expect(r.gpu.error?.message).toMatch(/no row for GPU GPU-e91e2fd3-995a-f027-a648-c805a0f3c07c within 10200 ms/);
    } finally {
      c.stop();
    }
  });

  it('a GPU without a row keeps the document\'s figures, is said once, and a new set of GPUs restarts the CSV loop', async () => {
    const logs: string[] = [];
    const c = new GpuCollector({
      nvidiaSmi: smi, mode: 'query', intervalMs: 200, fullIntervalMs: 5000, timeoutMs: 10_000, host: 'h', onLog: (_l, m) => logs.push(m),
    });
    try {
      await firstReading(c);
      expect(csvStarts()).toBe(1);
      writeFileSync(join(dir, 'q.xml'), twoGpuXml());
      let r = await c.collect();
      while (r.gpus.length < 2) {
        await sleep(50);
        r = await c.collect();
      }
      expect(r.gpu.ok).toBe(true);
      expect(r.gpus.map((g) => [g.uuid, g.powerW])).toEqual([
        ['GPU-e91e2fd3-995a-f027-a648-c805a0f3c07c', 737.11], // its CSV row
        ['GPU-11111111-2222-3333-4444-555555555555', 668.29], // the document's own reading
      ]);
      await c.collect();
      expect(logs.filter((m) => m.includes('no row for GPU GPU-11111111'))).toHaveLength(1);
      // The CSV loop is replaced at once to see the new GPU, as a restart asked for, not a failure.
      while (csvStarts() < 2) await sleep(50);
      expect(logs.filter((m) => /exited with code/.test(m))).toEqual([]);
    } finally {
      c.stop();
    }
  }, 15_000);

  it('a CSV loop that only prints an error and exits is started again with a growing back-off', async () => {
    writeFileSync(join(dir, 'old-driver'), '');
    const c = new GpuCollector({ nvidiaSmi: smi, mode: 'query', intervalMs: 200, fullIntervalMs: 5000, timeoutMs: 10_000, host: 'h' });
    try {
      c.start();
      await sleep(3500);
      // Back-off 1 s, then 2 s: three starts by 3.5 s (with each error line ending the back-off: four or more).
      expect(csvStarts()).toBeLessThanOrEqual(3);
      expect(csvStarts()).toBeGreaterThanOrEqual(2);
    } finally {
      c.stop();
    }
  });

  it('with --interval as long as the full interval it is loop mode: no CSV loop beside the document', async () => {
    writeFileSync(smi, readFileSync(smi, 'utf8').replace('"-q -x -lms 5000")', '"-q -x -lms 5000"|"-q -x -lms 6000")'));
    const c = new GpuCollector({ nvidiaSmi: smi, mode: 'query', intervalMs: 6000, fullIntervalMs: 5000, timeoutMs: 10_000, host: 'h' });
    try {
      const r = await firstReading(c);
      expect(r.gpu.ok).toBe(true);
      expect(r.gpus[0]?.powerW).toBe(668.29); // the document's own reading
      expect(csvStarts()).toBe(0);
      expect(readFileSync(join(dir, 'calls'), 'utf8')).toContain('-q -x -lms 6000');
    } finally {
      c.stop();
    }
  });
});
