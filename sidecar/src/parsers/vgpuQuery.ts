// `nvidia-smi vgpu -q`: the vGPUs attached to running VMs, per physical GPU, on a vGPU host.
//
//   GPU 00000001:C8:00.0
//       Active vGPUs                          : 2
//       vGPU ID                               : 3251637554
//           VM UUID                           : 083bc63f-0a3c-4647-9bb4-27f905b7d7bb
//           VM Name                           : instance-00000004
//           vGPU Name                         : NVIDIA RTX Pro 6000 Blackwell DC-3Q
//           ...
//
// Fields differ by driver (525 prints "MDEV UUID", "Accounting Mode", "Gpu" utilization; 580
// prints "Placement ID" and "GPU"); unknown keys are ignored. Text around the output (a shell
// session, an `nvidia-smi -q` header that also starts with "GPU <bus id>") does no harm: only GPU
// sections that carry vGPU fields count.

import type { VgpuInstance } from '../model.js';
import { child, childrenOf, parseSmiText, valueAt, type SmiTextNode } from './smiText.js';
import { naToNull, normalizePciBusId, parseIntOrNull, parseMiB, parsePercent } from './values.js';

export interface VgpuHostGpu {
  /** The physical GPU's PCI bus id as printed ("00000001:C8:00.0"). */
  pciBusId: string;
  /** "Active vGPUs"; null when not printed. */
  activeVgpus: number | null;
  instances: VgpuInstance[];
}

const SOURCE = 'nvidia-smi vgpu -q';
const GPU_LINE = /^GPU\s+((?:[0-9A-Fa-f]{4,8}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])$/;

/** Parses `nvidia-smi vgpu -q` output. Never throws on odd content; only on non-text/oversize input. */
export function parseVgpuQuery(text: string): VgpuHostGpu[] {
  const roots = parseSmiText(text, { source: SOURCE });
  const out: VgpuHostGpu[] = [];
  const seen = new Map<string, VgpuHostGpu>();
  for (const root of roots) {
    if (root.value !== null) continue;
    const m = GPU_LINE.exec(root.key);
    if (!m?.[1]) continue;
    const active = child(root, 'Active vGPUs');
    const vgpuNodes = childrenOf(root, 'vGPU ID');
    // An `nvidia-smi -q` GPU section (Product Name, ...) has neither: not ours.
    if (!active && vgpuNodes.length === 0) continue;

    const gpu: VgpuHostGpu = {
      pciBusId: m[1],
      activeVgpus: parseIntOrNull(active?.value),
      instances: vgpuNodes.map(toInstance).filter((v): v is VgpuInstance => v !== null),
    };
    const key = normalizePciBusId(gpu.pciBusId);
    const prev = seen.get(key);
    if (prev) {
      // The same GPU printed twice (two captures in one text): the later listing wins.
      Object.assign(prev, gpu);
    } else {
      seen.set(key, gpu);
      out.push(gpu);
    }
  }
  return out;
}

function toInstance(node: SmiTextNode): VgpuInstance | null {
  const id = naToNull(node.value);
  if (id === null) return null;
  const field = (...keys: string[]): string | null => naToNull(valueAt(node, keys));
  const license = licenseStatus(valueAt(node, 'License Status'));
  return {
    id,
    // 525 prints an empty "vGPU UUID" and the mediated device's "MDEV UUID".
    uuid: field('vGPU UUID') ?? field('MDEV UUID'),
    vmId: field('VM UUID') ?? field('VM ID'),
    vmName: field('VM Name'),
    type: field('vGPU Name'),
    typeId: field('vGPU Type'),
    guestDriverVersion: field('Guest Driver Version'),
    licenseStatus: license,
    gpuInstanceId: parseIntOrNull(valueAt(node, 'GPU Instance ID')),
    framebuffer: {
      totalBytes: parseMiB(valueAt(node, 'FB Memory Usage', 'Total')),
      usedBytes: parseMiB(valueAt(node, 'FB Memory Usage', 'Used')),
    },
    utilization: {
      gpu: parsePercent(valueAt(node, 'Utilization', ['GPU', 'Gpu'])),
      memory: parsePercent(valueAt(node, 'Utilization', 'Memory')),
      encoder: parsePercent(valueAt(node, 'Utilization', 'Encoder')),
      decoder: parsePercent(valueAt(node, 'Utilization', 'Decoder')),
    },
    active: true,
    licensed: licensedFrom(license),
  };
}

/** "Licensed (Expiry: 2025-1-2 3:4:5 GMT)" → "Licensed"; "N/A (Expiry: N/A)" → null. */
function licenseStatus(raw: string | null | undefined): string | null {
  if (typeof raw !== 'string') return null;
  return naToNull(raw.replace(/\s*\(Expiry:[^)]*\)\s*$/i, ''));
}

function licensedFrom(status: string | null): boolean | null {
  if (status === null) return null;
  const s = status.toLowerCase();
  if (s.startsWith('unlicensed')) return false;
  if (s.startsWith('licensed')) return true;
  return null;
}
