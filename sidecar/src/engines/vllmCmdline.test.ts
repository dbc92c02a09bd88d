import {
  classifyProcesses,
  DEFAULT_VLLM_HOST,
  DEFAULT_VLLM_PORT,
  localEndpoint,
  parseLogPrefix,
  parseProcessComm,
  parseProcessRole,
  parseVllmCmdline,
  splitProcCmdline,
  type ProcessRole,
} from './vllmCmdline.js';

const argv = (s: string) => s.split(' ');

describe('parseVllmCmdline: launch forms', () => {
  it.each([
    ['vllm serve', 'vllm serve org/model --port 8001 -tp 2'],
    ['the vllm script through its shebang interpreter', '/opt/venv/bin/python3 /opt/venv/bin/vllm serve org/model --port 8001 -tp 2'],
    ['a path to vllm', '/home/u/.local/bin/vllm serve org/model --port=8001 --tensor-parallel-size=2'],
    ['python -m vllm.entrypoints.openai.api_server', 'python -m vllm.entrypoints.openai.api_server --model org/model --port 8001 -tp 2'],
    ['python options before -m', 'python3.12 -u -X faulthandler -m vllm.entrypoints.openai.api_server --model=org/model --port 8001 -tp=2'],
    ['-m joined to the module', 'python3 -mvllm.entrypoints.openai.api_server --model org/model --port 8001 -tp 2'],
    ['the CLI module', 'python -m vllm.entrypoints.cli.main serve org/model --port 8001 -tp 2'],
    ['underscore flags', 'vllm serve org/model --port 8001 --tensor_parallel_size 2'],
  ])('%s', (_what, cmd) => {
    const l = parseVllmCmdline(argv(cmd));
    expect(l).toMatchObject({ model: 'org/model', port: 8001, host: DEFAULT_VLLM_HOST, parallel: { tensor: 2 } });
  });

  it('the simple demo server, and the server module run as a file', () => {
    expect(parseVllmCmdline(argv('python3 -m vllm.entrypoints.api_server --port 9000'))).toMatchObject({
      entrypoint: 'simple-api-server',
      model: null,
      port: 9000,
    });
    expect(parseVllmCmdline(argv('python /src/vllm/vllm/entrypoints/openai/api_server.py --model m'))).toMatchObject({
      entrypoint: 'openai-api-server',
      model: 'm',
    });
  });

  it('defaults: port 8000 and all interfaces, as vLLM', () => {
    const l = parseVllmCmdline(argv('vllm serve facebook/opt-125m'));
    expect(l).toMatchObject({
      entrypoint: 'cli-serve',
      host: '0.0.0.0',
      port: 8000,
      hostGiven: false,
      portGiven: false,
      servedModelNames: ['facebook/opt-125m'],
      parallel: { tensor: 1, pipeline: 1, data: 1, dataLocal: null, expert: false },
      apiServerCount: null,
      uds: null,
      tls: false,
      headless: false,
      problems: [],
    });
    expect(DEFAULT_VLLM_PORT).toBe(8000);
  });

  it('served model names (one or several), parallel sizes, API servers, LoRA modules', () => {
    const l = parseVllmCmdline([
      'vllm',
      'serve',
      'meta-llama/Llama-3.1-70B',
      '--served-model-name',
      'llama',
      'llama-70b',
      '-pp',
      '2',
      '--tensor-parallel-size',
      '4',
      '-dp',
      '4',
      '--data-parallel-size-local',
      '2',
      '--api-server-count=3',
      '--enable-expert-parallel',
      '--enable-lora',
      '--lora-modules',
      'sql=/a/sql',
      '{"name": "chat", "path": "/a/chat", "base_model_name": "llama"}',
      '--trust-remote-code',
      '--host',
      '10.0.0.5',
    ]);
    expect(l).toMatchObject({
      model: 'meta-llama/Llama-3.1-70B',
      servedModelNames: ['llama', 'llama-70b'],
      parallel: { tensor: 4, pipeline: 2, data: 4, dataLocal: 2, expert: true },
      apiServerCount: 3,
      loraModules: ['sql', 'chat'],
      host: '10.0.0.5',
    });
  });

  it('--model wins over nothing; the positional after serve is the model even after boolean flags', () => {
    expect(parseVllmCmdline(argv('vllm serve --trust-remote-code org/m --port 1'))?.model).toBe('org/m');
    expect(parseVllmCmdline(argv('vllm serve --max-model-len 4096 org/m'))?.model).toBe('org/m');
    expect(parseVllmCmdline(argv('vllm serve --model org/m'))?.model).toBe('org/m');
    expect(parseVllmCmdline(argv('vllm serve'))?.model).toBeNull();
  });

  it('unix socket, TLS, headless, config file', () => {
    expect(parseVllmCmdline(argv('vllm serve m --uds /run/vllm.sock'))?.uds).toBe('/run/vllm.sock');
    expect(parseVllmCmdline(argv('vllm serve m --ssl-keyfile k.pem --ssl-certfile c.pem'))?.tls).toBe(true);
    expect(parseVllmCmdline(argv('vllm serve m --headless -dp 4 -dpl 2 -dpr 2'))).toMatchObject({
      headless: true,
      dataParallelStartRank: 2,
    });
    expect(parseVllmCmdline(argv('vllm serve --config /etc/vllm.yaml'))?.configFile).toBe('/etc/vllm.yaml');
  });

  it('bad numbers keep the default and say so', () => {
    const l = parseVllmCmdline(argv('vllm serve m --port 99999 -tp two'));
    expect([l?.port, l?.parallel.tensor]).toEqual([8000, 1]);
    expect(l?.problems).toEqual([
      '--port "99999" is not a valid number; 8000 assumed',
      '--tensor-parallel-size "two" is not a valid number; 1 assumed',
    ]);
  });

  it.each([
    ['vllm bench', 'vllm bench serve --model m'],
    ['vllm chat', 'vllm chat --url http://x'],
    ['python -c', 'python3 -c import vllm'],
    ['another module', 'python -m sglang.launch_server --port 8000'],
    ['another script', 'python3 /srv/app.py serve'],
    ['not python', 'node server.js --port 8000'],
    ['a spawn child', 'python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5) --multiprocessing-fork'],
    ['empty', ''],
  ])('not a launch: %s', (_what, cmd) => {
    expect(parseVllmCmdline(cmd === '' ? [] : argv(cmd))).toBeNull();
  });

  it('splits /proc/PID/cmdline on NUL', () => {
    expect(splitProcCmdline(['vllm', 'serve', 'm', '--port', '8001', ''].join('\u0000'))).toEqual(['vllm', 'serve', 'm', '--port', '8001']);
    expect(splitProcCmdline(Buffer.from('VLLM::EngineCore\0\0\0'))).toEqual(['VLLM::EngineCore']);
  });
});

