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
  ])('rejects %j with an error naming the option', (args, re) => {
    expect(() => parse(args as string[])).toThrow(re);
  });

  it('prints help that explains every option and its variable', () => {
    const help = buildProgram().helpInformation();
    for (const flag of ['--listen', '--interval', '--history', '--nvidia-smi', '--proc', '--docker-socket', '--engine',
      '--busy-threshold', '--token-file', '--simulate', '--log-level']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('GPUFLEET_INTERVAL');
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
