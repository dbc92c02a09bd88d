// Two GPUs reporting one UUID, as a real nvidia-smi process would print them (a script standing in for the
// binary): the collector keeps both apart by index, says so once in the log, and counts each GPU once.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFixture } from '../parsers/__tests__/fixtures.js';
import { GpuCollector } from './gpuCollector.js';

const A = 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab';
const B = 'GPU-12345678-aaaa-bbbb-cccc-0123456789cd';

describe('GpuCollector: duplicate GPU UUIDs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dup-uuid-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps both GPUs by index, logs once, counts each GPU once', async () => {
    // The real 2× A5000 document with the second GPU given the first one's UUID.
    writeFileSync(join(dir, 'q.xml'), readFixture('q-x_2x-rtx-a5000_llama-server_590.44.01.xml').split(B).join(A));
    writeFileSync(join(dir, 'l.txt'), `GPU 0: NVIDIA RTX A5000 (UUID: ${A})\nGPU 1: NVIDIA RTX A5000 (UUID: ${A})\n`);
    const smi = join(dir, 'nvidia-smi');
    writeFileSync(smi, `#!/bin/sh\nif [ "$1" = "-L" ]; then exec cat '${dir}/l.txt'; fi\nexec cat '${dir}/q.xml'\n`);
    chmodSync(smi, 0o755);
    const logs: string[] = [];
    const c = new GpuCollector({ nvidiaSmi: smi, mode: 'spawn', intervalMs: 1000, timeoutMs: 5000, host: 'h', onLog: (_l, m) => logs.push(m) });
    const first = await c.collect();
    expect(first.gpu.ok).toBe(true);
    expect(first.gpus.map((g) => [g.uuid, g.index])).toEqual([[A, 0], [A, 1]]);
    expect(first.newDuplicateUuids).toBe(1);
    const second = await c.collect();
    expect(second.newDuplicateUuids).toBeUndefined();
    const said = logs.filter((m) => m.includes('reports the UUID'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/GPU 1 \(PCI 00000000:C1:00\.0\) reports the UUID GPU-12345678-aaaa-bbbb-cccc-0123456789ab of GPU 0/);
  });
});
