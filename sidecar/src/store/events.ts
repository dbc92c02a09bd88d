// Events found by comparing two consecutive GPU readings: a GPU gone or back, a MIG layout changed,
// a vGPU attached or detached. Only called with fresh readings: a failed nvidia-smi is not a lost GPU.
import type { FleetEvent, Gpu } from '../model.js';

function migLayout(g: Gpu): string {
  if (g.mig.mode !== 'enabled') return g.mig.mode;
  return g.mig.instances
    .map((m) => `${m.profile ?? '?'}@${m.gpuInstanceId}/${m.computeInstanceId}`)
    .sort()
    .join(',');
}

function gpuLabel(g: Pick<Gpu, 'index' | 'name' | 'uuid'>): string {
  return g.index === null ? `${g.name} (${g.uuid})` : `GPU ${g.index} ${g.name} (${g.uuid})`;
}

export function diffGpus(host: string, time: string, prev: Gpu[], cur: Gpu[]): FleetEvent[] {
  const events: FleetEvent[] = [];
  const ev = (kind: FleetEvent['kind'], subject: string, text: string) => events.push({ time, host, kind, subject, text });
  const before = new Map(prev.map((g) => [g.uuid, g]));
  const now = new Map(cur.map((g) => [g.uuid, g]));
  for (const [uuid, g] of before) {
    if (!now.has(uuid)) ev('gpu-lost', uuid, `${gpuLabel(g)} is no longer reported by nvidia-smi`);
  }
  for (const [uuid, g] of now) {
    const p = before.get(uuid);
    if (!p) continue;
    const a = migLayout(p);
    const b = migLayout(g);
    if (a !== b) {
      ev('mig-reconfigured', uuid, `${gpuLabel(g)} MIG layout changed: ${a || 'none'} → ${b || 'none'}`);
    }
    const pv = new Map(p.vgpu.instances.map((v) => [v.id, v]));
    const nv = new Map(g.vgpu.instances.map((v) => [v.id, v]));
    for (const [id, v] of nv) {
      if (!pv.has(id)) {
        ev('vgpu-attached', id, `vGPU ${id} (${v.type ?? 'unknown type'}) attached to VM ${v.vmName ?? v.vmId ?? '?'} on ${gpuLabel(g)}`);
      }
    }
    for (const [id, v] of pv) {
      if (!nv.has(id)) {
        ev('vgpu-detached', id, `vGPU ${id} (${v.type ?? 'unknown type'}) of VM ${v.vmName ?? v.vmId ?? '?'} detached from ${gpuLabel(g)}`);
      }
    }
  }
  return events;
}

/** A GPU seen again after being lost. */
export function gpuBackEvent(host: string, time: string, g: Gpu, lostSince: string): FleetEvent {
  return { time, host, kind: 'gpu-back', subject: g.uuid, text: `${gpuLabel(g)} is back (lost since ${lostSince})` };
}
