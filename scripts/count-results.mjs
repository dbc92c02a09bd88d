// Reads a jest or Playwright JSON report and prints "<passed> <failed>". A suite that crashed before
// running its tests (a compile error, a missing module) counts as one failure, so it cannot hide.
import { existsSync, readFileSync } from 'node:fs';

const [file, label] = process.argv.slice(2);
if (!file || !existsSync(file)) {
  console.error(`${label ?? file}: no report written (the runner crashed before finishing)`);
  console.log('0 1');
  process.exit(0);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
let passed = 0;
let failed = 0;
if (typeof r.numPassedTests === 'number') {
  // jest
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  for (const suite of r.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) {
      failed++;
      console.error(`${label}: suite failed to run: ${suite.name}\n${(suite.message ?? '').slice(0, 2000)}`);
    }
  }
} else if (r.stats) {
  // Playwright's json reporter
  passed = r.stats.expected ?? 0;
  failed = (r.stats.unexpected ?? 0) + (r.stats.flaky ?? 0);
  if ((r.errors ?? []).length) failed += r.errors.length;
} else {
  console.error(`${label}: unknown report format`);
  failed = 1;
}
console.log(`${passed} ${failed}`);
