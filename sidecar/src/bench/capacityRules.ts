// npm run bench, capacity-rules section: what the shipped rule files cost Prometheus on a 1,000-host fleet. The
// built `fleet-sim` serves the hosts (typical, then all-mig); a real Prometheus scrapes them through the
// simulator's HTTP SD every SCRAPE_S seconds and evaluates the fleet, SLO and per-host rule files every EVAL_S
// seconds. Once every host has been scraped twice (rate() has two points), the groups' own evaluation times
// (`/api/v1/rules` evaluationTime, what `prometheus_rule_group_last_duration_seconds` exports) are read over
// EVALS evaluations: median and max per group, and the group's slowest rule. Prints, never asserts.
//
// fleet-sim serves the sidecar's families only, no engine's `vllm:` histograms: the SLO group's histogram rules
// find no series there, so its figure is that of its energy, share and GPU-type rules (said in the output).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FleetMix } from '../fleet/fleetModel.js';
import { lastStderr, start, stop } from './children.js';
import { freePort, waitReady } from './load.js';
import { heading, line } from './print.js';

const PROMETHEUS = '/usr/bin/prometheus';
/** The fleet bench's host count and its env twin (tests/browser/fleetBench.mjs reads the same variable). */
const HOSTS = Number(process.env.GPUFLEET_BENCH_FLEET_HOSTS ?? 1000);
/**
 * 60 s scrapes, as the browser fleet bench: on a 2-core machine shared with other work fleet-sim cannot render
 * 1,000 hosts every 15 s. Rules are evaluated every 15 s over those samples (fresh for 5 minutes): what a rule
 * costs depends on the series it reads, not on their age.
 */
const SCRAPE_S = 60;
const EVAL_S = 15;
const EVALS = 4;
/** How long every host may take to be scraped once before the figures are taken on those that were. */
const UP_TIMEOUT_MS = 600_000;
const RULE_FILES = ['gpufleet-fleet.rules.yml', 'gpufleet-slo.rules.yml', 'gpufleet.rules.yml'];

interface RuleJSON {
  name: string;
  type: string;
  health: string;
  lastError?: string;
  evaluationTime: number;
}

interface GroupJSON {
  name: string;
  file: string;
  lastEvaluation: string;
  evaluationTime: number;
  rules: RuleJSON[];
}

