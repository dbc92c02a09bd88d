// The fleet dashboard's topology queries against any Prometheus API (Prometheus, VictoriaMetrics): the per-GPU
// and per-engine ones hold several families each, so the panel reads what each row is from its `__name__`.
// Checks that the store keeps that name through the queries' `or` and `and`, and that every family the store
// holds comes back: the tiles' at the fleet level, every one of a host's at that host's level.
import { MEANING_LIST, meaningOf, rowKind } from '../../src/panels/topology/prometheus/contract.js';
import { allSelected, interpolate, type Query, type Vars } from './dashboardQueries.js';

const HOST_FAMILIES = MEANING_LIST.filter((m) => m.kind === 'host').map((m) => m.metric);
const ALL_FAMILIES = MEANING_LIST.map((m) => m.metric);

/** The families of `names` the store holds for the hosts `hostMatcher` selects. */
async function stored(query: Query, names: string[], hostMatcher: string): Promise<string[]> {
  const rows = await query(`count by (__name__) ({__name__=~"${names.join('|')}", ${hostMatcher}})`);
  return rows.map((s) => s.metric.__name__ as string).sort();
}

/**
 * What goes wrong at the fleet level (all hosts) and at each host's level: rows without a contract `__name__`,
 * rows of the wrong kind or host (no per-GPU or per-engine row with all hosts), and families the store has that
 * the queries did not bring back.
 */
export async function topologyNameProblems(d: any, panel: any, query: Query, hosts: string[]): Promise<string[]> {
  const problems: string[] = [];
  const run = async (vars: Vars, level: string, expectHost?: string) => {
    const names = new Set<string>();
    for (const t of panel.targets) {
      for (const s of await query(interpolate(t.expr, vars))) {
        // The tiles' aggregations drop __name__: their refId names the family, as the panel reads it.
        const meaning = meaningOf(s.metric.__name__ ?? '', t.refId);
        const name = meaning?.metric ?? '';
        const kind = rowKind(s.metric as Record<string, string>);
        if (!meaning) {
          problems.push(`${level} [${t.refId}]: a row neither its __name__ nor its refId gives a meaning (${JSON.stringify(s.metric)})`);
        } else if (meaning.kind !== kind || (expectHost === undefined && kind !== 'host')) {
          problems.push(`${level} [${t.refId}]: ${name} on a row labelled as ${kind}`);
        } else if (expectHost !== undefined && s.metric.host !== expectHost) {
          problems.push(`${level} [${t.refId}]: a row of host ${s.metric.host}`);
        } else {
          names.add(name);
        }
      }
    }
    return [...names].sort();
  };
  const all = allSelected(d);
  const fleet = await run(all, 'all hosts');
  const want = await stored(query, HOST_FAMILIES, 'host=~".+"');
  if (JSON.stringify(fleet) !== JSON.stringify(want)) problems.push(`all hosts: families ${fleet.join(', ')}; the store has ${want.join(', ')}`);
  for (const host of hosts) {
    const got = await run({ ...all, host }, `host ${host}`, host);
    const has = await stored(query, ALL_FAMILIES, `host="${host}"`);
    if (JSON.stringify(got) !== JSON.stringify(has)) problems.push(`host ${host}: families ${got.join(', ')}; the store has ${has.join(', ')}`);
  }
  return problems;
}

/** A host with MIG instances, one with vGPU instances and one with engines on whole GPUs (the first of each by name). */
export async function typicalHosts(query: Query): Promise<string[]> {
  const first = async (q: string) => (await query(`count by (host) (${q})`)).map((s) => s.metric.host as string).sort()[0];
  const picked = [
    await first('gpufleet_mig_instance_info'),
    await first('gpufleet_vgpu_instance_info'),
    await first('gpufleet_engine_gpu unless on (host) gpufleet_engine_mig'),
  ];
  return [...new Set(picked.filter((h): h is string => Boolean(h)))];
}
