// Throughput of the Prometheus text parser, for the bench (never asserted in tests: timings depend
// on the machine). Run after a build:
//   node dist/engines/promTextBench.js [file]     (default: the largest vLLM fixture)
// Prints MB/s by wall clock and by the process's CPU time (the latter is steadier on a busy host).

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parsePromText } from './promText.js';

export interface Throughput {
  bytes: number;
  iterations: number;
  /** Median over the rounds, MB/s (10^6 bytes per second). */
  wallMBps: number;
  cpuMBps: number;
}

/** Parses `text` repeatedly for about `rounds × roundMs` and reports the median throughput. */
export function measurePromTextThroughput(text: string, rounds = 7, roundMs = 500): Throughput {
  const bytes = Buffer.byteLength(text, 'utf8');
  for (let i = 0; i < 200; i++) parsePromText(text); // warm-up: let the JIT settle
  const wall: number[] = [];
  const cpu: number[] = [];
  let iterations = 0;
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const w0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    let elapsed = 0;
    do {
      parsePromText(text);
      n++;
      elapsed = Number(process.hrtime.bigint() - w0) / 1e9;
    } while (elapsed * 1000 < roundMs);
    const c = process.cpuUsage(c0);
    wall.push((bytes * n) / elapsed / 1e6);
    cpu.push((bytes * n) / ((c.user + c.system) / 1e6) / 1e6);
    iterations += n;
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return { bytes, iterations, wallMBps: median(wall), cpuMBps: median(cpu) };
}

/** The largest /metrics capture in tests/fixtures/vllm, relative to the built or source file. */
export function largestMetricsFixture(): string {
  const dir = fileURLToPath(new URL('../../../tests/fixtures/vllm/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.startsWith('metrics_'));
  const sized = files.map((f) => [dir + f, statSync(dir + f).size] as const).sort((a, b) => b[1] - a[1]);
  const top = sized[0];
  if (!top) throw new Error(`no metrics fixture in ${dir}`);
  return top[0];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2] ?? largestMetricsFixture();
  const t = measurePromTextThroughput(readFileSync(file, 'utf8'));
  process.stdout.write(
    `promText: ${file.split('/').pop() ?? file} (${t.bytes} bytes): ` +
      `${t.wallMBps.toFixed(1)} MB/s wall, ${t.cpuMBps.toFixed(1)} MB/s CPU time (median of 7, ${t.iterations} parses)\n`
  );
}