/** Per group: evaluation times (s) seen, and per rule. */
interface Samples {
  file: string;
  rules: number;
  records: number;
  group: number[];
  perRule: Map<string, number[]>;
  errors: Map<string, string>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const ms = (s: number) => (s * 1000 >= 100 ? `${(s * 1000).toFixed(0)} ms` : `${(s * 1000).toFixed(1)} ms`);
const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, why: () => string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${why()}`);
    await sleep(1000);
  }
}

async function oneMix(mix: FleetMix): Promise<void> {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-bench-rules-'));
  const sim = start(process.execPath, [cli, 'fleet-sim', '--hosts', String(HOSTS), '--mix', mix, '--seed', '1', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let prom: ReturnType<typeof start> | null = null;
  try {
    const simUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      sim.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      sim.once('exit', (code) => reject(new Error(`fleet-sim exited with ${code}: ${lastStderr(sim)}`)));
    });
    const rules = RULE_FILES.map((f) => join(root, 'prometheus/rules', f));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: ${SCRAPE_S}s\n  scrape_timeout: ${SCRAPE_S}s\n  evaluation_interval: ${EVAL_S}s\n` +
        `rule_files:\n${rules.map((r) => `  - ${r}\n`).join('')}` +
        `scrape_configs:\n  - job_name: gpufleet-sidecar\n    http_sd_configs:\n      - url: ${simUrl}/sd\n        refresh_interval: 5s\n`,
    );
    const port = await freePort();
    const promUrl = `http://127.0.0.1:${port}`;
    prom = start(PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ]);
    const p = prom;
    const why = () => `\n${lastStderr(p)}`;
    await waitReady(`${promUrl}/-/ready`, 60_000);
    const query = async (expr: string): Promise<Array<{ value: [number, string] }>> => {
      const body = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { status: string; error?: string; data: { result: Array<{ value: [number, string] }> } };
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
      return body.data.result;
    };
    const t0 = Date.now();
    const upCount = async () => Number((await query('count(up{job="gpufleet-sidecar"} == 1)'))[0]?.value[1] ?? 0);
    // On a crowded machine some scrapes of a heavy mix time out: measured then on the hosts that answered, and said.
    const allUp = await waitFor(`all ${HOSTS} hosts scraped`, async () => ((await upCount()) === HOSTS ? true : undefined), UP_TIMEOUT_MS, why).catch(() => false);
    const upS = (Date.now() - t0) / 1000;
    if (!allUp && (await upCount()) === 0) throw new Error(`no host scraped within ${UP_TIMEOUT_MS / 1000} s${why()}`);
    // A second round: every host then has two samples in the rules' 5 m windows.
    await sleep(SCRAPE_S * 1000);
    const groups = async () => ((await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: GroupJSON[] } }).data.groups;
    const samples = new Map<string, Samples>();
    const last = new Map<string, string>();
    for (const g of await groups()) last.set(g.name, g.lastEvaluation);
    const deadline = Date.now() + (EVALS + 2) * EVAL_S * 1000 * 3;
    while ([...last.keys()].some((n) => (samples.get(n)?.group.length ?? 0) < EVALS) && Date.now() < deadline) {
      await sleep(2000);
      for (const g of await groups()) {
        if (g.lastEvaluation === last.get(g.name)) continue;
        last.set(g.name, g.lastEvaluation);
        const s = samples.get(g.name) ?? {
          file: g.file.split('/').pop() as string, rules: g.rules.length, records: g.rules.filter((r) => r.type === 'recording').length,
          group: [], perRule: new Map<string, number[]>(), errors: new Map<string, string>(),
        };
        samples.set(g.name, s);
        if (s.group.length >= EVALS) continue;
        s.group.push(g.evaluationTime);
        for (const r of g.rules) {
          s.perRule.set(r.name, [...(s.perRule.get(r.name) ?? []), r.evaluationTime]);
          if (r.health === 'err') s.errors.set(r.name, r.lastError ?? 'error');
        }
      }
    }
    const tsdb = (await (await fetch(`${promUrl}/api/v1/status/tsdb`)).json()) as { data?: { headStats?: { numSeries?: number } } };
    const series = tsdb.data?.headStats?.numSeries ?? NaN;
    const recorded = Number((await query('count({__name__=~"gpufleet:.+"})'))[0]?.value[1] ?? NaN);
    const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');
    const scraped = allUp ? `${HOSTS} hosts scraped in ${upS.toFixed(0)} s` : `only ${await upCount()} of ${HOSTS} hosts up after ${upS.toFixed(0)} s (the others' scrapes time out)`;
    console.log(`\n   ${mix}: ${scraped}; ${series.toLocaleString('en-US')} head series, ${recorded.toLocaleString('en-US')} gpufleet:* recorded series; load average ${load}`);
    for (const [name, s] of [...samples].sort((a, b) => median(b[1].group) - median(a[1].group))) {
      const slow = [...s.perRule].map(([r, xs]) => [r, median(xs)] as const).sort((a, b) => b[1] - a[1])[0];
      line(`${name} (${s.file}: ${s.records} recording, ${s.rules - s.records} alerting)`, `${ms(median(s.group))} / ${ms(Math.max(...s.group))}`);
      if (slow) console.log(`    slowest rule ${slow[0]}: ${ms(slow[1])} median`);
      for (const [r, e] of s.errors) console.log(`    rule ${r} failed: ${e}`);
    }
    console.log('    (fleet-sim serves no engine vllm: histograms: the SLO group\'s histogram rules read no series here)');
  } finally {
    if (prom) await stop(prom);
    await stop(sim);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function capacityRulesBench(): Promise<void> {
  heading(`19. rule evaluation on fleet-sim, ${HOSTS} hosts (${SCRAPE_S} s scrapes, rules every ${EVAL_S} s; fleet, SLO and per-host rule files):
    per group the median / max evaluation time of ${EVALS} evaluations, and its slowest rule`);
  if (!existsSync(PROMETHEUS)) {
    line('skipped', 'prometheus is not installed');
    return;
  }
  for (const mix of (process.env.GPUFLEET_BENCH_FLEET_MIX ?? 'typical,all-mig').split(',') as FleetMix[]) {
    try {
      await oneMix(mix);
    } catch (err) {
      console.log(`   ${mix}: not measured: ${String((err as Error).message ?? err).split('\n')[0]}`);
    }
  }
}
