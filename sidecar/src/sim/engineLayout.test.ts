// Launch lines, process titles and devices of the fake engines (the plan simHost turns into processes).
import { engineDevicesAt, engineProcessPlan, flattenPlan, launchArgv, vllmScriptPath, type ProcPlan } from './engineLayout.js';
import { loadScenarioFile, validateScenario, type Scenario } from './scenario.js';
import { resolveScenarioPath } from './fakeCli.js';
import { hostStateAt, parseControl } from './state.js';
import { toRustOpenMetrics } from './rustFrontend.js';
import { parseVllmCmdline } from '../engines/vllmCmdline.js';

const gpus = [
  { model: 'H100-SXM5-80GB' },
  { model: 'H100-SXM5-80GB', mig: { instances: ['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb'] } },
  { model: 'H100-SXM5-80GB' },
  { model: 'H100-SXM5-80GB' },
  { model: 'H100-SXM5-80GB' },
];

function scenarioWith(engine: Record<string, unknown>): Scenario {
  return validateScenario({ hostname: 'lay', gpus, engines: [{ model: 'Qwen/Qwen3-4B', port: 18001, ...engine }] });
}

function planOf(engine: Record<string, unknown>, t = 0): ProcPlan {
  const s = scenarioWith(engine);
  const e = s.engines[0];
  if (!e) throw new Error('no engine');
  const d = engineDevicesAt(e, s, hostStateAt(s, t));
  if (!d.ok) throw new Error(d.reason);
  return engineProcessPlan(e, d.devices);
}

/** key → argv joined with NULs as /proc/PID/cmdline holds it (without the trailing NUL). */
function cmdlines(plan: ProcPlan): Record<string, string> {
  return Object.fromEntries(flattenPlan(plan).map((p) => [p.key, p.argv.join('\0')]));
}

describe('launch lines', () => {
  it('reads like vllm serve through the console script, or python -m', () => {
    const s = scenarioWith({ tensorParallel: 2, gpus: [2, 3], servedModelName: ['qwen', 'q4b'], maxModelLen: 8192, loraAdapters: ['sql'] });
    expect(launchArgv(s.engines[0] as never)).toEqual([
      '/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'Qwen/Qwen3-4B', '--port', '18001',
      '--served-model-name', 'qwen', 'q4b', '-tp', '2', '--max-model-len', '8192',
      '--enable-lora', '--lora-modules', 'sql=/models/lora/sql',
    ]);
    const m = scenarioWith({ launch: 'python-module', dataParallel: 2, gpus: [2, 3], host: '0.0.0.0', gpuMemoryUtilization: 0.8 });
    expect(launchArgv(m.engines[0] as never)).toEqual([
      'python3', '-m', 'vllm.entrypoints.openai.api_server', '--model', 'Qwen/Qwen3-4B', '--host', '0.0.0.0', '--port', '18001',
      '--data-parallel-size', '2', '--gpu-memory-utilization', '0.8',
    ]);
    expect(vllmScriptPath('/opt/venv/bin/python3')).toBe('/opt/venv/bin/vllm');
    expect(vllmScriptPath('python3')).toBe('/usr/local/bin/vllm');
  });
});

