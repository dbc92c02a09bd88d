// The provisioned dashboards and alert rules against a real Prometheus (Debian's, run with the repository's
// prometheus.yml and rule file) scraping a sidecar on the simulated demo host and, through the sidecar's
// service discovery, the demo's vLLM engines: every panel query returns data for some value of the
// dashboard's variables, and no alert rule fires on a healthy host.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateGrafanaRule, loadGrafanaRules } from './grafanaRules.js';
import { json, ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { gpufleetPrometheusConfig, prometheusAlerts, startPrometheus, type Prometheus } from './prom.js';

const DIR = 'provisioning/dashboards/gpufleet';
const dashboards = readdirSync(join(ROOT, DIR)).map((f) => JSON.parse(readFileSync(join(ROOT, DIR, f), 'utf8')));

type Vars = Record<string, string>;

/** `$name` / `${name}` replaced; Grafana's `$__rate_interval` becomes a window that holds a few 1 s scrapes. */
function interpolate(text: string, vars: Vars): string {
  return text
    .replaceAll('$__rate_interval', '1m')
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => vars[(a ?? b) as string] ?? m);
}

describe('provisioned dashboards and rules on the demo host', () => {
  let sidecar: Running;
  let prom: Prometheus;

  beforeAll(async () => {
    sidecar = await startSidecar(['--simulate', 'demo', '--interval', '1s', '--docker-socket', 'none']);
    // Pin the simulated clock where every demo engine is up and GPU 1 is not being reconfigured.
    sidecar.control({ t: 30 });
    prom = await startPrometheus(gpufleetPrometheusConfig(ROOT, sidecar.base.replace('http://', '')));
    // Engines found, scraped twice by Prometheus through the SD endpoint (latency panels take rates).
    await waitFor('demo engines in Prometheus with two scrapes', async () => {
      const info = await prom.query('gpufleet_engine_info');
      const ttft = await prom.query('count(rate(vllm:time_to_first_token_seconds_bucket{le="+Inf"}[1m]))');
      return info.length >= 8 && Number(ttft[0]?.value[1] ?? 0) >= 8 ? true : undefined;
    }, 120_000);
  }, 180_000);

  afterAll(async () => {
    await prom?.stop();
    await sidecar?.stop();
  });

  /** Every assignment of the dashboard's variables, each variable's values from its own Prometheus query. */
  async function assignments(d: any): Promise<Vars[]> {
    let out: Vars[] = [{}];
    for (const v of d.templating.list) {
      const m = /^label_values\((.*), (\w+)\)$/.exec(v.definition);
      if (!m) throw new Error(`${d.uid}: variable ${v.name}: unexpected query ${v.definition}`);
      const next: Vars[] = [];
      for (const a of out) {
        const values = new Set((await prom.query(interpolate(m[1] as string, a))).map((s) => s.metric[m[2] as string]).filter(Boolean));
        for (const value of values) next.push({ ...a, [v.name]: value as string });
      }
      expect({ dashboard: d.uid, variable: v.name, values: next.length > 0 }).toEqual({ dashboard: d.uid, variable: v.name, values: true });
      out = next;
    }
    return out;
  }

  async function emptyPanels(d: any): Promise<string[]> {
    const combos = await assignments(d);
    const empty: string[] = [];
    for (const p of d.panels) {
      for (const t of p.targets ?? []) {
        if (t.datasource.type !== 'prometheus') continue;
        let found = false;
        for (const vars of combos) {
          if ((await prom.query(interpolate(t.expr, vars))).length > 0) {
            found = true;
            break;
          }
        }
        if (!found) empty.push(`${p.title} [${t.refId}]: ${t.expr}`);
      }
    }
    return empty;
  }

  it.each(dashboards.map((d) => [d.title, d]))('%s: every Prometheus panel query returns data', async (_t, d: any) => {
    // On a loaded machine an engine scrape can time out and its load series skip a beat: ask again
    // for a while before calling a panel empty.
    let empty = await emptyPanels(d);
    for (let i = 0; i < 15 && empty.length; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      empty = await emptyPanels(d);
    }
    expect(empty).toEqual([]);
  });

  it.each(dashboards.map((d) => [d.title, d]))('%s: every gpufleet panel query is answered with rows by the sidecar', async (_t, d: any) => {
    const combos = await assignments(d);
    const now = Date.now();
    const failing: string[] = [];
    for (const p of d.panels) {
      for (const t of p.targets ?? []) {
        if (t.datasource.uid !== 'gpufleet-sidecar') continue;
        let rows = 0;
        for (const vars of combos) {
          const filters = Object.fromEntries(Object.entries(t.filters as Vars).map(([k, v]) => [k, interpolate(v, vars)]));
          const r = await json(`${sidecar.base}/api/v1/query`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ queries: [{ refId: t.refId, kind: t.kind, filters, from: now - 3_600_000, to: now }] }),
          });
          if (r.status !== 200) continue;
          const frame = r.body.results[t.refId]?.frames?.[0];
          rows = Math.max(rows, frame?.data?.values?.[0]?.length ?? 0);
          if (rows > 0) break;
        }
        if (rows === 0) failing.push(`${p.title}: ${t.kind} ${JSON.stringify(t.filters)}`);
      }
    }
    expect(failing).toEqual([]);
  });

  it('the events annotation query is answered', async () => {
    const r = await json(`${sidecar.base}/api/v1/events`);
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body.events)).toBe(true);
    for (const d of dashboards) expect(d.annotations.list.some((a: any) => a.target?.kind === 'events')).toBe(true);
  });

  it('no Grafana rule fires on the healthy demo host, and none is without data that should have it', async () => {
    const states: Record<string, string> = {};
    for (const rule of loadGrafanaRules(ROOT)) {
      const e = await evaluateGrafanaRule(rule, prom);
      states[rule.title] = e.state === 'Alerting' ? `Alerting ${JSON.stringify(e.alerting)}` : e.state;
    }
    for (const [title, state] of Object.entries(states)) expect({ title, state }).toEqual({ title, state: 'Normal' });
  });

  it('Prometheus\' own evaluation of the rule file has nothing pending or firing', async () => {
    const rules = await json(`${prom.url}/api/v1/rules`);
    const groups = rules.body.data.groups;
    expect(groups.flatMap((g: any) => g.rules).length).toBe(12);
    // Several evaluation rounds since the data arrived.
    await new Promise((r) => setTimeout(r, 3000));
    for (const g of (await json(`${prom.url}/api/v1/rules`)).body.data.groups) {
      for (const r of g.rules) expect({ rule: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({ rule: r.name, health: 'ok', lastError: '' });
    }
    expect(await prometheusAlerts(prom)).toEqual([]);
  });
});
