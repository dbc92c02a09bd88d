// `{{value}}` in a rule's summary/description, in each rule form's template language. Both use Go templates
// with Prometheus' humanize functions; they differ in where the value lives.
import type { AlertRuleSpec } from './alertRules.js';

const FN: Record<AlertRuleSpec['valueFormat'], string> = {
  number: 'humanize',
  percent: 'humanizePercentage',
  seconds: 'humanizeDuration',
};

/** Grafana: the reduced value of refId B. */
export function grafanaText(text: string, rule: AlertRuleSpec): string {
  return text.replaceAll('{{value}}', `{{ ${FN[rule.valueFormat]} $values.B.Value }}`);
}

/** Prometheus: the value of the alert's expression. */
export function prometheusText(text: string, rule: AlertRuleSpec): string {
  return text.replaceAll('{{value}}', `{{ $value | ${FN[rule.valueFormat]} }}`);
}
