// Our vLLM /metrics parser against Python's prometheus_client text parser (what vLLM's own tooling
// and most Python exporters use; Debian's python3-prometheus-client, run by /usr/bin/python3) on the
// same real captures in tests/fixtures/vllm. Throughput by CPU time, which a busy host disturbs least.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { largestMetricsFixture, measurePromTextThroughput } from '../../engines/promTextBench.js';
import { READ_SAMPLE_NAMES } from '../../engines/vllmMetrics.js';
import { CAPTURE_REGISTRY_PY } from '../../testing/captureRegistry.js';
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

// What the engine pays per scrape: prometheus_client rendering a registry of the capture's families,
// whole and with the sidecar's name[] filter (RestrictedRegistry, as vLLM's /metrics answers it).
// Families parsed once and held, so the figure is the rendering alone (a live registry also collects).
const RENDER_PY = `${CAPTURE_REGISTRY_PY}
def cost(r):
    for _ in range(20): out = generate_latest(r)
    n = 0
    c0 = time.process_time()
    while time.process_time() - c0 < 1.0:
        out = generate_latest(r)
        n += 1
    return {'ms': (time.process_time() - c0) / n * 1000, 'bytes': len(out)}
print(json.dumps({'whole': cost(registry), 'named': cost(registry.restricted_registry(json.load(sys.stdin)))}))
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
  engineRenderBench();
}

/** prometheus_client's cost to render the largest capture for one scrape, whole and as the sidecar asks it. */
function engineRenderBench(): void {
  const capture = largestMetricsFixture();
  console.log(`    what one scrape costs the engine: prometheus_client rendering ${capture.split('/').pop()}`);
  try {
    const r = JSON.parse(execFileSync(PYTHON, ['-c', RENDER_PY, capture], { input: JSON.stringify(READ_SAMPLE_NAMES), encoding: 'utf8', timeout: 60_000 })) as Record<'whole' | 'named', { ms: number; bytes: number }>;
    const row = (label: string, text: string) => console.log(`      ${label.padEnd(52)} ${text}`);
    row('whole text (what a plain GET /metrics renders)', `${r.whole.ms.toFixed(3)} ms of CPU, ${r.whole.bytes} bytes`);
    row(`the sidecar's name[] filter (${READ_SAMPLE_NAMES.length} sample names)`, `${r.named.ms.toFixed(3)} ms of CPU, ${r.named.bytes} bytes`);
    row('ratio', `${(r.whole.ms / r.named.ms).toFixed(1)}× less CPU, ${(r.whole.bytes / r.named.bytes).toFixed(1)}× fewer bytes`);
  } catch (err) {
    console.log(`    prometheus_client could not run (${(err as Error).message.split('\n')[0]}); Debian: apt install python3-prometheus-client`);
  }
}
