// Round trip: the simulator's output read back by the sidecar's real parsers gives the simulated state.
// (Tests only: the sidecar itself never imports the simulator.)
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGpus } from '../parsers/gpuSnapshot.js';
import { parseKmsgRecord, parseXid } from '../parsers/kmsgXid.js';
import { parseNvidiaSmiList } from '../parsers/nvidiaSmiList.js';
import { splitSmiLogStream } from '../parsers/nvidiaSmiStream.js';
import { parseNvidiaSmiXml } from '../parsers/nvidiaSmiXml.js';
import { parseVgpuQuery } from '../parsers/vgpuQuery.js';
import { xidRecords } from './kmsg.js';
import { renderGarbage, renderList, renderQueryXml, renderVgpuQuery } from './render.js';
import { loadScenarioFile, validateScenario } from './scenario.js';
import { EMPTY_CONTROL, hostStateAt, type SimHostState } from './state.js';

const here = dirname(fileURLToPath(import.meta.url));
const demo = loadScenarioFile(join(here, 'scenarios', 'demo.yaml'));
const faults = loadScenarioFile(join(here, 'scenarios', 'faults.yaml'));
const MiB = 1024 * 1024;

function parseAll(state: SimHostState) {
  const log = parseNvidiaSmiXml(renderQueryXml(state));
  return {
    log,
    gpus: buildGpus(state.hostname, log, parseNvidiaSmiList(renderList(state)), parseVgpuQuery(renderVgpuQuery(state))),
  };
}

describe('demo rendered and parsed back by the sidecar parsers', () => {
  // t = 100: GPU 1 in its base MIG layout, all VMs attached.
  const state = hostStateAt(demo, 100, undefined, Date.UTC(2025, 0, 1));
  const { log, gpus } = parseAll(state);

  it('host fields and the 8 GPUs with their identity', () => {
    expect(log).toMatchObject({ driverVersion: '570.124.06', cudaVersion: '12.8', attachedGpus: 8 });
    expect(gpus).toHaveLength(8);
    gpus.forEach((g, i) => {
      const s = state.gpus[i];
      expect(g).toMatchObject({
        host: 'sim-demo',
        uuid: s?.uuid,
        index: s?.index,
        name: 'NVIDIA H100 80GB HBM3',
        pciBusId: s?.pciBusId,
      });
    });
  });

  it('numbers: memory, utilization, temperature, power, clocks', () => {
    gpus.forEach((g, i) => {
      const s = state.gpus[i];
      if (!s) throw new Error('missing');
      expect(g.memory).toEqual({ totalBytes: s.memory.totalMiB * MiB, usedBytes: s.memory.usedMiB * MiB });
      expect(g.utilization.gpu).toBe(s.utilization.gpu);
      expect(g.temperatureC).toBe(s.temperature.gpuC);
      expect([s.power.instantW, s.power.averageW]).toContain(g.powerW);
      expect(g.powerLimitW).toBe(700);
      expect(g.clocks).toEqual({ smMHz: s.clocks.sm, memMHz: s.clocks.mem });
      expect(g.eccUncorrectedVolatile).toBe(0);
    });
  });

  it('MIG instances with profiles, GI/CI ids and UUIDs', () => {
    for (const pos of [1, 2]) {
      const s = state.gpus[pos];
      const g = gpus[pos];
      expect(g?.mig.mode).toBe('enabled');
      expect(g?.utilization.gpu).toBeNull();
      expect(
        g?.mig.instances.map((m) => [m.profile, m.gpuInstanceId, m.computeInstanceId, m.uuid, m.memory.totalBytes])
      ).toEqual(
        s?.mig.devices.map((d) => [d.profile, d.gpuInstanceId, d.computeInstanceId, d.uuid, d.memoryTotalMiB * MiB])
      );
    }
    expect(gpus[1]?.mig.instances.map((m) => m.profile)).toEqual(['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb']);
    expect(gpus[2]?.mig.instances).toHaveLength(7);
    expect(gpus[0]?.mig.mode).toBe('disabled');
  });

  it('processes keep their MIG attribution', () => {
    const gpu2 = gpus[2];
    const dev0 = state.gpus[2]?.mig.devices[0];
    const p = gpu2?.processes.find((x) => x.pid === 43001);
    expect(p).toMatchObject({
      name: '/usr/bin/python3',
      usedMemoryBytes: 8804 * MiB,
      gpuUuid: gpu2?.uuid,
      migUuid: dev0?.uuid,
    });
    expect(gpu2?.mig.instances[0]?.processes.map((x) => x.pid)).toEqual([43001]);
    expect(gpus[7]?.processes).toEqual([
      { pid: 47001, name: '/opt/conda/bin/python', type: 'C', usedMemoryBytes: 63420 * MiB, gpuUuid: gpus[7]?.uuid },
    ]);
  });

  it('vGPU hosts with their VMs', () => {
    for (const pos of [3, 4]) {
      const s = state.gpus[pos];
      const g = gpus[pos];
      expect(g?.vgpu.hostMode).toBe('sriov');
      expect(
        g?.vgpu.instances.map((v) => [
          v.id,
          v.uuid,
          v.vmId,
          v.vmName,
          v.type,
          v.typeId,
          v.framebuffer.totalBytes,
          v.utilization.gpu,
          v.licensed,
        ])
      ).toEqual(
        s?.vgpu?.vgpus.map((v) => [
          String(v.vgpuId),
          v.uuid,
          v.vmUuid,
          v.vmName,
          v.typeName,
          String(v.typeId),
          v.framebufferTotalMiB * MiB,
          v.utilization.gpu,
          v.licensed,
        ])
      );
    }
    expect(gpus[3]?.vgpu.instances.map((v) => v.vmName)).toEqual([
      'tenant-a-win11',
      'tenant-b-linux',
      'tenant-c-linux',
      'tenant-d-ci',
    ]);
    expect(gpus[4]?.vgpu.instances.map((v) => v.licensed)).toEqual([true, true, null]);
    expect(gpus[3]?.processes.every((p) => p.name === 'vgpu' && p.type === 'C+G')).toBe(true);
    expect(gpus[0]?.vgpu).toMatchObject({ hostMode: 'none', instances: [] });
  });

  it('a MIG reconfiguration shows as new instances with new UUIDs', () => {
    const later = parseAll(hostStateAt(demo, 300)).gpus[1];
    expect(later?.mig.instances.map((m) => m.profile)).toEqual(['7g.80gb']);
    expect(later?.mig.instances[0]?.uuid).not.toBe(gpus[1]?.mig.instances[0]?.uuid);
  });
});

