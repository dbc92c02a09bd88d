import { DEFAULT_SOAK_MS, FULL_SOAK_MS, parseBenchArgs, SECTIONS } from './options.js';

describe('bench options', () => {
  it('runs every section with a short soak by default', () => {
    const o = parseBenchArgs([]);
    expect([...o.sections]).toEqual([...SECTIONS]);
    expect(o.soakMs).toBe(DEFAULT_SOAK_MS);
    expect(o.soakRate).toBe(500);
  });
  it('--soak asks for the 10-minute soak; --soak-duration for any length', () => {
    expect(parseBenchArgs(['--soak']).soakMs).toBe(FULL_SOAK_MS);
    expect(parseBenchArgs(['--soak-duration', '90s']).soakMs).toBe(90_000);
    expect(parseBenchArgs(['--soak-duration=2m']).soakMs).toBe(120_000);
  });
  it('--only and --skip choose sections, and asking for a soak adds it', () => {
    expect([...parseBenchArgs(['--only', 'parsers,growth']).sections]).toEqual(['parsers', 'growth']);
    expect([...parseBenchArgs(['--only', 'parsers', '--soak']).sections]).toEqual(['parsers', 'soak']);
    expect(parseBenchArgs(['--skip', 'fleet']).sections.has('fleet')).toBe(false);
  });
  it('reads env twins, and a flag on the command line wins', () => {
    const env = { GPUFLEET_BENCH_SOAK_DURATION: '10m', GPUFLEET_BENCH_ONLY: 'parsers' };
    const o = parseBenchArgs([], env);
    expect(o.soakMs).toBe(600_000);
    expect([...o.sections]).toEqual(['parsers', 'soak']);
    expect(parseBenchArgs(['--soak-duration', '30s'], env).soakMs).toBe(30_000);
    expect(() => parseBenchArgs([], { GPUFLEET_BENCH_SOAK_RATE: 'lots' })).toThrow(/--soak-rate/);
  });
  it('refuses what it does not know, naming the option', () => {
    expect(() => parseBenchArgs(['--only', 'bogus'])).toThrow(/--only: unknown section "bogus"/);
    expect(() => parseBenchArgs(['--soak-duration', 'soon'])).toThrow(/is not a duration/);
    expect(() => parseBenchArgs(['--soak-duration', '1s'])).toThrow(/--soak-duration: .* under 5 s/);
    expect(() => parseBenchArgs(['--soak-rate', '-3'])).toThrow(/--soak-rate/);
    expect(() => parseBenchArgs(['--fast'])).toThrow(/unknown option --fast/);
  });
});
