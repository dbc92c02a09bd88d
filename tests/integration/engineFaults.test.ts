// The simulated `faults` host's badly behaved vLLM engines (sidecar/src/sim/scenarios/faults.yaml):
// real processes that hang, hang on /metrics only, answer /metrics with HTML, or serve broken
// histograms, next to an overloaded but healthy one. The sidecar keeps running at its interval,
// each bad engine says what is wrong, and the healthy one is read as usual.
import { json, startSidecar, waitFor, type Running } from './harness.js';

describe('badly behaved engines on the faults host', () => {
  let s: Running;
  let engines: Record<string, any>;

  // Each engine of faults.yaml by its scenario port, found by model and GPU: the simulator moves an engine to
  // another port when its scenario port is taken on this machine (another simulated host runs there).
  const ROLES: Record<string, { model: string; gpu: number | null }> = {
    '18101': { model: 'Qwen/Qwen2.5-0.5B-Instruct', gpu: 0 },
    '18102': { model: 'Qwen/Qwen2.5-0.5B-Instruct', gpu: 1 },
    '18103': { model: 'Qwen/Qwen2.5-1.5B-Instruct', gpu: null },
    '18104': { model: 'Qwen/Qwen2.5-0.5B-Instruct', gpu: 5 },
    '18105': { model: 'meta-llama/Llama-3.1-8B-Instruct', gpu: null },
  };

  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'faults', '--interval', '1s', '--docker-socket', 'none']);
    engines = await waitFor('the faults engines found and read', async () => {
      const list: any[] = (await json(`${s.base}/api/v1/engines`)).body.engines ?? [];
      const gpus: any[] = (await json(`${s.base}/api/v1/gpus`)).body.gpus ?? [];
      const indexOf = (uuid: string) => gpus.find((g) => g.uuid === uuid)?.index;
      const find = ({ model, gpu }: { model: string; gpu: number | null }) =>
        list.find((e) => e.model === model && (gpu === null || e.workers.some((w: any) => w.gpuUuids.some((u: string) => indexOf(u) === gpu))));
      const byPort = Object.fromEntries(Object.entries(ROLES).map(([port, role]) => [port, find(role)]));
      const ready = Object.keys(ROLES).every((p) => byPort[p] && byPort[p].health !== 'unknown') &&
        byPort['18105'].load.generationTokensPerSec !== null && byPort['18103'].load.generationTokensPerSec !== null;
      return ready ? byPort : undefined;
    }, 60_000);
  }, 90_000);

  afterAll(async () => {
    await s?.stop();
  });

  it('an engine that answers nothing is down, with the deadline it missed', () => {
    expect(engines['18104']).toMatchObject({ health: 'down', load: { running: null } });
    expect(engines['18104'].lastError).toMatch(/\/health: no answer within \d+ ms/);
  });

  it('an engine whose /metrics hangs is up, without load, saying so', () => {
    expect(engines['18101']).toMatchObject({ health: 'up', load: { running: null } });
    expect(engines['18101'].lastError).toMatch(/\/metrics\?name\[\]=…: no answer within \d+ ms/);
  });

  it('an engine whose /metrics is an HTML page is up, without load, saying so', () => {
    expect(engines['18102']).toMatchObject({ health: 'up', load: { running: null } });
    // What the answer was, not what it said: the page is not quoted.
    expect(engines['18102'].lastError).toMatch(/\/metrics: answered an HTML page, not Prometheus text .*\(content type text\/html, \d+ bytes\)$/);
    expect(engines['18102'].lastError).not.toMatch(/Bad Gateway/);
  });

  it('an engine with broken histograms keeps its gauges and rates, loses only its quantiles, and names them', () => {
    const e = engines['18103'];
    expect(e.health).toBe('up');
    expect(e.load.running).not.toBeNull();
    expect(e.load.kvCacheUsage).not.toBeNull();
    expect(e.load.ttftSeconds).toEqual({ p50: null, p95: null });
    expect(e.lastError).toMatch(/vllm:time_to_first_token_seconds: bucket counts not cumulative/);
  });

  it('the healthy engine beside them is read in full, and the sidecar keeps its interval', async () => {
    const e = engines['18105'];
    expect(e).toMatchObject({ health: 'up', lastError: null, busy: true });
    expect(e.load.ttftSeconds.p95).toBeGreaterThan(0);
    const health = (await json(`${s.base}/api/v1/health`)).body;
    expect(health.sources.engines.status).toBe('ok');
    // Ticks keep coming although two engines hang: the engines source is never more than a few intervals old.
    const first = (await json(`${s.base}/api/v1/snapshot`)).body.host.collectedAt;
    await waitFor('a later tick', async () => (await json(`${s.base}/api/v1/snapshot`)).body.host.collectedAt !== first, 5000);
  });
});
