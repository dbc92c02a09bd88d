// Reading `nvidia-smi mig -lgip` beside the GPU loop: only with MIG on, again when the layout changes, and a
// failure leaves "creatable" unknown with one warning that says what is needed.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../model.js';
import { FakeClock } from '../testing/fakeClock.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { MigProfilesReader } from './migProfilesReader.js';

const TABLE = [
  '+-----------------------------------------------------------------------------+',
  '| GPU instance profiles:                                                      |',
  '|   1  MIG 1g.10gb       19     3/7        9.75       No     16     1     0   |',
  '|                                                             1     1     0   |',
].join('\n');

function migGpu(index: number, profiles: string[]): Gpu {
  const g = wholeGpu(`GPU-${index}`, index, []);
  return {
    ...g,
    mig: {
      mode: 'enabled', pendingMode: null,
      instances: profiles.map((profile, i) => ({
        uuid: `MIG-${index}-${i}-${profile}`, index: i, gpuInstanceId: i, computeInstanceId: 0, profile, multiprocessorCount: null, memory: { totalBytes: 1, usedBytes: 0 }, processes: [],
      })),
    },
  };
}

describe('MigProfilesReader', () => {
  let dir: string;
  let calls: string;
  const script = (body: string) => {
    const p = join(dir, 'nvidia-smi');
    writeFileSync(p, `#!/bin/sh\necho "$@" >> ${calls}\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gpufleet-lgip-'));
    calls = join(dir, 'calls');
    writeFileSync(calls, '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('maps rows to GPU UUIDs by index, for the layout it read; nothing without MIG', async () => {
    const table = join(dir, 'table');
    writeFileSync(table, TABLE);
    const logs: string[] = [];
    const clock = new FakeClock();
    const r = new MigProfilesReader({ nvidiaSmi: script(`cat ${table}`), timeoutMs: 5000, refreshMs: 60_000, clock, onLog: (l, m) => logs.push(`${l} ${m}`) });
    const gpus = [wholeGpu('GPU-0', 0, []), migGpu(1, ['3g.40gb'])];
    expect(r.poke([wholeGpu('GPU-0', 0, [])])).toBeNull();
    await r.poke(gpus);
    expect(Object.fromEntries(r.current(gpus) ?? [])).toEqual({ 'GPU-1': [{ profile: '1g.10gb', free: 3, total: 7 }] });
    // The same layout is not read again within refreshMs; another layout is unknown until read.
    expect(r.poke(gpus)).toBeNull();
    const changed = [migGpu(1, ['7g.80gb'])];
    expect(r.current(changed)).toBeNull();
    await r.poke(changed);
    expect(r.current(changed)).not.toBeNull();
    expect(logs).toEqual([]);
  });

  it('a failing read: unknown, one warning naming the capability, then quiet', async () => {
    const logs: string[] = [];
    const clock = new FakeClock();
    const r = new MigProfilesReader({ nvidiaSmi: script('echo "Insufficient Permissions"; exit 4'), timeoutMs: 5000, refreshMs: 1000, clock, onLog: (l, m) => logs.push(`${l} ${m}`) });
    const gpus = [migGpu(0, ['1g.10gb'])];
    await r.poke(gpus);
    clock.advance(1000);
    await r.poke(gpus);
    expect(r.current(gpus)).toBeNull();
    expect(logs.map((l) => l.split(' ')[0])).toEqual(['warn', 'debug']);
    expect(logs[0]).toContain('/proc/driver/nvidia/capabilities/mig/monitor');
  });
});