describe('process trees by version', () => {
  it('0.11: VLLM::EngineCore holds the single GPU', () => {
    const plan = planOf({ gpus: [0] });
    expect(cmdlines(plan)).toEqual({
      api: '/usr/bin/python3\0/usr/local/bin/vllm\0serve\0Qwen/Qwen3-4B\0--port\x0018001',
      'core-dp0': 'VLLM::EngineCore',
    });
    expect(plan.comm).toBe('vllm');
    const core = plan.children[0] as ProcPlan;
    expect(core).toMatchObject({ comm: 'VLLM::EngineCor', rank: 0, env: { CUDA_VISIBLE_DEVICES: '0' } });
    expect(core.device).toMatchObject({ gpu: 0, instance: null, memoryMiB: Math.round(81559 * 0.9) });
  });

  it('0.11 TP=2 × PP=2: VLLM::Worker_PP<p>_TP<t> under the engine core, one GPU each', () => {
    const plan = planOf({ tensorParallel: 2, pipelineParallel: 2, gpus: [0, 2, 3, 4] });
    const core = plan.children[0] as ProcPlan;
    expect(core.argv).toEqual(['VLLM::EngineCore']);
    expect(core.rank).toBeNull();
    expect(core.children.map((w) => [w.argv[0], w.rank, w.device?.gpu, w.env.CUDA_VISIBLE_DEVICES])).toEqual([
      ['VLLM::Worker_PP0_TP0', 0, 0, '0,2,3,4'],
      ['VLLM::Worker_PP0_TP1', 1, 2, '0,2,3,4'],
      ['VLLM::Worker_PP1_TP0', 2, 3, '0,2,3,4'],
      ['VLLM::Worker_PP1_TP1', 3, 4, '0,2,3,4'],
    ]);
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe('0,2,3,4');
  });

  it('0.11 DP=2 × TP=2: a coordinator, VLLM::EngineCore_DP<n> with their slice, VLLM::Worker_DP<d>_TP<t>', () => {
    const plan = planOf({ tensorParallel: 2, dataParallel: 2, gpus: [0, 2, 3, 4], visibleDevices: 'index' });
    expect(plan.children.map((c) => [c.argv[0], c.env.CUDA_VISIBLE_DEVICES])).toEqual([
      ['VLLM::DPCoordinator', '0,2,3,4'],
      ['VLLM::EngineCore_DP0', '0,2'],
      ['VLLM::EngineCore_DP1', '3,4'],
    ]);
    expect(flattenPlan(plan).filter((p) => p.role === 'worker').map((w) => `${w.argv[0]}@${w.rank}`)).toEqual([
      'VLLM::Worker_DP0_TP0@0',
      'VLLM::Worker_DP0_TP1@1',
      'VLLM::Worker_DP1_TP0@2',
      'VLLM::Worker_DP1_TP1@3',
    ]);
  });

  it('DP on MIG instances: each engine core sees its own MIG-… UUID', () => {
    const s = scenarioWith({ dataParallel: 2, mig: [{ gpu: 1, instance: 2 }, { gpu: 1, instance: 3 }] });
    const state = hostStateAt(s, 0);
    const uuids = state.gpus[1]?.mig.devices.filter((d) => d.specPosition >= 2).map((d) => d.uuid);
    const plan = planOf({ dataParallel: 2, mig: [{ gpu: 1, instance: 2 }, { gpu: 1, instance: 3 }] });
    expect(plan.children.filter((c) => c.role === 'engine-core').map((c) => c.env.CUDA_VISIBLE_DEVICES)).toEqual(uuids);
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe(uuids?.join(','));
  });

  it('0.10.1: workers run the spawn bootstrap with an appended _TP<n> (PR 22205 came later)', () => {
    const plan = planOf({ version: '0.10.1', tensorParallel: 2, gpus: [0, 2] });
    expect(cmdlines(plan)).toEqual({
      api: '/usr/bin/python3\0/usr/local/bin/vllm\0serve\0Qwen/Qwen3-4B\0--port\x0018001\0-tp\x002',
      'core-dp0': 'VLLM::EngineCore',
      'worker-dp0-pp0-tp0':
        '/usr/bin/python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=56, pipe_handle=55) --multiprocessing-fork_TP0',
      'worker-dp0-pp0-tp1':
        '/usr/bin/python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=56, pipe_handle=57) --multiprocessing-fork_TP1',
    });
  });

  it('0.9 (V1 before titles): engine core and workers are forks with the launch line', () => {
    const plan = planOf({ version: '0.9.2', tensorParallel: 2, gpus: [0, 2] });
    const launch = plan.argv.join('\0');
    expect(Object.values(cmdlines(plan))).toEqual([launch, launch, launch, launch]);
    expect(flattenPlan(plan).map((p) => [p.role, p.rank])).toEqual([
      ['api-server', null],
      ['engine-core', null],
      ['worker', 0],
      ['worker', 1],
    ]);
  });

  it('0.7 (V0): the API server is rank 0, the other ranks are forked VllmWorkerProcess children', () => {
    const plan = planOf({ version: '0.7.3', launch: 'python-module', tensorParallel: 2, gpus: [0, 2] });
    expect(plan).toMatchObject({ role: 'api-server', rank: 0, comm: 'python3', env: { CUDA_VISIBLE_DEVICES: '0,2' } });
    expect(plan.argv.slice(0, 3)).toEqual(['python3', '-m', 'vllm.entrypoints.openai.api_server']);
    expect(plan.children.map((c) => [c.argv, c.rank, c.device?.gpu])).toEqual([[plan.argv, 1, 2]]);
  });

  it('names whole GPUs by UUID when asked', () => {
    const s = scenarioWith({ gpus: [2], visibleDevices: 'uuid' });
    const plan = planOf({ gpus: [2], visibleDevices: 'uuid' });
    expect(plan.env.CUDA_VISIBLE_DEVICES).toBe(hostStateAt(s, 0).gpus[2]?.uuid);
  });
});