describe('other models parsed back', () => {
  it('small: one L40S without MIG support', () => {
    const small = loadScenarioFile(join(here, 'scenarios', 'small.yaml'));
    // Its engine's process, as simHost publishes it (engines.json → the fake nvidia-smi).
    const engine = { gpu: 0, migUuid: null, pid: 31337, name: 'VLLM::EngineCore', memoryMiB: 41461, load: 0.5 };
    const { gpus } = parseAll(hostStateAt(small, 42, EMPTY_CONTROL, 0, [engine]));
    expect(gpus).toHaveLength(1);
    expect(gpus[0]).toMatchObject({
      name: 'NVIDIA L40S',
      index: 0,
      mig: { mode: 'unsupported', instances: [] },
      vgpu: { hostMode: 'none' },
    });
    expect(gpus[0]?.processes.map((p) => p.pid)).toEqual([31337]);
  });

  it('an H200 with MIG profiles of its own', () => {
    const s = validateScenario({
      gpus: [{ model: 'H200-SXM-141GB', mig: { instances: ['3g.71gb', '2g.35gb', '1g.18gb', '1g.18gb'] } }],
    });
    const { gpus } = parseAll(hostStateAt(s, 0));
    expect(gpus[0]?.name).toBe('NVIDIA H200');
    expect(gpus[0]?.mig.instances.map((m) => [m.profile, m.gpuInstanceId, m.memory.totalBytes])).toEqual([
      ['3g.71gb', 2, 71424 * MiB],
      ['2g.35gb', 3, 33280 * MiB],
      ['1g.18gb', 9, 16384 * MiB],
      ['1g.18gb', 10, 16384 * MiB],
    ]);
  });
});

describe('faults rendered and parsed back', () => {
  it('a lost GPU is missing from the parsed GPUs; the others keep their UUIDs', () => {
    const before = parseAll(hostStateAt(faults, 30)).gpus;
    const during = parseAll(hostStateAt(faults, 600));
    expect(during.log.attachedGpus).toBe(5);
    expect(during.gpus.map((g) => g.uuid)).toEqual(before.filter((_, i) => i !== 2).map((g) => g.uuid));
  });

  it('a loop stream with a garbage answer between good ones splits into the good documents', () => {
    const good1 = renderQueryXml(hostStateAt(faults, 350));
    const bad = renderGarbage(hostStateAt(faults, 361), 'xml', renderQueryXml(hostStateAt(faults, 361)));
    const good2 = renderQueryXml(hostStateAt(faults, 381));
    const splitter = splitSmiLogStream();
    const out = splitter.push(good1 + bad + good2);
    const docs = [...out.documents, ...splitter.end().documents];
    expect(docs).toHaveLength(2);
    for (const d of docs) expect(parseNvidiaSmiXml(d).gpus).toHaveLength(6);
  });
});

describe('Xid records for the kernel log, parsed back by the sidecar parser', () => {
  it('faults.yaml: Xid 79 on GPU 2 at its occurrence start', () => {
    const epoch = Date.UTC(2025, 0, 1);
    const boot = epoch - 3_600_000;
    const state = hostStateAt(faults, 1200 + 535, undefined, epoch);
    const records = xidRecords(state, faults, boot, (i) => epoch + (state.faults[i]?.since ?? 0) * 1000);
    expect(records).toHaveLength(1);
    const rec = parseKmsgRecord(records[0]?.line ?? '');
    expect(rec?.seq).toBe(records[0]?.seq);
    expect(Math.round(boot + (rec?.usec ?? 0) / 1000)).toBe(epoch + (1200 + 530) * 1000);
    expect(parseXid(rec?.message ?? '')).toMatchObject({
      pciBusId: '00000000:3A:00.0',
      xid: 79,
      pid: null,
      detail: 'GPU has fallen off the bus.',
    });
    expect(xidRecords(hostStateAt(faults, 545, undefined, epoch), faults, boot, () => epoch)).toHaveLength(0);
  });
});
