// The provisioning files as Grafana would read them: generated ones match their generator, every reference
// (data source uids, plugin ids, dashboard links and variables) points at something that exists, and the
// alert rules use the keys of a real Grafana rule export (tests/fixtures/grafana/provisioning).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ALERT_RULES } from '../../provisioning/generate/alertRules.js';
import { MEANING_LIST, MEANINGS } from '../../src/panels/topology/prometheus/contract.js';
import { renderAll } from '../../provisioning/generate/render.js';
import { ROOT } from './harness.js';

const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const yamlFile = (rel: string) => parse(read(rel));

const DASHBOARD_DIR = 'provisioning/dashboards/gpufleet';
const dashboards = readdirSync(join(ROOT, DASHBOARD_DIR)).map((f) => JSON.parse(read(`${DASHBOARD_DIR}/${f}`)));
const datasources = yamlFile('provisioning/datasources/gpufleet.yaml').datasources as any[];
const dsUids = new Set(datasources.map((d) => d.uid));

/** Every key path of a YAML/JSON value, arrays folded (`groups[].rules[].uid`). */
function keyPaths(v: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(v)) {
    for (const x of v) for (const k of keyPaths(x, `${prefix}[]`)) out.add(k);
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.add(p);
      for (const kk of keyPaths(x, p)) out.add(kk);
    }
  }
  return out;
}

describe('generated provisioning files', () => {
  it('are what the generator makes (edit provisioning/generate/, then npm run provisioning)', () => {
    const files = renderAll();
    expect(files.size).toBeGreaterThanOrEqual(5);
    for (const [rel, text] of files) expect({ file: rel, text: read(rel) }).toEqual({ file: rel, text });
  });
});

describe('data sources, app and dashboard provider', () => {
  it('provision the Prometheus and gpufleet data sources with fixed uids, through the data proxy', () => {
    const plugin = JSON.parse(read('src/datasource/plugin.json'));
    expect(datasources.map((d) => [d.uid, d.type])).toEqual([
      ['gpufleet-prometheus', 'prometheus'],
      ['gpufleet-sidecar', plugin.id],
    ]);
    for (const d of datasources) expect(d.access).toBe('proxy');
  });

  it('enable the app by the id of its plugin.json', () => {
    const app = JSON.parse(read('plugin.json'));
    expect(yamlFile('provisioning/plugins/gpufleet.yaml').apps).toEqual([expect.objectContaining({ type: app.id, disabled: false })]);
  });

  it('use the keys of Grafana\'s own provisioning samples', () => {
    const sample = read('tests/fixtures/grafana/provisioning/datasources/conf-sample.yaml');
    // The sample predates `uid` (a data source's fixed id) and shows no Prometheus jsonData.
    const beyondSample = ['uid', 'timeInterval', 'manageAlerts', 'editable'];
    for (const k of keyPaths(yamlFile('provisioning/datasources/gpufleet.yaml'))) {
      const leaf = k.split('.').pop()?.replace('[]', '') as string;
      expect({ key: k, inSample: sample.includes(`${leaf}:`) || beyondSample.includes(leaf) }).toEqual({ key: k, inSample: true });
    }
    const provider = yamlFile('provisioning/dashboards/gpufleet.yaml').providers[0];
    const sampleProvider = yamlFile('tests/fixtures/grafana/provisioning/dashboards/devenv-dashboards.yaml').providers[0];
    for (const k of ['name', 'folder', 'type', 'options']) expect(Object.keys(sampleProvider)).toContain(k);
    expect(provider.type).toBe(sampleProvider.type);
    // The provider reads the folder the compose file mounts the dashboards into.
    expect(provider.options.path).toBe('/etc/grafana/provisioning/dashboards/gpufleet');
  });
});