describe('localEndpoint', () => {
  const ep = (cmd: string) => localEndpoint(parseVllmCmdline(argv(cmd)) as NonNullable<ReturnType<typeof parseVllmCmdline>>);
  it('probes wildcard binds on loopback', () => {
    expect(ep('vllm serve m')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8000, url: 'http://127.0.0.1:8000' });
    expect(ep('vllm serve m --host :: --port 8001')).toMatchObject({ url: 'http://[::1]:8001' });
    expect(ep('vllm serve m --host 10.1.2.3')).toMatchObject({ url: 'http://10.1.2.3:8000' });
    expect(ep('vllm serve m --host fe80::1 --ssl-keyfile k --ssl-certfile c')).toMatchObject({ url: 'https://[fe80::1]:8000' });
    expect(ep('vllm serve m --uds /tmp/v.sock')).toEqual({ kind: 'unix', socketPath: '/tmp/v.sock' });
  });

  it('turns no --host but an IP or host-name literal into a URL: another path, port or host cannot be smuggled in', () => {
    expect(ep('vllm serve x --host 127.0.0.1/internal/secret# --port 8000')).toEqual({
      kind: 'invalid', port: 8000, problem: '--host is neither an IP address nor a host name (it contains "/")',
    });
    expect(ep('vllm serve x --host 127.0.0.1:9000/admin? --port 8000')).toMatchObject({ kind: 'invalid', port: 8000 });
    expect(ep('vllm serve x --host not:ipv6')).toMatchObject({ kind: 'invalid', problem: expect.stringContaining('":"') });
    expect(ep('vllm serve x --host gpu-node-07 --port 8001')).toMatchObject({ kind: 'tcp', url: 'http://gpu-node-07:8001' });
  });

  it('keeps at most 256 characters of any argument, and 256 arguments', () => {
    const args = splitProcCmdline(['vllm', 'serve', 'm'.repeat(60_000), ...Array(1000).fill('--x')].join('\0'));
    expect(args).toHaveLength(256);
    expect(Array.from(args[2] as string)).toHaveLength(256);
    expect(parseVllmCmdline(args)?.model).toMatch(/^m{255}…$/);
  });
});

