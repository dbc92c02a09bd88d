// Debian's promtool, with its output in the error when it fails.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export function promtool(args: string[]): string {
  try {
    return execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err: any) {
    throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

/** `promtool test rules` on a unit-test file given as its YAML text (written to a temporary folder, removed after). */
export function promtoolTestRules(yamlText: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-promtool-test-'));
  try {
    const file = join(dir, 'rules.test.yml');
    writeFileSync(file, yamlText);
    return promtool(['test', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `promtool test rules` of one rule file over one group of input series (a sample a minute, the rules
 * evaluated every minute), checking `exprTests` (promql_expr_test entries).
 */
export function promtoolTestRuleFile(ruleFile: string, inputSeries: Array<{ series: string; values: string }>, exprTests: unknown[]): string {
  return promtoolTestRules(
    stringify({
      rule_files: [ruleFile],
      evaluation_interval: '1m',
      tests: [{ interval: '1m', input_series: inputSeries, promql_expr_test: exprTests }],
    }),
  );
}
