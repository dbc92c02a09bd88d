// Grafana-managed rules evaluated the way Grafana's rule engine does, with Prometheus doing the query:
// A (instant PromQL) → B reduce → C threshold. `for` is Grafana's pending period and is left to Grafana;
// promtool.test.ts checks the same durations on the Prometheus form.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Prometheus } from './prom.js';

export interface GrafanaRule {
  uid: string;
  title: string;
  noDataState: string;
  data: Array<{ refId: string; model: any }>;
}

export function loadGrafanaRules(root: string): GrafanaRule[] {
  const file = parse(readFileSync(join(root, 'provisioning/alerting/gpufleet-rules.yaml'), 'utf8'));
  return file.groups.flatMap((g: any) => g.rules);
}

export interface Evaluation {
  /** What Grafana would show: Alerting when a series crosses the threshold, NoData per noDataState. */
  state: 'Alerting' | 'Normal' | 'NoData';
  /** Labels of the series over the threshold, and their reduced values. */
  alerting: Array<{ labels: Record<string, string>; value: number }>;
}

export async function evaluateGrafanaRule(rule: GrafanaRule, prom: Prometheus): Promise<Evaluation> {
  const [a, b, c] = rule.data;
  if (!a || !b || !c || !a.model.instant) throw new Error(`${rule.uid}: expected an instant query A, reduce B, threshold C`);
  // Every rule reduces an instant vector with `last`: one point per series, the reduced value is that point.
  if (b.model.reducer !== 'last') throw new Error(`${rule.uid}: reducer ${b.model.reducer} is not evaluated here`);
  const series = await prom.query(a.model.expr);
  const ev = c.model.conditions[0].evaluator as { type: 'gt' | 'lt'; params: number[] };
  const limit = ev.params[0] as number;
  const reduced = series.map((s) => ({ labels: s.metric, value: Number(s.value[1]) }));
  // Grafana's threshold is a math expression, and any non-zero result alerts: NaN included (an idle
  // engine's quantile, a division by zero).
  const alerting = reduced.filter((s) => Number.isNaN(s.value) || (ev.type === 'gt' ? s.value > limit : s.value < limit));
  if (series.length === 0) return { state: rule.noDataState === 'OK' ? 'Normal' : rule.noDataState === 'Alerting' ? 'Alerting' : 'NoData', alerting };
  return { state: alerting.length ? 'Alerting' : 'Normal', alerting };
}
