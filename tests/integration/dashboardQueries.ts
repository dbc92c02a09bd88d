// The provisioned dashboards' Prometheus queries as Grafana would send them, against any Prometheus API
// (Prometheus itself, VictoriaMetrics): variables resolved from their own queries, every panel target run
// for each assignment of them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sample } from './prom.js';

export type Vars = Record<string, string>;
export type Query = (q: string) => Promise<Sample[]>;

const DIR = 'provisioning/dashboards/gpufleet';

export function loadDashboards(root: string): any[] {
  return readdirSync(join(root, DIR)).map((f) => JSON.parse(readFileSync(join(root, DIR, f), 'utf8')));
}

/**
 * `$name` / `${name}` / `${name:format}` replaced by the value given (already in the form Grafana would
 * send); Grafana's `$__rate_interval` becomes a window that holds a few 1 s scrapes, `$__range` (the
 * dashboard's time range) the last few minutes.
 */
export function interpolate(text: string, vars: Vars): string {
  return text
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '5m')
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => vars[(a ?? b) as string] ?? m);
}

/**
 * Every assignment of the dashboard's variables: a query variable's values from its own Prometheus query,
 * a custom one's from its list. With `vary`, only those variables take each of their values, the others stay
 * as allSelected has them (the fleet dashboard's SLO thresholds alone make a thousand combinations). Throws
 * naming a variable that has no value.
 */
export async function assignments(d: any, query: Query, vary?: Set<string>): Promise<Vars[]> {
  const fixed = allSelected(d);
  let out: Vars[] = [{}];
  for (const v of d.templating.list) {
    const next: Vars[] = [];
    if (vary && !vary.has(v.name)) {
      for (const a of out) next.push({ ...a, [v.name]: fixed[v.name] as string });
    } else if (v.type === 'custom') {
      for (const a of out) for (const value of String(v.query).split(',')) next.push({ ...a, [v.name]: value.trim() });
    } else if (v.type === 'textbox') {
      // A value the operator types (a price): its default.
      for (const a of out) next.push({ ...a, [v.name]: String(v.query) });
    } else {
      const m = /^label_values\((.*), (\w+)\)$/.exec(v.definition);
      if (!m) throw new Error(`${d.uid}: variable ${v.name}: unexpected query ${v.definition}`);
      for (const a of out) {
        const values = new Set((await query(interpolate(m[1] as string, a))).map((s) => s.metric[m[2] as string]).filter(Boolean));
        for (const value of values) next.push({ ...a, [v.name]: value as string });
      }
    }
    if (next.length === 0) throw new Error(`${d.uid}: variable ${v.name} has no value`);
    out = next;
  }
  return out;
}

/** Every query variable at "All" (its allValue, else `.+`: every value selected), a custom one at its first choice, a textbox at its default. */
export function allSelected(d: any): Vars {
  const value = (v: any) => (v.type === 'custom' ? String(v.query).split(',')[0] : v.type === 'textbox' ? String(v.query) : (v.allValue ?? '.+'));
  return Object.fromEntries(d.templating.list.map((v: any) => [v.name, value(v)]));
}

/**
 * Every variable at All but one, that one at each of its values (a host, a model, an engine): the levels of
 * the fleet dashboard, whose per-GPU topology queries answer only for one host, or under a model or engine
 * filter. A variable without All, or without values, is skipped.
 */
export async function oneAtATime(d: any, query: Query): Promise<Vars[]> {
  const all = allSelected(d);
  const out: Vars[] = [];
  for (const v of d.templating.list) {
    const m = /^label_values\((.*), (\w+)\)$/.exec(v.definition ?? '');
    if (v.type !== 'query' || !v.includeAll || !m) continue;
    const values = new Set((await query(interpolate(m[1] as string, all))).map((s) => s.metric[m[2] as string]).filter(Boolean));
    for (const value of values) out.push({ ...all, [v.name]: value as string });
  }
  return out;
}

/**
 * Prometheus targets that return no series for any assignment; a query error (a failed join) throws. Every
 * target is first asked with everything selected at once (every host of the fleet in one query: where
 * joins meet duplicate series); the ones still empty then with one variable at a time set (oneAtATime),
 * then with each assignment of the variables.
 */
export async function emptyPanels(d: any, query: Query): Promise<string[]> {
  const run = async (p: any, t: any, vars: Vars) => {
    const q = interpolate(t.expr, vars);
    const rows = await query(q).catch((err) => {
      throw new Error(`${d.uid} / ${p.title} [${t.refId}]: ${q}: ${String(err)}`);
    });
    return rows.length > 0;
  };
  const all = allSelected(d);
  const pending: Array<[any, any]> = [];
  for (const p of d.panels) {
    for (const t of p.targets ?? []) {
      if (t.datasource.type === 'prometheus' && !(await run(p, t, all))) pending.push([p, t]);
    }
  }
  const levels = pending.length ? await oneAtATime(d, query) : [];
  // Per set of variables a target names (and those their own queries name): only those vary.
  const combos = new Map<string, Vars[]>();
  const empty: string[] = [];
  for (const [p, t] of pending) {
    let found = false;
    for (const vars of levels) {
      if (await run(p, t, vars)) {
        found = true;
        break;
      }
    }
    if (found) continue;
    const names = referenced(d, t.expr);
    const key = [...names].sort().join(',');
    if (!combos.has(key)) combos.set(key, await assignments(d, query, names));
    for (const vars of combos.get(key) as Vars[]) {
      if (await run(p, t, vars)) {
        found = true;
        break;
      }
    }
    if (!found) empty.push(`${p.title} [${t.refId}]: ${t.expr}`);
  }
  return empty;
}

/** The variables an expression names, with the ones their own queries name (an engine's list depends on $host). */
function referenced(d: any, expr: string): Set<string> {
  const byName = new Map<string, any>(d.templating.list.map((v: any) => [v.name, v]));
  const names = new Set<string>();
  const visit = (text: string) => {
    for (const m of text.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g)) {
      const name = (m[1] ?? m[2]) as string;
      if (!byName.has(name) || names.has(name)) continue;
      names.add(name);
      visit(String(byName.get(name).definition ?? ''));
    }
  };
  visit(expr);
  return names;
}

/** emptyPanels, asked again for a while: on a loaded machine a scrape can skip a beat. */
export async function emptyPanelsSettled(d: any, query: Query, tries = 15): Promise<string[]> {
  let empty = await emptyPanels(d, query);
  for (let i = 0; i < tries && empty.length; i++) {
    await new Promise((r) => setTimeout(r, 2000));
    empty = await emptyPanels(d, query);
  }
  return empty;
}
