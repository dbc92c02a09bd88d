import type { TopoNode } from './model';

/**
 * A GPU's state in the sidecar's capacity model (GET /api/v1/capacity, gpufleet_gpu_capacity_state): what the
 * chip beside a GPU's title says. Read from the node's `capacityState` detail, sent by the sidecar's frames or
 * built from the Prometheus family; an unknown or missing value draws no chip. `capacitySince` is ms since the
 * epoch on both paths; `capacityReason` (the capacity answer's reason) comes from the sidecar's frames only.
 */
export const CAPACITY_STATES = ['free', 'idle-held', 'busy', 'unavailable'] as const;
export type CapacityState = (typeof CAPACITY_STATES)[number];

export const CAPACITY_TEXT: Record<CapacityState, string> = {
  free: 'Free: no engine, compute process or vGPU on it, MIG off',
  'idle-held': 'Idle-held: an engine or process holds it, but nothing has run on it for a while',
  busy: 'Busy: in use',
  unavailable: 'Unavailable: lost, or a recent Xid error',
};

export function capacityStateOf(node: TopoNode): CapacityState | undefined {
  const s = node.detail.capacityState;
  return typeof s === 'string' && (CAPACITY_STATES as readonly string[]).includes(s) ? (s as CapacityState) : undefined;
}
