// The capacity model's options: defaults, flags, GPUFLEET_* twins, and bad values named.
import { buildProgram, toConfig } from '../config.js';

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