describe('devices over time', () => {
  it('demo: the GPU 1 engines lose their instances while GPU 1 is reconfigured and get new UUIDs after', () => {
    const s = loadScenarioFile(resolveScenarioPath('demo'));
    const e = s.engines.find((x) => x.mig?.[0]?.gpu === 1 && x.mig[0].instance === 0);
    if (!e) throw new Error('no engine on GPU 1');
    const before = engineDevicesAt(e, s, hostStateAt(s, 100));
    const during = engineDevicesAt(e, s, hostStateAt(s, 400));
    const after = engineDevicesAt(e, s, hostStateAt(s, 700));
    expect(before.ok && after.ok).toBe(true);
    expect(during).toMatchObject({ ok: false });
    if (before.ok && after.ok) {
      expect(before.devices[0]?.migUuid).toMatch(/^MIG-/);
      expect(after.devices[0]?.migUuid).not.toBe(before.devices[0]?.migUuid);
    }
  });

  it('an engine cannot run on a GPU that fell off the bus', () => {
    const s = scenarioWith({ gpus: [2] });
    const lost = hostStateAt(s, 0, parseControl({ lostGpus: [2] }, s));
    expect(engineDevicesAt(s.engines[0] as never, s, lost)).toMatchObject({ ok: false, reason: expect.stringContaining('gpus[2]') });
  });
});

describe('the Rust frontend engine (frontend: rust)', () => {
  const base = { model: 'Qwen/Qwen3-8B', port: 18031, version: '0.13.0', frontend: 'rust', dataParallel: 2, gpus: [0, 2] };

  it('vllm serve without --port, its first child the vllm-rs frontend on fd 3 with the options as JSON', () => {
    const plan = planOf(base);
    expect(plan.argv).toEqual(['/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'Qwen/Qwen3-8B', '-dp', '2']);
    const front = plan.children[0] as ProcPlan;
    expect(front.key).toBe('frontend');
    expect(front.argv.slice(0, 4)).toEqual(['/usr/local/lib/python3.12/dist-packages/vllm/vllm-rs', 'frontend', '--listen-fd', '3']);
    expect(front.argv.slice(-2)).toEqual(['--args-json', '{"model": "Qwen/Qwen3-8B", "model_tag": "Qwen/Qwen3-8B", "data_parallel_size": 2}']);
    // the sidecar reads it as vLLM's own launch line would be read
    expect(parseVllmCmdline(front.argv)).toMatchObject({ entrypoint: 'rust-frontend', listenFd: 3, model: 'Qwen/Qwen3-8B', parallel: { data: 2 }, problems: [] });
  });

  it('is refused for a Python-module or docker launch, or a V0 version', () => {
    for (const extra of [{ launch: 'python-module' }, { version: '0.7.3', dataParallel: 1, gpus: [0] }]) {
      expect(() => scenarioWith({ ...base, ...extra })).toThrow(/frontend/);
    }
  });
});

describe('toRustOpenMetrics', () => {
  const classic = [
    '# HELP python_gc_objects_collected_total Objects collected during gc',
    '# TYPE python_gc_objects_collected_total counter',
    'python_gc_objects_collected_total{generation="0"} 1.0',
    '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_total counter',
    'vllm:prompt_tokens_total{engine="0",model_name="m"} 5.0',
    '# HELP vllm:prompt_tokens_created Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_created gauge',
    'vllm:prompt_tokens_created{engine="0",model_name="m"} 1.7e+09',
    '# HELP vllm:iteration_tokens_total Histogram of number of tokens per engine_step.',
    '# TYPE vllm:iteration_tokens_total histogram',
    'vllm:iteration_tokens_total_bucket{engine="0",le="+Inf",model_name="m"} 1.0',
    'vllm:cache_config_info{block_size="16",engine="0"} 1.0',
    '',
  ].join('\n');

  it('keeps vLLM families, names counter families without _total, drops _created and what the Rust registry lacks, ends with # EOF', () => {
    expect(toRustOpenMetrics(classic).split('\n')).toEqual([
      '# HELP vllm:prompt_tokens Number of prefill tokens processed.',
      '# TYPE vllm:prompt_tokens counter',
      'vllm:prompt_tokens_total{engine="0",model_name="m"} 5.0',
      '# HELP vllm:iteration_tokens_total Histogram of number of tokens per engine_step.',
      '# TYPE vllm:iteration_tokens_total histogram',
      'vllm:iteration_tokens_total_bucket{engine="0",le="+Inf",model_name="m"} 1.0',
      '# EOF',
      '',
    ]);
  });
});