describe('dashboards', () => {
  it('are the three of the design, each with a unique uid and the shared tag', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(['gpufleet-engine', 'gpufleet-fleet', 'gpufleet-gpu']);
    for (const d of dashboards) expect(d.tags).toContain('gpufleet');
  });

  it('name only provisioned data sources and existing plugin ids', () => {
    const panelIds = new Set(['timeseries', 'stat', 'table', 'row', 'alertlist', JSON.parse(read('src/panels/topology/plugin.json')).id]);
    for (const d of dashboards) {
      for (const p of d.panels) {
        expect(panelIds.has(p.type)).toBe(true);
        for (const ds of [p.datasource, ...(p.targets ?? []).map((t: any) => t.datasource)].filter(Boolean)) {
          expect({ panel: p.title, uid: ds.uid, known: dsUids.has(ds.uid) }).toEqual({ panel: p.title, uid: ds.uid, known: true });
        }
      }
      for (const v of d.templating.list.filter((x: any) => x.type === 'query')) expect(dsUids.has(v.datasource.uid)).toBe(true);
      for (const a of d.annotations.list.filter((x: any) => !x.builtIn)) expect(dsUids.has(a.datasource.uid)).toBe(true);
    }
  });

  it('lay panels out inside the 24-column grid without overlaps', () => {
    for (const d of dashboards) {
      const cells = new Set<string>();
      for (const p of d.panels) {
        const g = p.gridPos;
        expect(g.x + g.w).toBeLessThanOrEqual(24);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            expect(cells.has(`${x},${y}`)).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
      }
    }
  });

  it('link to each other carrying the variables the target dashboard has', () => {
    const byUid = new Map(dashboards.map((d) => [d.uid, d]));
    let links = 0;
    for (const d of dashboards) {
      expect(d.links[0]).toMatchObject({ type: 'dashboards', tags: ['gpufleet'], includeVars: true, keepTime: true });
      for (const p of d.panels) {
        for (const l of p.fieldConfig?.defaults?.links ?? []) {
          const m = /^\/d\/([^/]+)\/[^?]+\?(.*)$/.exec(l.url);
          expect(m).not.toBeNull();
          const target = byUid.get(m?.[1] as string);
          expect(target).toBeDefined();
          const vars = [...(m?.[2] as string).matchAll(/var-([a-z]+)=/g)].map((x) => x[1]);
          expect(vars.sort()).toEqual(target.templating.list.map((v: any) => v.name).sort());
          links++;
        }
      }
    }
    expect(links).toBeGreaterThanOrEqual(8);
  });
});

/** Every PromQL expression of the dashboards (panel targets, variables) and the rule files, with where it is. */
function allExpressions(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const d of dashboards) {
    for (const p of d.panels) for (const t of p.targets ?? []) if (t.expr) out.push([`${d.uid} / ${p.title} [${t.refId}]`, t.expr]);
    for (const v of d.templating.list) if (v.type === 'query') out.push([`${d.uid} / $${v.name}`, v.definition]);
  }
  for (const f of ['prometheus/rules/gpufleet.rules.yml', 'prometheus/rules/gpufleet-fleet.rules.yml', 'prometheus/rules/gpufleet-slo.rules.yml']) {
    for (const r of yamlFile(f).groups.flatMap((g: any) => g.rules)) out.push([`${f} / ${r.alert ?? r.record}`, r.expr]);
  }
  return out;
}

