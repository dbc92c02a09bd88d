// Built-in GPU models for scenarios: names, sizes, limits, clocks, MIG profiles and vGPU types.
//
// Where a value is printed by the real captures in tests/fixtures/nvidia-smi it is copied from there
// (H100 80GB HBM3: capture_h100-mig_590.48.01.txt; H200: capture_h200-mig-shared-gi_590.48.01.txt). Values
// no capture shows (e.g. the 7g profiles' memory, vGPU type ids) are marked "not from a capture" and are
// plausible, not authoritative.

export interface MigProfileInfo {
  name: string;
  /** Compute slices ("g" count); a GPU has `migComputeSlices` of them. */
  computeSlices: number;
  /** Memory slices occupied; the placement "size". */
  memorySlices: number;
  /** Placement starts, in the order the driver tries them. */
  starts: number[];
  /** GPU instance id the driver gives an instance placed at `start`. */
  gpuInstanceId: (start: number) => number;
  multiprocessors: number;
  copyEngines: number;
  decoders: number;
  encoders: number;
  jpegs: number;
  ofas: number;
  memoryMiB: number;
  bar1MiB: number;
  /** FB used by an instance with no processes (driver/context overhead). */
  idleUsedMiB: number;
}

export interface VgpuTypeInfo {
  /** The number printed as `vGPU Type` by `nvidia-smi vgpu -q`. */
  typeId: number;
  framebufferMiB: number;
}

export interface GpuModelInfo {
  key: string;
  name: string;
  brand: string;
  architecture: string;
  memoryMiB: number;
  reservedMiB: number;
  bar1MiB: number;
  powerLimitW: number;
  minPowerLimitW: number;
  idlePowerW: number;
  maxClocks: { graphics: number; sm: number; mem: number; video: number };
  idleClocks: { graphics: number; sm: number; mem: number; video: number };
  /** Performance state when idle (data-centre Hopper parts stay in P0). */
  idlePstate: string;
  /** Step between supported graphics clocks (for `supported_clocks`). */
  graphicsClockStep: number;
  pciDeviceId: string;
  pciSubSystemId: string;
  vbiosVersion: string;
  boardPartNumber: string;
  gpuPartNumber: string;
  inforom: { image: string; oem: string; ecc: string };
  computeCap: string;
  pcieGen: number;
  temps: {
    idleC: number;
    loadRiseC: number;
    shutdownC: number;
    slowdownC: number;
    maxOperatingC: number;
    memoryMaxC: number | null;
  };
  /** HBM parts report a memory temperature; GDDR parts print N/A. */
  memoryTemp: boolean;
  ecc: boolean;
  /** Fan speed is N/A on passively cooled SXM/PCIe data-centre boards. */
  fan: boolean;
  /** NVLink fabric (SXM boards): `<fabric><state>Completed</state>...`. */
  fabric: boolean;
  migSlots: number;
  migComputeSlices: number;
  migProfiles: Record<string, MigProfileInfo>;
  vgpuTypes: Record<string, VgpuTypeInfo>;
}

/** A100/H100-style GPU-instance ids: 7g → 0; 4g → 1; 3g → 1 or 2; 2g (and 1g with 2 memory slices) → 3..6; 1g → 7..13. */
const giFor = {
  full: () => 0,
  four: () => 1,
  three: (start: number) => (start >= 4 ? 2 : 1),
  two: (start: number) => 3 + Math.floor(start / 2),
  one: (start: number) => 7 + start,
};

