// Grafana-managed alert rules (file provisioning, apiVersion 1) from ALERT_RULES: query A on the Prometheus
// data source → B reduce (last) → C threshold, the chain Grafana's rule export writes
// (tests/fixtures/grafana/provisioning/alerting/devenv-alert_rules.yaml).
import { ALERT_RULES, GROUP_TITLES, type AlertRuleSpec } from './alertRules.js';
import { DS, FOLDER } from './ids.js';
import { grafanaText } from './valueTemplate.js';

const EXPR = { type: '__expr__', uid: '__expr__' } as const;


function condition(refId: string, type: string, params: number[]) {
  return {
    evaluator: { params, type },
    operator: { type: 'and' },
    query: { params: [refId] },
    reducer: { params: [], type: 'last' },
    type: 'query',
  };
}

export function grafanaRule(r: AlertRuleSpec) {
  return {
    uid: r.uid,
    title: r.title,
    condition: 'C',
    data: [
      {
        refId: 'A',
        // The queries are instant ones; the range only bounds what Grafana asks Prometheus for.
        relativeTimeRange: { from: 600, to: 0 },
        datasourceUid: DS.prometheus.uid,
        model: {
          refId: 'A',
          datasource: { type: DS.prometheus.type, uid: DS.prometheus.uid },
          expr: r.expr,
          instant: true,
          range: false,
          intervalMs: 1000,
          maxDataPoints: 43200,
        },
      },
      {
        refId: 'B',
        datasourceUid: EXPR.uid,
        model: {
          refId: 'B',
          datasource: EXPR,
          type: 'reduce',
          expression: 'A',
          reducer: 'last',
          conditions: [condition('B', 'gt', [])],
          intervalMs: 1000,
          maxDataPoints: 43200,
        },
      },
      {
        refId: 'C',
        datasourceUid: EXPR.uid,
        model: {
          refId: 'C',
          datasource: EXPR,
          type: 'threshold',
          expression: 'B',
          conditions: [condition('C', r.op, [r.threshold])],
          intervalMs: 1000,
          maxDataPoints: 43200,
        },
      },
    ],
    noDataState: r.noDataState,
    execErrState: r.execErrState,
    for: r.for,
    annotations: {
      summary: grafanaText(r.summary, r),
      description: grafanaText(r.description, r),
      runbook: r.runbook,
    },
    labels: { severity: r.severity, source: 'gpufleet' },
    isPaused: false,
  };
}

export function grafanaAlerting(rules: readonly AlertRuleSpec[] = ALERT_RULES) {
  const groups = (Object.keys(GROUP_TITLES) as AlertRuleSpec['group'][]).map((g) => ({
    orgId: 1,
    name: GROUP_TITLES[g],
    folder: FOLDER,
    interval: '1m',
    rules: rules.filter((r) => r.group === g).map(grafanaRule),
  }));
  return { apiVersion: 1, groups: groups.filter((g) => g.rules.length > 0) };
}
