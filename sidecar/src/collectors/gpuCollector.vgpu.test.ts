// On a vGPU host `nvidia-smi vgpu -q` is read every --vgpu-interval and at once when a VM attaches or
// detaches, not on every tick. The nvidia-smi here is a script answering with real captures (a host
// GPU's XML turned into a vGPU host's, and a real `vgpu -q`) and counting its `vgpu -q` calls.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureDir } from '../testing/fixtureDir.js';
import { FakeClock } from '../testing/fakeClock.js';
import { GpuCollector } from './gpuCollector.js';

const fx = fixtureDir('nvidia-smi');
let dir: string;
let smi: string;

/** A vGPU host's XML: the RTX 3060 capture in host vGPU mode on the bus of the `vgpu -q` capture, with one `vgpu` process per VM. */
function hostXml(vmPids: number[]): string {
  const procs = vmPids
    .map((pid) => `<process_info><gpu_instance_id>N/A</gpu_instance_id><compute_instance_id>N/A</compute_instance_id><pid>${pid}</pid><type>C+G</type><process_name>vgpu</process_name><used_memory>3072 MiB</used_memory></process_info>`)
    .join('');
  return fx
    .read('q-x_rtx-3060_570.124.04.xml')
    .replace('<virtualization_mode>None</virtualization_mode>', '<virtualization_mode>Host VGPU</virtualization_mode>')
    .replace('<host_vgpu_mode>N/A</host_vgpu_mode>', '<host_vgpu_mode>SR-IOV</host_vgpu_mode>')
    .replaceAll('00000000:2D:00.0', '00000001:C8:00.0')
    .replace(/<processes>\s*<\/processes>/, `<processes>${procs}</processes>`);
}

const vgpuCalls = () => readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter((l) => l === 'vgpu -q').length;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gpufleet-vgpu-'));
  writeFileSync(join(dir, 'calls'), '');
  writeFileSync(join(dir, 'vgpu.txt'), fx.read('vgpu-q_rtx-pro-6000-blackwell-dc_2-vgpus_580.105.06.txt'));
  writeFileSync(join(dir, 'list.txt'), 'GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-d6889ff6-2523-9142-ca3c-1ca3f396a625)\n');
  writeFileSync(join(dir, 'q.xml'), hostXml([4101, 4102]));
  smi = join(dir, 'nvidia-smi');
  // Each call is logged once answered (so a test knows what an earlier call printed).
  writeFileSync(smi, `#!/bin/sh
trap 'echo "$*" >> "${dir}/calls"' EXIT
case "$*" in
  "vgpu -q") if [ -e "${dir}/vgpu-fails" ]; then echo "Unable to determine the device handle for GPU 00000001:C8:00.0: Unknown Error"; exit 255; fi; cat "${dir}/vgpu.txt" ;;
  "-L") cat "${dir}/list.txt" ;;
  "-q -x") cat "${dir}/q.xml" ;;
  "-q -x -lms 200") while :; do cat "${dir}/q.xml"; sleep 0.2; done ;;
  *) exit 2 ;;
esac
`);
  chmodSync(smi, 0o755);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function collector(clock: FakeClock, vgpuIntervalMs?: number): GpuCollector {
  return new GpuCollector({ nvidiaSmi: smi, mode: 'spawn', intervalMs: 1000, timeoutMs: 10_000, vgpuIntervalMs, host: 'h', clock });
}