function h100Mig(): Record<string, MigProfileInfo> {
  // 1g.10gb, 2g.20gb and 3g.40gb: SMs, engines, memory, BAR1 and idle FB use from capture_h100-mig.
  // 1g.20gb/4g.40gb/7g.80gb: the same slice arithmetic; not from a capture.
  const p = (
    name: string,
    computeSlices: number,
    memorySlices: number,
    starts: number[],
    gpuInstanceId: (s: number) => number,
    multiprocessors: number,
    engines: number,
    memoryMiB: number,
    bar1MiB: number,
    idleUsedMiB: number,
    ofas = 0
  ): MigProfileInfo => ({
    name,
    computeSlices,
    memorySlices,
    starts,
    gpuInstanceId,
    multiprocessors,
    copyEngines: engines,
    decoders: engines,
    encoders: 0,
    jpegs: engines,
    ofas,
    memoryMiB,
    bar1MiB,
    idleUsedMiB,
  });
  return {
    '1g.10gb': p('1g.10gb', 1, 1, [0, 1, 2, 3, 4, 5, 6], giFor.one, 16, 1, 9984, 6184, 9),
    '1g.20gb': p('1g.20gb', 1, 2, [0, 2, 4, 6], giFor.two, 16, 1, 20096, 12369, 17),
    '2g.20gb': p('2g.20gb', 2, 2, [0, 2, 4], giFor.two, 32, 2, 20096, 12369, 17),
    '3g.40gb': p('3g.40gb', 3, 4, [4, 0], giFor.three, 60, 3, 40448, 24739, 37),
    '4g.40gb': p('4g.40gb', 4, 4, [0], giFor.four, 64, 4, 40448, 24739, 37),
    '7g.80gb': p('7g.80gb', 7, 8, [0], giFor.full, 132, 7, 81280, 49478, 75, 1),
  };
}

function h200Mig(): Record<string, MigProfileInfo> {
  // 1g.18gb, 2g.35gb, 3g.71gb from capture_h200-mig-shared-gi; the others by the same arithmetic.
  const base = h100Mig();
  const rename = (from: string, name: string, memoryMiB: number, bar1MiB: number): MigProfileInfo => {
    const src = base[from];
    if (!src) throw new Error(`catalog: no ${from}`);
    return { ...src, name, memoryMiB, bar1MiB };
  };
  return {
    '1g.18gb': rename('1g.10gb', '1g.18gb', 16384, 14809),
    '1g.35gb': rename('1g.20gb', '1g.35gb', 33280, 29618),
    '2g.35gb': rename('2g.20gb', '2g.35gb', 33280, 29618),
    '3g.71gb': rename('3g.40gb', '3g.71gb', 71424, 59237),
    '4g.71gb': rename('4g.40gb', '4g.71gb', 71424, 59237),
    '7g.141gb': rename('7g.80gb', '7g.141gb', 142848, 118474),
  };
}

function vgpuTypes(prefix: string, sizesGiB: number[], firstTypeId: number): Record<string, VgpuTypeInfo> {
  // Time-sliced C-series (compute) profiles. Type ids are not from a capture: they only need to be stable.
  const out: Record<string, VgpuTypeInfo> = {};
  sizesGiB.forEach((g, i) => {
    out[`NVIDIA ${prefix}-${g}C`] = { typeId: firstTypeId + i, framebufferMiB: g * 1024 };
  });
  return out;
}

const H100_SXM5_80GB: GpuModelInfo = {
  key: 'H100-SXM5-80GB',
  name: 'NVIDIA H100 80GB HBM3',
  brand: 'NVIDIA',
  architecture: 'Hopper',
  memoryMiB: 81559,
  reservedMiB: 479,
  bar1MiB: 131072,
  powerLimitW: 700,
  minPowerLimitW: 200,
  idlePowerW: 70,
  maxClocks: { graphics: 1980, sm: 1980, mem: 2619, video: 1545 },
  idleClocks: { graphics: 345, sm: 345, mem: 2619, video: 765 },
  idlePstate: 'P0',
  graphicsClockStep: 15,
  pciDeviceId: '233010DE',
  pciSubSystemId: '16C110DE',
  vbiosVersion: '96.00.A5.00.01',
  boardPartNumber: '692-2G520-0200-000',
  gpuPartNumber: '2330-885-A1',
  inforom: { image: 'G520.0200.00.05', oem: '2.1', ecc: '7.16' },
  computeCap: '9.0',
  pcieGen: 5,
  temps: { idleC: 38, loadRiseC: 28, shutdownC: 92, slowdownC: 89, maxOperatingC: 87, memoryMaxC: 95 },
  memoryTemp: true,
  ecc: true,
  fan: false,
  fabric: true,
  migSlots: 8,
  migComputeSlices: 7,
  migProfiles: h100Mig(),
  vgpuTypes: vgpuTypes('H100XM', [4, 8, 10, 16, 20, 40, 80], 1046),
};

