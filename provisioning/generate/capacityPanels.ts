// Capacity sections: the fleet overview's (per host group, from the fleet recording rules, and the idle-held
// GPUs with their engine and for how long) and the GPU detail's (each GPU's state and its MIG profiles).
import { gpusInStateExpr } from './capacityQueries.js';
import { promTable, row, stat, timeseries, type Unplaced } from './panels.js';

const H = 'host=~"$host"';
// Equality on the raw value: with All or several hosts it matches nothing (as the topology's host level).
const HOST_ONE = 'host="${host:raw}"';

const STATES = 'free: no engine, compute process or vGPU, MIG off; idle-held: an engine or process holds it but nothing ran for the ' +
  'sidecar\'s --idle-held-after; busy: in use; unavailable: lost, or an Xid within --unavailable-after-xid.';

export function fleetCapacityRow(): Unplaced[] {
  const perGroup = (rule: string, extra = '') => `sum by ($group${extra}) (${rule}{${H}})`;
  return [
    row('Capacity'),
    stat('Idle-held GPUs', `GPUs held by an engine or process that has done nothing for a while (the sidecar's --idle-held-after). ${STATES}`, {
      expr: 'sum(gpufleet:host_gpus_idle_held:count{host=~"$host"}) or vector(0)',
    }, { size: { w: 4, h: 4 }, thresholds: [[null, 'green'], [1, 'orange']] }),
    stat('Models with every engine busy', 'Models whose every engine on a host is busy (KV cache above --busy-threshold): a router has nowhere to send them there.', {
      expr: 'sum(gpufleet:host_models_all_busy:count{host=~"$host"}) or vector(0)',
    }, { size: { w: 4, h: 4 }, thresholds: [[null, 'green'], [1, 'red']] }),
    promTable('Free capacity per $group', 'Per host group: free whole GPUs, idle-held GPUs (held but doing nothing: capacity to reclaim) and models with every engine busy.', [
      { expr: perGroup('gpufleet:host_gpus_free:count') },
      { expr: perGroup('gpufleet:host_gpus_idle_held:count') },
      { expr: perGroup('gpufleet:host_models_all_busy:count') },
    ], {
      size: { w: 8, h: 8 },
      rename: { 'Value #A': 'Free GPUs', 'Value #B': 'Idle-held GPUs', 'Value #C': 'Models all busy' },
    }),
    promTable('Free MIG slices by profile per $group', 'MIG instances no compute process or engine rank uses, per profile and host group: where a workload of that profile fits now.', [
      { expr: perGroup('gpufleet:host_mig_profile_free:count', ', profile') },
    ], { size: { w: 8, h: 8 }, rename: { Value: 'Free slices' } }),
    promTable(
      'Idle-held GPUs (one host: and busy ones)',
      'Every idle-held GPU of the selected hosts with the engine holding it and how long it has been in that state; with one host ' +
        `selected, its busy GPUs too. ${STATES}`,
      // Fleet-wide only the idle-held ones: a 1,000-host fleet's busy GPUs are no table for a browser.
      [{ expr: `(${gpusInStateExpr('idle-held', H)})\nor\n(${gpusInStateExpr('busy', HOST_ONE)})` }],
      {
        size: { w: 24, h: 8 },
        exclude: ['rank'],
        rename: { Value: 'In this state for', holder: 'Held by' },
        unit: { 'In this state for': 's' },
      },
    ),
    promTable('Models and their busy engines', 'Engines up serving each model on each host, and how many of them are busy; every engine busy means a router has nowhere to send the model there.', [
      { expr: `gpufleet_model_engines{${H}, model=~"$model"}` },
      { expr: `gpufleet_model_engines_busy{${H}, model=~"$model"}` },
    ], { size: { w: 12, h: 8 }, rename: { 'Value #A': 'Engines', 'Value #B': 'Busy' } }),
    timeseries('Idle-held GPUs and all-busy models per $group', 'Over time: GPUs held but idle, and models with every engine busy.', [
      { expr: perGroup('gpufleet:host_gpus_idle_held:count'), legend: '{{$group}} idle-held GPUs' },
      { expr: perGroup('gpufleet:host_models_all_busy:count'), legend: '{{$group}} all-busy models' },
    ], { unit: 'short', min: 0, size: { w: 12, h: 8 } }),
  ];
}

/** `G`: the GPU detail's GPU selector; `hostSel` its host selector (for the engines' info). */
export function gpuCapacityRow(G: string, hostSel: string): Unplaced[] {
  return [
    row('Capacity'),
    promTable('Capacity state', `Each GPU's capacity state and how long it has been in it, with the engines on it. ${STATES}`, [
      { expr: gpusInStateExpr('.+', G, hostSel) },
    ], {
      size: { w: 16, h: 8 },
      exclude: ['rank'],
      rename: { Value: 'In this state for', holder: 'Held by' },
      unit: { 'In this state for': 's' },
    }),
    promTable('MIG profiles', 'MIG instances per profile on these GPUs: free (no compute process or engine rank) and used.', [
      { expr: `max by (host, gpu_uuid, profile) (gpufleet_mig_profile_instances{${G}, state="free"})` },
      { expr: `max by (host, gpu_uuid, profile) (gpufleet_mig_profile_instances{${G}, state="used"})` },
    ], { size: { w: 8, h: 8 }, rename: { 'Value #A': 'Free', 'Value #B': 'Used' } }),
  ];
}
