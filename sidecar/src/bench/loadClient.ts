// The load generator as a process of its own: a fresh heap and an event loop that does nothing else, so
// the figures it returns are not stretched by the bench's own garbage or timers (the bench process has
// built histories and run other sections by then). Reads one LoadSpec as JSON from argv[2], prints one
// line of JSON: per target, its latency quantiles in ms and its counts.
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runLoad, type LoadOptions, type Target } from './load.js';
import { figures, type LoadFigures } from './loadFigures.js';

export interface LoadSpec extends LoadOptions {
  targets: Target[];
}

/** Runs the load in a child process (plain `node`, no flags: the client is not the sidecar) and returns its figures. */
export async function runLoadApart(spec: LoadSpec): Promise<Record<string, LoadFigures>> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`load client exited with ${code}: ${err}`);
  const parsed = JSON.parse(out) as Record<string, LoadFigures>;
  // JSON carries Infinity (a request cut off) as null.
  for (const f of Object.values(parsed)) for (const k of ['p50', 'p90', 'p99', 'max'] as const) f[k] ??= Infinity;
  return parsed;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const results = await runLoad(spec.targets, spec);
  const out: Record<string, LoadFigures> = {};
  for (const [label, r] of results) out[label] = figures(r.latencies, r.ok, r.errors, r.cutOff);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