const H200_SXM_141GB: GpuModelInfo = {
  ...H100_SXM5_80GB,
  key: 'H200-SXM-141GB',
  name: 'NVIDIA H200',
  memoryMiB: 143771,
  reservedMiB: 614,
  maxClocks: { graphics: 1980, sm: 1980, mem: 3201, video: 1545 },
  idleClocks: { graphics: 345, sm: 345, mem: 3201, video: 765 },
  pciDeviceId: '233510DE',
  pciSubSystemId: '18BE10DE',
  vbiosVersion: '96.00.74.00.01',
  boardPartNumber: '692-2G520-0280-000',
  gpuPartNumber: '2335-885-A1',
  migProfiles: h200Mig(),
  vgpuTypes: vgpuTypes('H200X', [4, 8, 16, 18, 35, 71, 141], 1097),
};

const L40S: GpuModelInfo = {
  key: 'L40S',
  name: 'NVIDIA L40S',
  brand: 'NVIDIA',
  architecture: 'Ada Lovelace',
  memoryMiB: 46068,
  reservedMiB: 518,
  bar1MiB: 65536,
  powerLimitW: 350,
  minPowerLimitW: 100,
  idlePowerW: 33,
  maxClocks: { graphics: 2520, sm: 2520, mem: 9001, video: 1965 },
  idleClocks: { graphics: 210, sm: 210, mem: 405, video: 555 },
  idlePstate: 'P8',
  graphicsClockStep: 15,
  pciDeviceId: '26B910DE',
  pciSubSystemId: '185110DE',
  vbiosVersion: '95.02.66.00.02',
  boardPartNumber: '900-2G133-0080-000',
  gpuPartNumber: '26B9-896-A1',
  inforom: { image: 'G133.0242.00.03', oem: '2.1', ecc: '6.16' },
  computeCap: '8.9',
  pcieGen: 4,
  temps: { idleC: 30, loadRiseC: 42, shutdownC: 95, slowdownC: 92, maxOperatingC: 89, memoryMaxC: null },
  memoryTemp: false,
  ecc: true,
  fan: false,
  fabric: false,
  migSlots: 0,
  migComputeSlices: 0,
  migProfiles: {},
  vgpuTypes: vgpuTypes('L40S', [4, 6, 8, 12, 16, 24, 48], 1157),
};

export const GPU_MODELS: Record<string, GpuModelInfo> = {
  [H100_SXM5_80GB.key]: H100_SXM5_80GB,
  [H200_SXM_141GB.key]: H200_SXM_141GB,
  [L40S.key]: L40S,
};

/** PCI bus ids of an 8-GPU HGX H100 board, used for GPU positions 0..7 unless a scenario gives `pciBusId`. */
export const HGX_BUS_IDS = [
  '00000000:18:00.0',
  '00000000:2A:00.0',
  '00000000:3A:00.0',
  '00000000:5D:00.0',
  '00000000:9A:00.0',
  '00000000:AB:00.0',
  '00000000:BA:00.0',
  '00000000:DB:00.0',
];

export function defaultBusId(position: number): string {
  return (
    HGX_BUS_IDS[position] ?? `00000000:${(0xe0 + position).toString(16).toUpperCase().padStart(2, '0').slice(-2)}:00.0`
  );
}