describe('vGPU state on a vGPU host', () => {
  it('is read on the first tick, then not again within --vgpu-interval: the instances are kept', async () => {
    const clock = new FakeClock();
    const c = collector(clock, 30_000);
    const first = await c.collect();
    expect(first.vgpu).toMatchObject({ ok: true, enabled: true });
    expect(first.vgpu.skipped).toBeFalsy();
    expect(first.gpus[0]?.vgpu.instances).toHaveLength(2);
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      const r = await c.collect();
      expect(r.vgpu).toMatchObject({ ok: true, enabled: true, skipped: true });
      expect(r.gpus[0]?.vgpu.instances.map((v) => v.id)).toEqual(first.gpus[0]?.vgpu.instances.map((v) => v.id));
    }
    expect(vgpuCalls()).toBe(1);
    // Once the interval has passed it is read again.
    clock.advance(30_000);
    expect((await c.collect()).vgpu.skipped).toBeFalsy();
    expect(vgpuCalls()).toBe(2);
  });

  it('is read at once when a VM attaches or detaches (the XML\'s vgpu processes change)', async () => {
    const clock = new FakeClock();
    const c = collector(clock, 30_000);
    await c.collect();
    clock.advance(1000);
    await c.collect();
    expect(vgpuCalls()).toBe(1);
    // A VM detaches: its process leaves the XML, and vgpu -q now lists one instance.
    writeFileSync(join(dir, 'q.xml'), hostXml([4101]));
    const vgpu = fx.read('vgpu-q_rtx-pro-6000-blackwell-dc_2-vgpus_580.105.06.txt');
    const second = vgpu.indexOf('    vGPU ID', vgpu.indexOf('    vGPU ID') + 1);
    writeFileSync(join(dir, 'vgpu.txt'), vgpu.slice(0, second).replace(/Active vGPUs(\s+): 2/, 'Active vGPUs$1: 1'));
    clock.advance(1000);
    const r = await c.collect();
    expect(vgpuCalls()).toBe(2);
    expect(r.vgpu.skipped).toBeFalsy();
    expect(r.gpus[0]?.vgpu.instances).toHaveLength(1);
  });

  it('a failed read is tried again on the next tick, keeping the last good instances meanwhile', async () => {
    const clock = new FakeClock();
    const c = collector(clock, 30_000);
    await c.collect();
    clock.advance(30_000);
    // The call fails as a real one does; the instances stay.
    writeFileSync(join(dir, 'vgpu-fails'), '');
    const failed = await c.collect();
    expect(failed.vgpu.ok).toBe(false);
    expect(failed.gpus[0]?.vgpu.instances).toHaveLength(2);
    rmSync(join(dir, 'vgpu-fails'));
    clock.advance(1000);
    const again = await c.collect();
    expect(again.vgpu).toMatchObject({ ok: true });
    expect(again.vgpu.skipped).toBeFalsy();
    expect(vgpuCalls()).toBe(3);
  });

  it('--vgpu-interval equal to the interval reads it every tick', async () => {
    const clock = new FakeClock();
    const c = collector(clock, 1000);
    for (let i = 0; i < 3; i++) {
      await c.collect();
      clock.advance(1000);
    }
    expect(vgpuCalls()).toBe(3);
  });
});

describe('vGPU state at start in loop mode', () => {
  const loopCollector = () =>
    new GpuCollector({ nvidiaSmi: smi, mode: 'loop', intervalMs: 200, timeoutMs: 10_000, vgpuIntervalMs: 30_000, host: 'h' });

  it('is read while the loop starts, so the first tick spawns nothing more', async () => {
    const c = loopCollector();
    c.start();
    try {
      await c.firstDocument(10_000);
      const r = await c.collect();
      expect(r.gpu.ok).toBe(true);
      expect(r.gpus[0]?.vgpu.instances).toHaveLength(2);
      expect(vgpuCalls()).toBe(1);
    } finally {
      c.stop();
    }
  });

  it('is read again when what was read at start does not match the first document\'s VMs', async () => {
    // Two vGPUs when read at start; by the first document one VM has gone.
    writeFileSync(join(dir, 'q.xml'), hostXml([4101]));
    const c = loopCollector();
    c.start();
    try {
      while (vgpuCalls() < 1) await new Promise((r) => setTimeout(r, 20));
      await c.firstDocument(10_000);
      const vgpu = fx.read('vgpu-q_rtx-pro-6000-blackwell-dc_2-vgpus_580.105.06.txt');
      const second = vgpu.indexOf('    vGPU ID', vgpu.indexOf('    vGPU ID') + 1);
      writeFileSync(join(dir, 'vgpu.txt'), vgpu.slice(0, second).replace(/Active vGPUs(\s+): 2/, 'Active vGPUs$1: 1'));
      const r = await c.collect();
      expect(r.gpus[0]?.vgpu.instances).toHaveLength(1);
      expect(vgpuCalls()).toBe(2);
    } finally {
      c.stop();
    }
  });
});
