// Joins what the nvidia-smi commands say about the same GPUs into the model's Gpu objects.
//
// - `-q -x` (SmiXmlLog) is the base: one Gpu per XML GPU.
// - `-L` (ListedGpu[]) gives the nvidia-smi index (by GPU UUID) and, per MIG device, its UUID and
//   profile (by `mig_device` index = "Device N"). Without -L: index null, MIG uuid/profile null.
//   Two GPUs may report one UUID (a masked capture, a broken board's VBIOS): both commands list GPUs in
//   the same enumeration order, so the n-th XML GPU with a UUID takes the n-th -L line with it, and
//   the two keep their own indexes (`duplicateUuidGpus` names them).
// - `vgpu -q` (VgpuHostGpu[]) gives the vGPU instances, joined on the PCI bus id, compared in one
//   form (lower case, 8-digit domain): "00000001:C8:00.0" = "0001:c8:00.0".
// - processes from the XML go to the GPU and, when their GPU/compute instance ids match a MIG
//   device, also to that MIG instance, with `migUuid` when -L named it.

import type { Gpu, GpuProcess, MigInstance } from '../model.js';
import type { ListedGpu } from './nvidiaSmiList.js';
import type { SmiXmlGpu, SmiXmlLog, SmiXmlProcess } from './nvidiaSmiXml.js';
import { normalizePciBusId } from './values.js';
import type { VgpuHostGpu } from './vgpuQuery.js';

/** vGPU software scheduler state of one physical GPU, keyed by its PCI bus id. */
export interface VgpuSchedulerState {
  /** e.g. "Best Effort", "Equal Share", "Fixed Share". */
  policy: string | null;
  /** Adaptive round-robin on/off, when reported. */
  arr: boolean | null;
}

export function buildGpus(
  host: string,
  log: SmiXmlLog,
  list: ListedGpu[] | null,
  vgpu: VgpuHostGpu[] | null,
  scheduler?: Map<string, VgpuSchedulerState> | null
): Gpu[] {
  const listed = new Map<string, ListedGpu[]>();
  for (const l of list ?? []) listed.set(l.uuid, [...(listed.get(l.uuid) ?? []), l]);
  const vgpuByBus = new Map<string, VgpuHostGpu>();
  for (const v of vgpu ?? []) vgpuByBus.set(normalizePciBusId(v.pciBusId), v);
  const schedByBus = new Map<string, VgpuSchedulerState>();
  for (const [bus, state] of scheduler ?? []) schedByBus.set(normalizePciBusId(bus), state);

  const gpus = log.gpus.map((x) => buildGpu(host, x, listed.get(x.uuid)?.shift(), vgpuByBus, schedByBus));
  return gpus.sort(compareGpus);
}

/** The GPUs that report a UUID an earlier GPU of the same reading reports too (the first one is not listed). */
export function duplicateUuidGpus(gpus: readonly Gpu[]): Gpu[] {
  const seen = new Set<string>();
  const out: Gpu[] = [];
  for (const g of gpus) {
    if (seen.has(g.uuid)) out.push(g);
    else seen.add(g.uuid);
  }
  return out;
}

function buildGpu(
  host: string,
  x: SmiXmlGpu,
  l: ListedGpu | undefined,
  vgpuByBus: Map<string, VgpuHostGpu>,
  schedByBus: Map<string, VgpuSchedulerState>
): Gpu {
  const instances: MigInstance[] = x.migDevices.map((d) => {
    const named = l?.migDevices.find((m) => m.index === d.index);
    return {
      uuid: named?.uuid ?? null,
      index: d.index,
      gpuInstanceId: d.gpuInstanceId,
      computeInstanceId: d.computeInstanceId,
      profile: named?.profile ?? null,
      multiprocessorCount: d.multiprocessorCount,
      memory: { ...d.memory },
      processes: [],
    };
  });

  const processes: GpuProcess[] = [];
  for (const p of x.processes) {
    const mig = instances.find(
      (i) =>
        p.gpuInstanceId !== null && i.gpuInstanceId === p.gpuInstanceId && i.computeInstanceId === p.computeInstanceId
    );
    processes.push(toProcess(p, x.uuid, mig?.uuid));
    if (mig) mig.processes.push(toProcess(p, x.uuid, mig.uuid));
  }

  const bus = normalizePciBusId(x.pciBusId);
  const vgpuInstances = (vgpuByBus.get(bus)?.instances ?? []).map((v) => ({
    ...v,
    framebuffer: { ...v.framebuffer },
    utilization: { ...v.utilization },
  }));
  let hostMode = x.hostVgpuMode;
  // `nvidia-smi vgpu -q` listing vGPUs, or `virtualization_mode` saying "Host VGPU", proves this GPU
  // is a vGPU host even when the XML has no host_vgpu_mode (DTD v10 and before: older drivers have
  // no such element) or says N/A. SR-IOV hosts (Ampere and later, recent drivers) report "SR-IOV"
  // there; the ones that leave it out are the older, mediated-device (non-SR-IOV) kind, so that is
  // the better guess than 'none'.
  if (hostMode === 'none' && (vgpuInstances.length > 0 || /^host\s*vgpu$/i.test(x.virtualizationMode?.trim() ?? ''))) hostMode = 'non-sriov';
  const sched = schedByBus.get(bus);

  return {
    host,
    uuid: x.uuid,
    index: l?.index ?? null,
    name: x.name,
    pciBusId: x.pciBusId,
    memory: { ...x.memory },
    // Under MIG the XML says N/A for whole-GPU utilization; it stays null.
    utilization: { ...x.utilization },
    temperatureC: x.temperatureC,
    powerW: x.powerW,
    powerAverageW: x.powerAverageW,
    powerLimitW: x.powerLimitW,
    clocks: { ...x.clocks },
    mig: { mode: x.migMode, pendingMode: x.pendingMigMode, instances },
    vgpu: {
      hostMode,
      schedulerPolicy: sched?.policy ?? null,
      arr: sched?.arr ?? null,
      instances: vgpuInstances,
    },
    processes,
    eccUncorrectedVolatile: x.eccUncorrectedVolatile,
  };
}

function toProcess(p: SmiXmlProcess, gpuUuid: string, migUuid: string | null | undefined): GpuProcess {
  const out: GpuProcess = { pid: p.pid, name: p.name, type: p.type, usedMemoryBytes: p.usedMemoryBytes, gpuUuid };
  if (migUuid) out.migUuid = migUuid;
  return out;
}

/** By nvidia-smi index (GPUs without one last), then by PCI bus id. */
function compareGpus(a: Gpu, b: Gpu): number {
  if (a.index !== b.index) {
    if (a.index === null) return 1;
    if (b.index === null) return -1;
    return a.index - b.index;
  }
  const ab = normalizePciBusId(a.pciBusId);
  const bb = normalizePciBusId(b.pciBusId);
  return ab < bb ? -1 : ab > bb ? 1 : 0;
}
