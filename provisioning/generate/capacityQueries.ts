// PromQL over the capacity families (gpufleet_gpu_capacity_state and friends, docs/ARCHITECTURE.md) that the
// alert rules and the dashboards share.

/**
 * GPUs in a capacity state matching `stateRegex`, valued by the seconds since they entered it, with `state` and
 * `gpu_index`: one series per engine on the GPU (labels engine_id, model) or, when no engine runs there, one
 * for the GPU (a training job, a notebook); `holder` names either ("engine ID (model)"). `sel` narrows every
 * GPU selector (`host=~"$host"`), empty for all; `engineSel` the one for gpufleet_engine_info, which has no GPU
 * labels (default: `sel`).
 */
export function gpusInStateExpr(stateRegex: string, sel = '', engineSel = sel): string {
  const s = sel ? `${sel}, ` : '';
  const inState =
    `(time() - gpufleet_gpu_capacity_state_since_timestamp_seconds{${sel}})\n` +
    `  * on (host, gpu_uuid) group_left (state) (gpufleet_gpu_capacity_state{${s}state=~"${stateRegex}"} == 1)`;
  return (
    'label_replace(label_join(\n' +
    `  ${inState}\n` +
    '  * on (host, gpu_uuid) group_right (gpu_index, state)\n' +
    `  (max without (rank) (gpufleet_engine_gpu{${sel}}) * on (host, engine_id) group_left (model) gpufleet_engine_info{${engineSel}}),\n` +
    '  "holder", " (", "engine_id", "model"),\n' +
    '  "holder", "engine $1)", "holder", "(.+)"\n' +
    ')\n' +
    'or on (host, gpu_uuid)\n' +
    `label_replace(\n  ${inState},\n  "holder", "a process that is no engine", "", ""\n)`
  );
}