const role = (s: string | string[]): Omit<ProcessRole, 'launch'> | null => {
  const r = parseProcessRole(typeof s === 'string' ? [s] : s);
  if (!r) return null;
  const rest: ProcessRole = { ...r };
  delete rest.launch;
  return rest;
};

describe('parseProcessRole: process titles', () => {
  it.each<[string, Omit<ProcessRole, 'launch'> | null]>([
    ['VLLM::EngineCore', { role: 'engine-core', source: 'title' }],
    ['VLLM::EngineCore_DP3', { role: 'engine-core', dp: 3, source: 'title' }],
    ['VLLM::Worker', { role: 'worker', source: 'title' }],
    ['VLLM::Worker_TP5', { role: 'worker', tp: 5, source: 'title' }],
    ['VLLM::Worker_PP1_TP0', { role: 'worker', pp: 1, tp: 0, source: 'title' }],
    ['VLLM::Worker_DP1_PP0_PCP1_TP2_DCP0_EP9', { role: 'worker', dp: 1, pp: 0, pcp: 1, tp: 2, dcp: 0, ep: 9, source: 'title' }],
    ['VLLM::Worker_TP0_EP0', { role: 'worker', tp: 0, ep: 0, source: 'title' }],
    ['VLLM::APIServer_2', { role: 'api-server', index: 2, source: 'title' }],
    ['VLLM::DPCoordinator', { role: 'dp-coordinator', source: 'title' }],
    // v0.10.0: a forked worker appended its suffix to the engine core's title
    ['VLLM::EngineCore_TP1', { role: 'worker', tp: 1, source: 'title' }],
    ['VLLM::EngineCore_PP1_TP0', { role: 'worker', pp: 1, tp: 0, source: 'title' }],
    // padding that setproctitle may leave
    ['VLLM::EngineCore_DP0   ', { role: 'engine-core', dp: 0, source: 'title' }],
    // not ours
    ['OTHER::EngineCore', null],
    ['VLLM::Scheduler', null],
    ['VLLM::Worker_XX1', null],
    ['vllm::worker', null],
  ])('%s', (title, expected) => {
    expect(role(title)).toEqual(expected);
  });

  it('accepts another VLLM_PROCESS_NAME_PREFIX when told', () => {
    expect(parseProcessRole(['MYLLM::Worker_TP1'], { titlePrefixes: ['MYLLM'] })).toMatchObject({ role: 'worker', tp: 1 });
    expect(parseProcessRole(['MYLLM::Worker_TP1'])).toBeNull();
  });

  it('Ray workers, launches, and the v0.10.0 spawn bootstrap with an appended suffix', () => {
    expect(role('ray::RayWorkerWrapper')).toEqual({ role: 'worker', source: 'ray' });
    expect(role(['ray::RayWorkerWrapper.execute_method'])).toEqual({ role: 'worker', source: 'ray' });
    expect(parseProcessRole(argv('/usr/bin/python3 /usr/local/bin/vllm serve m -tp 2'))).toMatchObject({
      role: 'api-server',
      source: 'launch',
      launch: { model: 'm', parallel: { tensor: 2 } },
    });
    expect(
      role(argv('/venv/bin/python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=56, pipe_handle=55) --multiprocessing-fork_PP1_TP3'))
    ).toEqual({ role: 'worker', pp: 1, tp: 3, source: 'spawn-suffix' });
    expect(role(argv('/venv/bin/python3 -c from multiprocessing.resource_tracker import main;main(8)'))).toBeNull();
  });
});

describe('parseProcessComm (15-character names)', () => {
  it.each<[string, Omit<ProcessRole, 'launch'> | null]>([
    ['VLLM::EngineCor', { role: 'engine-core', source: 'comm' }],
    ['VLLM::Worker_TP', { role: 'worker', source: 'comm' }], // rank cut off
    ['VLLM::APIServer', { role: 'api-server', source: 'comm' }],
    ['VLLM::DPCoordin', { role: 'dp-coordinator', source: 'comm' }],
    ['VLLM::Worker', { role: 'worker', source: 'comm' }], // short enough to be whole
    ['VLLM::EngineCore'.slice(0, 15), { role: 'engine-core', source: 'comm' }],
    ['ray::RayWorkerW', { role: 'worker', source: 'comm' }],
    ['vllm', { role: 'api-server', source: 'comm' }],
    ['python3', null],
    ['VLLM::Schedule', null],
  ])('%s', (comm, expected) => {
    expect(parseProcessComm(comm)).toEqual(expected);
  });
});

