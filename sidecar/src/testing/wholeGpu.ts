// A whole (no MIG, no vGPU) GPU with compute processes, for tests that join engines to GPUs.
import type { Gpu } from '../model.js';

export function wholeGpu(uuid: string, index: number, pids: number[], processName = 'python3'): Gpu {
  return {
    host: 'h', uuid, index, name: 'NVIDIA H100 80GB HBM3', pciBusId: `00000000:${10 + index}:00.0`,
    memory: { totalBytes: 1, usedBytes: 1 }, utilization: { gpu: 50, memory: 10, encoder: 0, decoder: 0 },
    temperatureC: 50, powerW: 300, powerLimitW: 700, clocks: { smMHz: null, memMHz: null }, eccUncorrectedVolatile: null,
    mig: { mode: 'disabled', pendingMode: null, instances: [] },
    vgpu: { hostMode: 'none', schedulerPolicy: null, arr: null, instances: [] },
    processes: pids.map((pid) => ({ pid, name: processName, type: 'C', usedMemoryBytes: 1, gpuUuid: uuid })),
  };
}