describe('queries at fleet scale', () => {
  // Labels that name an object. Data labels (name, model, profile, vm_name, …) can change on a live series and
  // differ between two series of one object during staleness, so a join on them breaks.
  const IDENTIFYING = new Set(['host', 'gpu_uuid', 'mig_uuid', 'vgpu_id', 'engine_id']);
  // The fleet topology's level switch: a matcher on this label, which no series has.
  const FILTER_SWITCH = 'gpufleet_filter';

  it('join on identifying labels only', () => {
    const bad: string[] = [];
    for (const [where, expr] of allExpressions()) {
      for (const m of expr.matchAll(/\b(?:on|ignoring)\s*\(([^)]*)\)/g)) {
        const labels = (m[1] as string).split(',').map((x) => x.trim()).filter(Boolean);
        if (m[0].startsWith('ignoring') || labels.some((l) => !IDENTIFYING.has(l))) bad.push(`${where}: ${m[0]}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('follow the family contract: MIG edges from gpufleet_engine_mig, never mig_uuid on gpufleet_engine_gpu', () => {
    const all = allExpressions();
    expect(all.filter(([, e]) => /gpufleet_engine_gpu\b[^;]*mig_uuid/.test(e.replace(/gpufleet_engine_mig[^\n]*/g, ''))).map(([w]) => w)).toEqual([]);
    expect(all.some(([, e]) => /gpufleet_engine_mig\b/.test(e))).toBe(true);
  });

  it('give every dashboard a host variable', () => {
    for (const d of dashboards) expect({ uid: d.uid, host: d.templating.list.some((v: any) => v.name === 'host' && v.multi) }).toEqual({ uid: d.uid, host: true });
  });
});

describe('the fleet dashboard', () => {
  const fleet = dashboards.find((d) => d.uid === 'gpufleet-fleet');
  const fleetRecords = yamlFile('prometheus/rules/gpufleet-fleet.rules.yml').groups.flatMap((g: any) => g.rules.map((r: any) => r.record));

  it('reads Prometheus only: no panel, target, variable or annotation names the sidecar data source', () => {
    const text = JSON.stringify(fleet);
    expect(text).not.toContain('gpufleet-sidecar');
    expect(text).not.toContain('gpufleet-sidecar-datasource');
  });

  it('has the grouping label, host (from gpufleet_host_info), model and engine variables; model and engine open at All', () => {
    const vars = Object.fromEntries(fleet.templating.list.map((v: any) => [v.name, v]));
    expect(vars.group.type).toBe('custom');
    expect(vars.group.query.split(',')).toEqual(expect.arrayContaining(['cluster', 'rack', 'datacenter']));
    expect(vars.host).toMatchObject({ type: 'query', multi: true, includeAll: true });
    expect(vars.host.definition).toMatch(/gpufleet_host_info/);
    expect(vars.model.definition).toMatch(/gpufleet_engine_info.*model/);
    expect(vars.engine.definition).toMatch(/gpufleet_engine_info.*engine_id/);
    // The panel shows host tiles only while its filter variables are at All.
    for (const name of ['model', 'engine']) {
      expect({ name, ...vars[name] }).toMatchObject({ name, includeAll: true, allValue: '.*', current: { text: 'All', value: '$__all' } });
    }
  });

  it('shows every fleet recording rule: the per-host load and counts in the host table, capacity in its row', () => {
    const table = fleet.panels.find((p: any) => p.type === 'table' && p.title === 'Hosts');
    const used = table.targets.map((t: any) => /^(gpufleet:[\w:]+)\{/.exec(t.expr)?.[1]);
    // The capacity rules (idle-held GPUs, all-busy models, free MIG slices per profile) have their own row.
    const capacity = ['gpufleet:host_gpus_idle_held:count', 'gpufleet:host_models_all_busy:count', 'gpufleet:host_mig_profile_free:count'];
    expect([...used].sort()).toEqual([...fleetRecords].filter((r) => !capacity.includes(r)).sort());
    const everywhere = JSON.stringify(fleet.panels);
    for (const rule of fleetRecords) expect({ rule, shown: everywhere.includes(`${rule}{`) }).toEqual({ rule, shown: true });
  });

  const topology = fleet.panels.find((p: any) => p.type === JSON.parse(read('src/panels/topology/plugin.json')).id);
  // A query's vector selectors: the families each selects by name (`name{…}` or `{__name__=~"a|b", …}`) and its matchers.
  const selectorsOf = (expr: string) =>
    Array.from(expr.replaceAll('${host:raw}', 'HOST_RAW').matchAll(/(gpufleet[\w:]*)?\{([^}]*)\}/g), (s) => ({
      names: s[1] ? [s[1]] : (/__name__=~"([^"]*)"/.exec(s[2])?.[1].split('|') ?? []),
      matchers: s[2],
    }));
  // The families a query returns: its first selector's, whose rows are the answer (the others only narrow them).
  const returned = (expr: string) => selectorsOf(expr)[0]?.names ?? [];
  const JOIN_KEY: Record<string, string> = { gpu: 'gpu_uuid', vgpu: 'gpu_uuid', mig: 'mig_uuid', engine: 'engine_id', edge: 'engine_id' };
  const metricMeaning = new Map(MEANING_LIST.map((m) => [m.metric, m]));

  it('feeds the topology panel instant table queries whose selectors together return every family of the panel\'s contract, once', () => {
    expect(topology.datasource.type).toBe('prometheus');
    expect(topology.options).toMatchObject({ fleetGroupBy: '$group', hostVariable: 'host', filterVariables: 'model,engine' });
    for (const t of topology.targets) {
      expect({ refId: t.refId, instant: t.instant, range: t.range, format: t.format }).toEqual({ refId: t.refId, instant: true, range: false, format: 'table' });
      // One family: named by its refId (an aggregation drops __name__). Several: each row's __name__ says what it
      // is, and the refId claims no family (a row that lost its __name__ is named in a notice, not misread).
      const names = returned(t.expr);
      expect({ refId: t.refId, contract: MEANINGS.has(t.refId) }).toEqual({ refId: t.refId, contract: names.length === 1 });
      if (names.length === 1) expect({ refId: t.refId, family: names[0] }).toEqual({ refId: t.refId, family: MEANINGS.get(t.refId)!.metric });
    }
    const families = topology.targets.flatMap((t: any) => returned(t.expr));
    expect([...families].sort()).toEqual(MEANING_LIST.map((m) => m.metric).sort());
    // Fewer queries than families: each query costs about the same whatever it returns (README, "What the fleet figures wait on").
    expect(topology.targets.length).toBeLessThan(MEANING_LIST.length / 2);
  });

  it('levels of detail: host tiles for the selected hosts; per-GPU and per-engine rows only for one host or under a model / engine filter', () => {
    for (const t of topology.targets) {
      const kinds = new Set(returned(t.expr).map((n) => metricMeaning.get(n)!.kind));
      const names = returned(t.expr).join('|');
      if (kinds.has('host')) {
        // One row per selected host, with the grouping label the panel groups tiles by; no __name__ (a third more
        // bytes at the fleet level), so one family per query, named by its refId.
        expect({ refId: t.refId, kinds: [...kinds] }).toEqual({ refId: t.refId, kinds: ['host'] });
        expect({ refId: t.refId, expr: t.expr }).toEqual({ refId: t.refId, expr: expect.stringMatching(new RegExp(`^max by \\(host, \\$group[\\w, ]*\\) \\(${names}\\{host=~"\\$host"\\}\\)$`)) });
        continue;
      }
      // `{host="${host:raw}"}` (equality: All or several hosts match nothing) unless a filter is on, or the families
      // across the selected hosts narrowed to the filter's engines, and only while a filter is on. The switch is a
      // matcher in every selector (a join with a switch would still evaluate the other side fleet-wide). The
      // families of one query share the label they are narrowed on.
      const keys = new Set([...kinds].map((k) => JOIN_KEY[k]));
      expect({ refId: t.refId, keys: keys.size }).toEqual({ refId: t.refId, keys: 1 });
      const FILTER_SWITCH = 'gpufleet_filter';
      const [one, filtered] = t.expr.split(/ or \((?=\{__name__)/);
      expect({ refId: t.refId, one }).toEqual({
        refId: t.refId,
        one: `{__name__=~"${names}", host="\${host:raw}", ${FILTER_SWITCH}=~"(?:$model)(?:$engine)"}`,
      });
      expect({ refId: t.refId, filtered }).toEqual({
        refId: t.refId,
        filtered: expect.stringMatching(/^\{__name__=~"[\w:|]+", host=~"\$host", [^}]*\} and on \(host, (\w+)\) .*gpufleet_engine_info\{host=~"\$host", [^}]*model=~"\$model", engine_id=~"\$engine"\}.*\)$/),
      });
      expect({ refId: t.refId, on: /and on \(host, (\w+)\)/.exec(filtered)?.[1] }).toEqual({ refId: t.refId, on: [...keys][0] });
      expect({ refId: t.refId, same: returned(filtered).join('|') }).toEqual({ refId: t.refId, same: names });
      const unswitched = selectorsOf(filtered).filter((s) => !s.matchers.includes(`${FILTER_SWITCH}!~"(?:$model)(?:$engine)"`));
      expect({ refId: t.refId, unswitched }).toEqual({ refId: t.refId, unswitched: [] });
    }
  });
});

describe('alert rules', () => {
  const grafana = yamlFile('provisioning/alerting/gpufleet-rules.yaml');
  const prom = yamlFile('prometheus/rules/gpufleet.rules.yml');
  const grafanaRules = grafana.groups.flatMap((g: any) => g.rules);
  const promRules = prom.groups.flatMap((g: any) => g.rules);

  it('cover every alert the issue asks for, in both forms', () => {
    const titles = grafanaRules.map((r: any) => r.title);
    for (const want of [/temperature/i, /memory nearly full/i, /xid/i, /GPU lost/i, /vGPU instance saturated/i, /MIG instance memory/i,
      /engine down/i, /KV cache/i, /requests waiting/i, /time to first token/i, /collector failing/i,
      /every engine of a model busy/i, /idle-held for over an hour/i, /SLO attainment below target/i]) {
      expect(titles.some((t: string) => want.test(t))).toBe(true);
    }
    expect(promRules.map((r: any) => r.alert)).toEqual(ALERT_RULES.map((r) => r.alert));
    expect(grafanaRules.map((r: any) => r.uid)).toEqual(ALERT_RULES.map((r) => r.uid));
  });

  it('use the keys of a real Grafana rule export and a query → reduce → threshold chain on Prometheus', () => {
    const sample = yamlFile('tests/fixtures/grafana/provisioning/alerting/devenv-alert_rules.yaml');
    const known = keyPaths(sample);
    const ours = keyPaths(grafana);
    // Query A's model is a Prometheus query (expr, instant, range, datasource); the sample's is testdata.
    const extra = [...ours].filter((k) => !known.has(k) && !/data\[\]\.model\.(expr|instant|range|datasource(\.\w+)?)$/.test(k) && !/\.annotations\.\w+$/.test(k) && !/\.labels\.\w+$/.test(k));
    expect(extra).toEqual([]);
    for (const r of grafanaRules) {
      expect(r.data.map((q: any) => [q.refId, q.datasourceUid, q.model.type ?? 'query'])).toEqual([
        ['A', 'gpufleet-prometheus', 'query'],
        ['B', '__expr__', 'reduce'],
        ['C', '__expr__', 'threshold'],
      ]);
      expect(r.condition).toBe('C');
      expect(['OK', 'NoData', 'Alerting']).toContain(r.noDataState);
      expect(r.execErrState).toBe('Error');
      expect(r.for).toMatch(/^\d+[sm]$/);
      for (const a of ['summary', 'description', 'runbook']) expect(r.annotations[a].length).toBeGreaterThan(20);
    }
  });

  it('compare the same expression with the same threshold in both forms', () => {
    for (const spec of ALERT_RULES) {
      const g = grafanaRules.find((r: any) => r.uid === spec.uid);
      const p = promRules.find((r: any) => r.alert === spec.alert);
      const evaluator = g.data[2].model.conditions[0].evaluator;
      const op = evaluator.type === 'gt' ? '>' : '<';
      expect(g.data[0].model.expr).toBe(spec.expr);
      expect(p.expr.replace(/^\((.*)\)( [<>] [\d.]+)$/s, '$1$2')).toBe(`${spec.expr} ${op} ${evaluator.params[0]}`);
      expect(p.for ?? '0s').toBe(g.for);
      expect(p.labels.severity).toBe(g.labels.severity);
    }
  });
});
