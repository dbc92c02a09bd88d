// The provisioned dashboards and alert rules against a real Prometheus (Debian's, run with the repository's
// prometheus.yml and rule file) scraping a sidecar on the simulated demo host and, through the sidecar's
// service discovery, the demo's vLLM engines: every panel query returns data for some value of the
// dashboard's variables, and no alert rule fires on a healthy host.
import { ALERT_RULES } from '../../provisioning/generate/alertRules.js';
import { FLEET_RULES } from '../../provisioning/generate/fleetRules.js';
import { SLO_RULES } from '../../provisioning/generate/sloRules.js';
import { assignments, emptyPanelsSettled, interpolate, loadDashboards, type Vars } from './dashboardQueries.js';
import { evaluateGrafanaRule, loadGrafanaRules } from './grafanaRules.js';
import { json, ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { gpufleetPrometheusConfig, prometheusAlerts, startPrometheus, type Prometheus } from './prom.js';

const dashboards = loadDashboards(ROOT);

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

  // The fleet overview runs over 100 queries a round (capacity, SLO and efficiency rows included), and a round
  // repeats while one is empty: more than the default minute on a loaded machine.
  it.each(dashboards.map((d) => [d.title, d]))('%s: every Prometheus panel query returns data', async (_t, d: any) => {
    expect(await emptyPanelsSettled(d, prom.query)).toEqual([]);
  }, 300_000);

  it.each(dashboards.map((d) => [d.title, d]))('%s: every gpufleet panel query is answered with rows by the sidecar', async (_t, d: any) => {
    const combos = await assignments(d, prom.query);
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
    // The fleet overview reads Prometheus only; the detail dashboards show the sidecar's events.
    for (const d of dashboards.filter((x) => x.uid !== 'gpufleet-fleet')) {
      expect({ uid: d.uid, events: d.annotations.list.some((a: any) => a.target?.kind === 'events') }).toEqual({ uid: d.uid, events: true });
    }
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
    // The alert rules, the fleet and the SLO recording rules.
    expect(groups.flatMap((g: any) => g.rules).length).toBe(ALERT_RULES.length + FLEET_RULES.length + SLO_RULES.length);
    // Several evaluation rounds since the data arrived.
    await new Promise((r) => setTimeout(r, 3000));
    for (const g of (await json(`${prom.url}/api/v1/rules`)).body.data.groups) {
      for (const r of g.rules) expect({ rule: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({ rule: r.name, health: 'ok', lastError: '' });
    }
    expect(await prometheusAlerts(prom)).toEqual([]);
  });
});
