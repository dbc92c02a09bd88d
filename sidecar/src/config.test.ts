import { buildProgram, toConfig } from './config.js';

function parse(args: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const program = buildProgram().exitOverride().configureOutput({ writeErr: () => undefined });
    program.parse(['node', 'gpufleet-sidecar', ...args]);
    return toConfig(program.opts());
  } finally {
    process.env = saved;
  }
}

describe('configuration', () => {
  it('has defaults an operator can run with', () => {
    const c = parse([]);
    expect(c.listenHost).toBe('0.0.0.0');
    expect(c.listenPort).toBe(9740);
    expect(c.intervalMs).toBe(5000);
    expect(c.historyMs).toBe(3_600_000);
    expect(c.nvidiaSmi).toBe('nvidia-smi');
    expect(c.dockerSocket).toBe('/var/run/docker.sock');
    expect(c.busyThreshold).toBe(0.9);
    expect(c.engines).toEqual([]);
    expect(c).toMatchObject({
      webConfigFile: null, maxConnections: 512, headerTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, maxHeavyRequests: 32,
    });
  });

  it('reads the server options from flags and GPUFLEET_WEB_* variables', () => {
    const c = parse(['--web.config.file', '/etc/gpufleet/web.yml', '--web.max-connections', '64', '--web.header-timeout', '2s'], {
      GPUFLEET_WEB_MAX_HEAVY_REQUESTS: '4', GPUFLEET_WEB_KEEPALIVE_TIMEOUT: '1m', GPUFLEET_WEB_MAX_CONNECTIONS: '9',
    });
    expect(c).toMatchObject({ webConfigFile: '/etc/gpufleet/web.yml', maxConnections: 64, headerTimeoutMs: 2000, maxHeavyRequests: 4, keepAliveTimeoutMs: 60_000 });
  });

  it('reads flags', () => {
    const c = parse([
      '--listen', '127.0.0.1:19000', '--interval', '500ms', '--history', '30m', '--engine', 'http://a:8000',
      '--engine', 'http://b:8001', '--docker-socket', 'none', '--busy-threshold', '0.75', '--nvidia-smi-mode', 'spawn',
    ]);
    expect(c).toMatchObject({
      listenHost: '127.0.0.1', listenPort: 19000, intervalMs: 500, historyMs: 1_800_000,
      engines: ['http://a:8000', 'http://b:8001'], dockerSocket: null, busyThreshold: 0.75, nvidiaSmiMode: 'spawn',
    });
  });

  it('reads GPUFLEET_* variables, and a flag wins over its variable', () => {
    const c = parse(['--interval', '2s'], {
      GPUFLEET_INTERVAL: '10s', GPUFLEET_LISTEN: ':9999', GPUFLEET_ENGINE: 'http://x:1,http://y:2', GPUFLEET_TOKEN_FILE: '/run/t',
    });
    expect(c.intervalMs).toBe(2000);
    expect(c.listenPort).toBe(9999);
    expect(c.engines).toEqual(['http://x:1', 'http://y:2']);
    expect(c.tokenFile).toBe('/run/t');
  });

  it.each([
    [['--interval', 'soon'], /--interval/],
    [['--interval', '0s'], /--interval/],
    [['--listen', 'host:99999'], /--listen/],
    [['--busy-threshold', '1.5'], /--busy-threshold/],
    [['--engine', 'ftp://x'], /--engine/],
    [['--history', '1s', '--interval', '5s'], /--history/],
    [['--log-level', 'loud'], /log-level/],
    [['--interval', '50ms'], /--interval: 50ms is below the minimum of 100ms/],
    [['--history-budget', 'lots'], /--history-budget/],
    [['--web.max-connections', '0'], /--web\.max-connections/],
    [['--web.header-timeout', '1m', '--web.request-timeout', '30s'], /--web\.header-timeout must not be longer than --web\.request-timeout/],
    [['--web.max-heavy-requests', 'many'], /--web\.max-heavy-requests/],
  ])('rejects %j with an error naming the option', (args, re) => {
    expect(() => parse(args as string[])).toThrow(re);
  });

  it('bounds discovered engines: loopback and own addresses unless networks are allowed, 256 engines unless told', () => {
    expect(parse([])).toMatchObject({ engineAllowRemote: [], maxEngines: 256 });
    expect(parse(['--engine-allow-remote', '10.0.0.0/8,fd00::/8', '--max-engines', '1000'])).toMatchObject({
      engineAllowRemote: ['10.0.0.0/8', 'fd00::/8'], maxEngines: 1000,
    });
    expect(parse([], { GPUFLEET_ENGINE_ALLOW_REMOTE: '192.168.0.0/16', GPUFLEET_MAX_ENGINES: '32' })).toMatchObject({
      engineAllowRemote: ['192.168.0.0/16'], maxEngines: 32,
    });
    expect(() => parse(['--engine-allow-remote', '10.0.0.1'])).toThrow(/--engine-allow-remote: "10.0.0.1" is not a network in CIDR form/);
    expect(() => parse(['--max-engines', '0'])).toThrow(/--max-engines/);
    expect(() => parse([], { GPUFLEET_MAX_ENGINES: 'many' })).toThrow(/--max-engines/);
  });

  it('takes --nvidia-smi-mode query and its --nvidia-smi-full-interval (5s unless told), refusing a bad one', () => {
    expect(parse(['--nvidia-smi-mode', 'query']).nvidiaSmiMode).toBe('query');
    expect(parse([], { GPUFLEET_NVIDIA_SMI_MODE: 'query' }).nvidiaSmiMode).toBe('query');
    expect(() => parse(['--nvidia-smi-mode', 'csv'])).toThrow(/loop, spawn, query|"loop", "spawn", "query"/);
    expect(parse([]).nvidiaSmiFullIntervalMs).toBe(5000);
    expect(parse([], { GPUFLEET_NVIDIA_SMI_FULL_INTERVAL: '30s' }).nvidiaSmiFullIntervalMs).toBe(30_000);
    expect(() => parse(['--nvidia-smi-full-interval', 'rarely'])).toThrow(/--nvidia-smi-full-interval/);
    expect(buildProgram().helpInformation()).toContain('GPUFLEET_NVIDIA_SMI_FULL_INTERVAL');
  });

  it('reads vGPU hosts\' vgpu -q interval from --vgpu-interval or GPUFLEET_VGPU_INTERVAL (30s unless told), refusing a bad one', () => {
    expect(parse([]).vgpuIntervalMs).toBe(30_000);
    expect(parse([], { GPUFLEET_VGPU_INTERVAL: '1m' }).vgpuIntervalMs).toBe(60_000);
    expect(parse(['--vgpu-interval', '5s'], { GPUFLEET_VGPU_INTERVAL: '1m' }).vgpuIntervalMs).toBe(5000);
    expect(() => parse(['--vgpu-interval', 'often'])).toThrow(/--vgpu-interval/);
    expect(buildProgram().helpInformation()).toContain('GPUFLEET_VGPU_INTERVAL');
  });

  it('prints help that explains every option and its variable', () => {
    const help = buildProgram().helpInformation();
    for (const flag of ['--listen', '--interval', '--history', '--nvidia-smi', '--proc', '--docker-socket', '--engine',
      '--busy-threshold', '--token-file', '--simulate', '--log-level', '--engine-allow-remote', '--max-engines', '--web.config.file', '--web.max-connections',
      '--web.header-timeout', '--web.request-timeout', '--web.keepalive-timeout', '--web.max-heavy-requests']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('GPUFLEET_INTERVAL');
    expect(help).toContain('GPUFLEET_WEB_CONFIG_FILE');
  });

  it('refuses a history that does not fit the memory budget, naming the largest that does', () => {
    expect(() => parse(['--history', '365d'])).toThrow(
      /^--history 365d at 5s needs ~\d+ GiB for up to 5000 series \(--max-series\); the budget is 512 MiB \(--history-budget\): at most --history \d+h fits at 5s/,
    );
    // What it names fits, and a larger budget or fewer series let a longer history in.
    const fits = /at most --history (\d+h)/.exec(String((() => { try { parse(['--history', '365d']); } catch (e) { return e; } })()))?.[1] as string;
    expect(parse(['--history', fits]).historyMs).toBe(Number(fits.slice(0, -1)) * 3_600_000);
    expect(parse(['--history', '7d'], { GPUFLEET_HISTORY_BUDGET: '4GiB' }).historyBudgetBytes).toBe(4 * 1024 ** 3);
    expect(parse(['--history', '7d', '--max-series', '200']).historyMs).toBe(7 * 86_400_000);
  });
});

// The capacity model's options: defaults, flags, GPUFLEET_* twins, and bad values named.
describe('capacity options', () => {
  it('default to idle-held after 15 minutes under 5 % utilization, unavailable for 10 minutes after an Xid', () => {
    expect(parse([])).toMatchObject({ idleHeldAfterMs: 900_000, idleUtilization: 0.05, unavailableAfterXidMs: 600_000 });
  });

  it('read flags and their variables', () => {
    expect(parse(['--idle-held-after', '1h', '--idle-utilization', '0.1', '--unavailable-after-xid', '30m'])).toMatchObject({
      idleHeldAfterMs: 3_600_000, idleUtilization: 0.1, unavailableAfterXidMs: 1_800_000,
    });
    expect(parse([], { GPUFLEET_IDLE_HELD_AFTER: '2m', GPUFLEET_IDLE_UTILIZATION: '0.02', GPUFLEET_UNAVAILABLE_AFTER_XID: '90s' })).toMatchObject({
      idleHeldAfterMs: 120_000, idleUtilization: 0.02, unavailableAfterXidMs: 90_000,
    });
    const help = buildProgram().helpInformation();
    for (const x of ['--idle-held-after', 'GPUFLEET_IDLE_HELD_AFTER', '--idle-utilization', 'GPUFLEET_IDLE_UTILIZATION', '--unavailable-after-xid']) expect(help).toContain(x);
  });

  it.each([
    [['--idle-held-after', 'soon'], /--idle-held-after/],
    [['--idle-held-after', '0s'], /--idle-held-after/],
    [['--idle-utilization', '0'], /--idle-utilization/],
    [['--idle-utilization', '5'], /--idle-utilization: "5" must be a number above 0 and at most 1/],
    [['--idle-utilization', ''], /--idle-utilization/],
    [['--unavailable-after-xid', '-1m'], /--unavailable-after-xid/],
  ])('rejects %j naming the option', (args, re) => {
    expect(() => parse(args as string[])).toThrow(re);
  });

  it('rejects a bad variable too', () => {
    expect(() => parse([], { GPUFLEET_IDLE_UTILIZATION: 'low' })).toThrow(/--idle-utilization/);
  });
});
