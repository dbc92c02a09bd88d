// The `engines:` section of scenarios: defaults, validation errors naming the field, the shipped scenarios.
import { loadScenarioFile, ScenarioError, validateScenario } from './scenario.js';
import { resolveScenarioPath } from './fakeCli.js';
import { engineFaultsAt, inDowntime, rankMemoryMiB, type EngineSpec } from './engineScenario.js';
import { vllmProfile } from './vllmVersion.js';

const gpus = [
  { model: 'H100-SXM5-80GB' },
  { model: 'H100-SXM5-80GB', mig: { instances: ['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb'] } },
  { model: 'H100-SXM5-80GB' },
  { model: 'H100-SXM5-80GB', vgpu: { instances: [{ vmName: 'vm', type: 'NVIDIA H100XM-20C' }] } },
];

function withEngines(engines: unknown[]) {
  return validateScenario({ gpus, engines });
}

function fieldOf(engines: unknown[]): string {
  try {
    withEngines(engines);
  } catch (err) {
    if (err instanceof ScenarioError) return `${err.field} | ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('engine defaults', () => {
  it('fills in a vllm serve 0.11.0 engine', () => {
    const [e] = withEngines([{ model: 'Qwen/Qwen3-4B', port: 18001, gpus: [0] }]).engines;
    expect(e).toMatchObject({
      name: 'vllm-18001',
      launch: 'vllm-serve',
      interpreter: '/usr/bin/python3',
      version: '0.11.0',
      tensorParallel: 1,
      pipelineParallel: 1,
      dataParallel: 1,
      gpus: [0],
      mig: null,
      visibleDevices: 'index',
      maxModelLen: 32768,
      maxModelLenGiven: false,
      gpuMemoryUtilization: 0.9,
      servedModelNames: [],
      loraAdapters: [],
      downtime: null,
      deployment: 'native',
      container: null,
      faults: [],
    });
    expect(e?.profile.processStyle).toBe('titled');
  });

  it('a docker-deployed engine runs in a container named after it, from vLLM\'s image of its version', () => {
    const [d, n] = withEngines([
      { model: 'm', port: 18001, gpus: [0], deployment: 'docker', version: '0.10.1' },
      { model: 'm', port: 18002, gpus: [2], deployment: 'docker', container: { name: 'my-vllm', image: 'nvcr.io/nvidia/vllm:25.09-py3' } },
    ]).engines;
    expect(d).toMatchObject({ deployment: 'docker', container: { name: 'vllm-18001', image: 'vllm/vllm-openai:v0.10.1' } });
    expect(n?.container).toEqual({ name: 'my-vllm', image: 'nvcr.io/nvidia/vllm:25.09-py3' });
  });

  it('accepts MIG placements, LoRA adapters, several served names and windows', () => {
    const [e] = withEngines([
      {
        model: 'm/x',
        port: 18002,
        version: '0.7.3',
        launch: 'python-module',
        mig: [{ gpu: 1, instance: 2 }],
        servedModelName: ['a', 'b'],
        loraAdapters: ['sql'],
        downtime: { at: 10, every: 300, for: 60 },
        faults: ['html-metrics', { kind: 'hang', from: 100, to: 110, every: 200 }],
      },
    ]).engines;
    expect(e?.interpreter).toBe('python3');
    expect(e?.profile.processStyle).toBe('v0');
    expect(e?.mig).toEqual([{ gpu: 1, instance: 2 }]);
    expect(inDowntime(e as never, 9)).toBe(false);
    expect(inDowntime(e as never, 10)).toBe(true);
    expect(inDowntime(e as never, 69.9)).toBe(true);
    expect(inDowntime(e as never, 70)).toBe(false);
    expect(inDowntime(e as never, 315)).toBe(true);
    expect([...engineFaultsAt(e as never, 50)]).toEqual(['html-metrics']);
    expect([...engineFaultsAt(e as never, 305)].sort()).toEqual(['hang', 'html-metrics']);
  });
});

describe('engine validation names the field', () => {
  it.each([
    [[{ port: 18001, gpus: [0] }], 'engines[0].model | engines[0].model: is required'],
    [[{ model: 'm', gpus: [0] }], 'engines[0].port'],
    [[{ model: 'm', port: 80, gpus: [0] }], 'engines[0].port | engines[0].port: must be at least 1024'],
    [[{ model: 'has space', port: 18001, gpus: [0] }], 'engines[0].model'],
    [[{ model: 'm', port: 18001 }], 'engines[0] | engines[0]: give exactly one of gpus'],
    [[{ model: 'm', port: 18001, gpus: [0], mig: [] }], 'engines[0] | engines[0]: give exactly one of gpus'],
    [[{ model: 'm', port: 18001, gpus: [9] }], 'engines[0].gpus[0] | engines[0].gpus[0]: there is no gpus[9]'],
    [[{ model: 'm', port: 18001, gpus: [1] }], 'engines[0].gpus[0] | engines[0].gpus[0]: gpus[1] has MIG enabled'],
    [[{ model: 'm', port: 18001, gpus: [3] }], 'engines[0].gpus[0] | engines[0].gpus[0]: gpus[3] is a vGPU host'],
    [[{ model: 'm', port: 18001, gpus: [0], tensorParallel: 2 }], 'engines[0].gpus | engines[0].gpus: needs 2 GPU(s)'],
    [[{ model: 'm', port: 18001, gpus: [0, 0] , tensorParallel: 2 }], 'engines[0].gpus[1] | engines[0].gpus[1]: gpus[0] is listed twice'],
    [[{ model: 'm', port: 18001, mig: [{ gpu: 0, instance: 0 }] }], 'engines[0].mig[0].gpu | engines[0].mig[0].gpu: gpus[0] does not have MIG enabled'],
    [[{ model: 'm', port: 18001, mig: [{ gpu: 1, instance: 4 }] }], 'engines[0].mig[0].instance'],
    [[{ model: 'm', port: 18001, mig: [{ gpu: 1 }] }], 'engines[0].mig[0].instance | engines[0].mig[0].instance: is required'],
    [[{ model: 'm', port: 18001, tensorParallel: 2, mig: [{ gpu: 1, instance: 0 }, { gpu: 1, instance: 1 }] }], 'engines[0].mig | engines[0].mig: tensor or pipeline parallelism across MIG'],
    [[{ model: 'm', port: 18001, gpus: [0], launch: 'docker' }], 'engines[0].launch'],
    [[{ model: 'm', port: 18001, gpus: [0], version: 'latest' }], 'engines[0].version'],
    [[{ model: 'm', port: 18001, gpus: [0], version: '0.3.0' }], 'engines[0].version'],
    [[{ model: 'm', port: 18001, gpus: [0], version: '0.4.3' }], 'engines[0].launch | engines[0].launch: "vllm serve" appeared in vLLM 0.5.0'],
    [[{ model: 'm', port: 18001, gpus: [0, 2], version: '0.7.3', launch: 'python-module', dataParallel: 2 }], 'engines[0].dataParallel'],
    [[{ model: 'm', port: 18001, gpus: [0], deployment: 'podman' }], 'engines[0].deployment'],
    [[{ model: 'm', port: 18001, gpus: [0], container: { name: 'c' } }], 'engines[0].container | engines[0].container: is only for deployment: docker'],
    [[{ model: 'm', port: 18001, gpus: [0], deployment: 'docker', container: { image: 'Not An Image' } }], 'engines[0].container.image'],
    [[{ model: 'm', port: 18001, gpus: [0], deployment: 'docker', container: { name: 'c' } }, { model: 'm', port: 18002, gpus: [2], deployment: 'docker', container: { name: 'c' } }], 'engines[1].container.name'],
    [[{ model: 'm', port: 18001, gpus: [0], downtime: { at: 5 } }], 'engines[0].downtime.for'],
    [[{ model: 'm', port: 18001, gpus: [0], downtime: { at: 5, every: 60, for: 60 } }], 'engines[0].downtime.for'],
    [[{ model: 'm', port: 18001, gpus: [0], faults: ['explode'] }], 'engines[0].faults[0].kind'],
    [[{ model: 'm', port: 18001, gpus: [0], load: { base: 2 } }], 'engines[0].load.base'],
    [[{ model: 'm', port: 18001, gpus: [0], host: '10.0.0.1' }], 'engines[0].host'],
    [[{ model: 'm', port: 18001, gpus: [0], bogus: 1 }], 'engines[0].bogus'],
    [[{ model: 'm', port: 18001, gpus: [0], loraAdapters: ['a', 'a'] }], 'engines[0].loraAdapters[1]'],
    [[{ model: 'm', port: 18001, gpus: [0] }, { model: 'm', port: 18001, gpus: [2] }], "engines[1].port | engines[1].port: 18001 is also engines[0]'s port"],
    [[{ model: 'm', port: 18001, gpus: [0], name: 'x' }, { model: 'm', port: 18002, gpus: [2], name: 'x' }], 'engines[1].name'],
    [[{ model: 'm', port: 18001, gpus: [0] }, { model: 'm', port: 18002, gpus: [0] }], 'engines[1].gpuMemoryUtilization | engines[1].gpuMemoryUtilization: the engines on gpus[0] need'],
  ])('%j', (engines, expected) => {
    expect(fieldOf(engines)).toContain(expected);
  });

  it('lets two engines share a GPU when their gpu_memory_utilization fits', () => {
    const s = withEngines([
      { model: 'm', port: 18001, gpus: [0], gpuMemoryUtilization: 0.45 },
      { model: 'm', port: 18002, gpus: [0], gpuMemoryUtilization: 0.45 },
    ]);
    expect(s.engines).toHaveLength(2);
  });

  it('counts what an engine preallocates per rank', () => {
    const s = withEngines([{ model: 'm', port: 18001, mig: [{ gpu: 1, instance: 2 }] }]);
    const e = s.engines[0];
    expect(rankMemoryMiB(e as never, s.gpus[1] as never, 2)).toBe(Math.round(9984 * 0.9));
    expect(rankMemoryMiB({ ...(e as EngineSpec), gpuMemoryUtilization: 0.9 }, s.gpus[0] as never, null)).toBe(Math.round(81559 * 0.9));
  });
});

describe('versions', () => {
  it('picks process titles and metric names by version', () => {
    expect(vllmProfile('0.11.0')).toMatchObject({ processStyle: 'titled', metrics: 'v1', kvUsageNew: true, kvUsageOld: false, itlNew: true, tpotOld: true });
    expect(vllmProfile('0.10.1.1')).toMatchObject({ processStyle: 'titled-append', kvUsageNew: true, kvUsageOld: true, itlNew: false, tpotOld: true });
    expect(vllmProfile('0.10.2')).toMatchObject({ processStyle: 'titled', itlNew: true });
    expect(vllmProfile('0.9.1')).toMatchObject({ processStyle: 'v1-untitled', metrics: 'v1', kvUsageNew: false, kvUsageOld: true });
    expect(vllmProfile('0.12.0')).toMatchObject({ kvUsageOld: false, tpotOld: false, itlNew: true });
    expect(vllmProfile('0.7.3')).toMatchObject({ processStyle: 'v0', metrics: 'v0', v0PrefixAndLora: true, v0AvgThroughput: false });
    expect(vllmProfile('0.4.3')).toMatchObject({ processStyle: 'v0', v0PrefixAndLora: false, v0AvgThroughput: true });
  });
});

describe('shipped scenarios', () => {
  it('demo has the engines the issue lists', () => {
    const s = loadScenarioFile(resolveScenarioPath('demo'));
    const byName = new Map(s.engines.map((e) => [e.name, e]));
    expect(s.engines.length).toBeGreaterThanOrEqual(6);
    // TP=2 over two whole GPUs (5 and 6).
    expect(s.engines.find((e) => e.tensorParallel === 2)?.gpus).toEqual([5, 6]);
    // One engine per MIG instance of GPU 1.
    const onGpu1 = s.engines.filter((e) => e.mig?.some((m) => m.gpu === 1)).map((e) => e.mig?.[0]?.instance).sort();
    expect(onGpu1).toEqual([0, 1, 2, 3]);
    // DP=2, a downtime engine, an old module-launched V0 engine.
    expect(s.engines.some((e) => e.dataParallel === 2)).toBe(true);
    expect(s.engines.some((e) => e.downtime?.every === 300 && e.downtime.for === 60)).toBe(true);
    expect(s.engines.some((e) => e.profile.processStyle === 'v0' && e.launch === 'python-module')).toBe(true);
    // An engine in a Docker container (simHost answers the Docker Engine API for it).
    expect(s.engines.filter((e) => e.deployment === 'docker').map((e) => e.container?.image)).toEqual(['vllm/vllm-openai:v0.11.0']);
    expect(new Set(s.engines.map((e) => e.port)).size).toBe(s.engines.length);
    expect(byName.size).toBe(s.engines.length);
  });

  it('small has one engine on its GPU, faults one engine per bad answer', () => {
    expect(loadScenarioFile(resolveScenarioPath('small')).engines.map((e) => e.gpus)).toEqual([[0]]);
    const faults = loadScenarioFile(resolveScenarioPath('faults')).engines.map((e) => e.faults.map((f) => f.kind)).flat().sort();
    expect(faults).toEqual(['bad-histograms', 'hang', 'hang-metrics', 'html-metrics', 'slow-prefill']);
  });
});
