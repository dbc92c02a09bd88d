// The fleet simulator as an operator runs it (`node sidecar/dist/cli.js fleet-sim`), scraped by a real
// Prometheus through HTTP service discovery on /sd: every host is a target with its cluster and rack, the
// fleet's families join at fleet scale, and promtool accepts a host's exposition.
import { spawnSync } from 'node:child_process';
import { CLI, json, startFleetSim, waitFor, type FleetSim } from './harness.js';
import { startPrometheus, type Prometheus } from './prom.js';

const HOSTS = 50;

describe('fleet-sim scraped by Prometheus', () => {
  let sim: FleetSim;
  let base: string;
  let prom: Prometheus;

  beforeAll(async () => {
    // all-mig for half the story (MIG joins), typical's whole and vGPU hosts come from a second run below.
    sim = await startFleetSim(['--hosts', String(HOSTS), '--seed', '2', '--mix', 'all-mig']);
    base = sim.base;
    prom = await startPrometheus(
      `global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n  - job_name: gpufleet-sidecar\n    http_sd_configs:\n      - url: ${base}/sd\n        refresh_interval: 5s\n`,
    );
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await sim?.stop();
  });

  it('every simulated host is a target, up, with the instance, cluster and rack the SD list gives it', async () => {
    const up = await waitFor('all targets scraped', async () => {
      const r = await prom.query('up{job="gpufleet-sidecar"} == 1');
      return r.length === HOSTS ? r : undefined;
    }, 60_000);
    expect(new Set(up.map((s) => s.metric.instance)).size).toBe(HOSTS);
    for (const s of up) {
      expect(s.metric.cluster).toBe('alpha');
      expect(s.metric.rack).toMatch(/^alpha-r\d\d$/);
    }
    const targets = await json(`${prom.url}/api/v1/targets?state=active`);
    expect(targets.body.data.activeTargets.map((t: any) => t.lastError).filter((e: string) => e)).toEqual([]);
  });

  it('count(gpufleet_host_info) is the number of hosts', async () => {
    const r = await waitFor('host_info of every host', async () => {
      const v = await prom.query('count(gpufleet_host_info)');
      return v[0]?.value[1] === String(HOSTS) ? v : undefined;
    }, 30_000);
    expect(r[0]?.value[1]).toBe(String(HOSTS));
  });

  it('the engine → MIG join on (host, mig_uuid) answers without duplicate-series errors, one row per MIG rank', async () => {
    // prom.query throws with Prometheus' error text (e.g. "found duplicate series") on a failed join.
    const joined = await prom.query('count(gpufleet_engine_mig * on (host, mig_uuid) group_left (profile) gpufleet_mig_instance_info)');
    expect(joined[0]?.value[1]).toBe(String(HOSTS * 56));
    const free = await prom.query('count(gpufleet_mig_instance_info unless on (host, mig_uuid) gpufleet_engine_mig)');
    expect(free).toEqual([]);
    // Rank → physical GPU: one row per rank, each on a GPU Prometheus knows, none with a mig_uuid.
    const ranks = await prom.query('count(gpufleet_engine_gpu)');
    expect(ranks[0]?.value[1]).toBe(String(HOSTS * 56));
    expect(await prom.query('gpufleet_engine_gpu unless on (host, gpu_uuid) gpufleet_gpu_info')).toEqual([]);
    expect(await prom.query('gpufleet_engine_gpu{mig_uuid!=""}')).toEqual([]);
    await prom.query('gpufleet_engine_gpu * on (host, gpu_uuid) group_left (name) gpufleet_gpu_info');
  });

  it('promtool check metrics accepts a host\'s exposition', async () => {
    const text = await (await fetch(`${base}/hosts/gpu0007/metrics`)).text();
    expect(text).toMatch(/^gpufleet_host_info\{host="gpu0007",/m);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect((check.stderr + check.stdout).trim()).toBe('');
    expect(check.status).toBe(0);
  });

  it('answers a host it does not have with 404 and a JSON error', async () => {
    const r = await json(`${base}/hosts/nope/metrics`);
    expect(r.status).toBe(404);
    expect(r.body.error.message).toMatch(/no host "nope"/);
  });
});

describe('fleet-sim command line', () => {
  it('bad values exit 2 naming the option; --help lists the options with their env twins', () => {
    const bad = spawnSync(process.execPath, [CLI, 'fleet-sim', '--mix', 'most-mig'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--mix/);
    const help = spawnSync(process.execPath, [CLI, 'fleet-sim', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    for (const o of ['--hosts', '--listen', '--seed', '--mix', 'GPUFLEET_FLEET_HOSTS']) expect(help.stdout).toContain(o);
  });
});
