// The same rules as a Prometheus rule file, for operators who alert through their own Prometheus and
// Alertmanager. `expr op threshold` keeps the series whose value crosses the threshold, which is what
// Grafana's threshold step keeps too.
import { ALERT_RULES, GROUP_TITLES, type AlertRuleSpec } from './alertRules.js';
import { prometheusText } from './valueTemplate.js';

const OPS: Record<AlertRuleSpec['op'], string> = { gt: '>', lt: '<' };

/** `expr op threshold`, with the expression in parentheses when it is more than a selector. */
export function prometheusExpr(r: AlertRuleSpec): string {
  const simple = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})?$/.test(r.expr);
  return `${simple ? r.expr : `(${r.expr})`} ${OPS[r.op]} ${r.threshold}`;
}

export function prometheusRules(rules: readonly AlertRuleSpec[] = ALERT_RULES) {
  const groups = (Object.keys(GROUP_TITLES) as AlertRuleSpec['group'][]).map((g) => ({
    name: GROUP_TITLES[g],
    rules: rules
      .filter((r) => r.group === g)
      .map((r) => ({
        alert: r.alert,
        expr: prometheusExpr(r),
        ...(r.for === '0s' ? {} : { for: r.for }),
        labels: { severity: r.severity, source: 'gpufleet' },
        annotations: {
          summary: prometheusText(r.summary, r),
          description: prometheusText(r.description, r),
          runbook: r.runbook,
        },
      })),
  }));
  return { groups: groups.filter((g) => g.rules.length > 0) };
}
