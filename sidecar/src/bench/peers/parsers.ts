// Our vLLM /metrics parser against Python's prometheus_client text parser (what vLLM's own tooling
// and most Python exporters use; Debian's python3-prometheus-client, run by /usr/bin/python3) on the
// same real captures in tests/fixtures/vllm. Throughput by CPU time, which a busy host disturbs least.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { measurePromTextThroughput } from '../../engines/promTextBench.js';
import { compare, compareHeader, heading, perSecond } from '../print.js';

const PYTHON = '/usr/bin/python3';

// Parses each file for about a second of CPU time, consuming every family and sample; prints MB/s per file.
const PY = `
import json, sys, time
from prometheus_client.parser import text_string_to_metric_families
import prometheus_client
out = {}
for path in sys.argv[1:]:
    text = open(path, encoding='utf-8').read()
    size = len(text.encode('utf-8'))
    for _ in range(20):
        for f in text_string_to_metric_families(text): f.samples
    n = 0
    c0 = time.process_time()
    while time.process_time() - c0 < 1.0:
        for f in text_string_to_metric_families(text): f.samples
        n += 1
    out[path] = size * n / (time.process_time() - c0) / 1e6
print(json.dumps(out))
`;

function fixtures(): string[] {
  const dir = fileURLToPath(new URL('../../../../tests/fixtures/vllm/', import.meta.url));
  return readdirSync(dir).filter((f) => f.startsWith('metrics_')).sort().map((f) => dir + f);
}

function pythonVersion(): string {
  try {
    return execFileSync(PYTHON, ['-c', 'import importlib.metadata as m; print(m.version("prometheus_client"))'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown version';
  }
}

export async function parserPeersBench(): Promise<void> {
  const files = fixtures();
  let python: Record<string, number> = {};
  let pyError = '';
  try {
    python = JSON.parse(execFileSync(PYTHON, ['-c', PY, ...files], { encoding: 'utf8', timeout: 120_000 })) as Record<string, number>;
  } catch (err) {
    pyError = (err as Error).message.split('\n')[0] ?? 'failed';
  }
  heading(`12. vLLM /metrics parse against Python prometheus_client ${pythonVersion()} (${PYTHON}), MB/s of CPU time, real captures`);
  if (pyError) console.log(`    prometheus_client could not run (${pyError}); Debian: apt install python3-prometheus-client`);
  console.log('    ratio = ours / theirs: over 1× we parse faster. No second JS parser is compared: none on npm is');
  console.log('    maintained (parse-prometheus-text-format, the most used: 1.1.1, toolchain of 2019; prom2javascript:');
  console.log('    one release, toolchain of 2021; neither declares engines)');
  compareHeader('prometheus_client');
  for (const f of files) {
    const t = measurePromTextThroughput(readFileSync(f, 'utf8'), 5, 300);
    const p = python[f] ?? NaN;
    const name = (f.split('/').pop() ?? f).replace(/^metrics_/, '').replace(/\.txt$/, '');
    compare(`${name.slice(0, 34)} (${(t.bytes / 1024).toFixed(0)} KiB)`, t.cpuMBps, p, perSecond('MB/s'), '> 100 MB/s, > 1×');
  }
}