describe('parseLogPrefix', () => {
  it.each([
    ['(APIServer pid=3761) INFO 09-03 ...', 'APIServer', 3761, { role: 'api-server', source: 'log' }],
    ['(ApiServer_1 pid=7) INFO', 'ApiServer_1', 7, { role: 'api-server', index: 1, source: 'log' }],
    ['(EngineCore_DP1 pid=9) INFO', 'EngineCore_DP1', 9, { role: 'engine-core', dp: 1, source: 'log' }],
    ['(EngineCore_0 pid=3902) INFO', 'EngineCore_0', 3902, { role: 'engine-core', dp: 0, source: 'log' }],
    ['(VllmWorker TP1 pid=3975) INFO', 'VllmWorker TP1', 3975, { role: 'worker', tp: 1, source: 'log' }],
    ['(VllmWorker PP1_TP0 pid=5) INFO', 'VllmWorker PP1_TP0', 5, { role: 'worker', pp: 1, tp: 0, source: 'log' }],
    ['(VllmWorker rank=3 pid=5) INFO', 'VllmWorker rank=3', 5, { role: 'worker', rank: 3, source: 'log' }],
    ['(Worker_TP0_EP0 pid=5) INFO', 'Worker_TP0_EP0', 5, { role: 'worker', tp: 0, ep: 0, source: 'log' }],
    ['(VllmWorkerProcess pid=123) INFO', 'VllmWorkerProcess', 123, { role: 'worker', source: 'log' }],
    ['\u001b[0;36m(EngineCore_DP0 pid=1)\u001b[0;0m INFO', 'EngineCore_DP0', 1, { role: 'engine-core', dp: 0, source: 'log' }],
  ])('%s', (line, name, pid, expected) => {
    expect(parseLogPrefix(line)).toEqual({ name, pid, ip: null, role: expected, via: [] });
  });

  it('nested Ray prefixes: the innermost writer, the outer ones in `via`', () => {
    expect(parseLogPrefix('(EngineCore_0 pid=1257) (RayWorkerWrapper pid=374, ip=10.254.6.219) WARNING x')).toEqual({
      name: 'RayWorkerWrapper',
      pid: 374,
      ip: '10.254.6.219',
      role: { role: 'worker', source: 'log' },
      via: [{ name: 'EngineCore_0', pid: 1257, ip: null, role: { role: 'engine-core', dp: 0, source: 'log' } }],
    });
  });

  it('null for lines without a prefix', () => {
    expect(parseLogPrefix('INFO 09-03 02:11:08 [__init__.py:241] Automatically detected platform cuda.')).toBeNull();
    expect(parseLogPrefix("(2, 16777216, 10, 'psm_534ae64d')")).toBeNull();
  });
});

describe('classifyProcesses (process trees of versions without titles)', () => {
  const launch = argv('/usr/bin/python3 /usr/local/bin/vllm serve m -tp 2');
  const spawn = argv('/usr/bin/python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7) --multiprocessing-fork');
  const tracker = argv('/usr/bin/python3 -c from multiprocessing.resource_tracker import main;main(5)');

  it('V1 before titles: API server → engine core → workers', () => {
    const roles = classifyProcesses([
      { pid: 10, ppid: 1, argv: launch },
      { pid: 11, ppid: 10, argv: tracker },
      { pid: 12, ppid: 10, argv: spawn },
      { pid: 13, ppid: 12, argv: spawn },
      { pid: 14, ppid: 12, argv: spawn },
      { pid: 99, ppid: 1, argv: spawn }, // someone else's multiprocessing child
    ]);
    expect([...roles].map(([pid, r]) => [pid, r.role, r.source]).sort()).toEqual([
      [10, 'api-server', 'launch'],
      [12, 'engine-core', 'tree'],
      [13, 'worker', 'tree'],
      [14, 'worker', 'tree'],
    ]);
  });

  it('V0 with fork: workers repeat the API server command line', () => {
    const roles = classifyProcesses([
      { pid: 20, ppid: 1, argv: launch },
      { pid: 21, ppid: 20, argv: launch },
    ]);
    expect(roles.get(20)).toMatchObject({ role: 'api-server', source: 'launch' });
    expect(roles.get(21)).toEqual({ role: 'worker', source: 'tree' });
  });

  it('titled processes keep their titles', () => {
    const roles = classifyProcesses([
      { pid: 30, ppid: 1, argv: launch },
      { pid: 31, ppid: 30, argv: ['VLLM::EngineCore'] },
      { pid: 32, ppid: 31, argv: ['VLLM::Worker_TP0'] },
    ]);
    expect([roles.get(31)?.role, roles.get(32)?.tp]).toEqual(['engine-core', 0]);
  });
});
