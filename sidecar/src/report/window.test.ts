import { EXIT, ReportError } from './errors.js';
import { parseTime, promRange, resolveWindow } from './window.js';

const NOW = Date.parse('2026-12-02T22:00:00Z');
const none = () => undefined;

function code(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ReportError ? (err.code as number) : -1;
  }
  return undefined;
}

describe('report window', () => {
  it('reads RFC 3339 with a zone and Unix seconds as the same instant', () => {
    expect(parseTime('--from', '2026-12-02T21:00:00Z')).toBe(Date.parse('2026-12-02T21:00:00Z'));
    expect(parseTime('--from', '2026-12-02T22:00:00+01:00')).toBe(Date.parse('2026-12-02T21:00:00Z'));
    expect(parseTime('--from', String(Date.parse('2026-12-02T21:00:00Z') / 1000))).toBe(Date.parse('2026-12-02T21:00:00Z'));
    expect(parseTime('--from', '1796245200.5')).toBe(1796245200500);
  });

  it('refuses zone-less times, milliseconds for seconds, and words (exit 2)', () => {
    expect(code(() => parseTime('--from', '2026-12-02T21:00:00'))).toBe(EXIT.usage);
    expect(code(() => parseTime('--from', String(NOW * 1000)))).toBe(EXIT.usage);
    expect(code(() => parseTime('--from', 'yesterday'))).toBe(EXIT.usage);
  });

  it('--last ends now', () => {
    const w = resolveWindow({ last: '15m', step: '15s' }, NOW, none);
    expect(w).toMatchObject({ startMs: NOW - 900_000, endMs: NOW, stepMs: 15_000 });
    expect(promRange(w)).toBe('15m');
  });

  it('takes exactly one way of giving the window', () => {
    expect(code(() => resolveWindow({ step: '15s' }, NOW, none))).toBe(EXIT.usage);
    expect(code(() => resolveWindow({ last: '5m', from: '1', to: '2', step: '15s' }, NOW, none))).toBe(EXIT.usage);
    expect(code(() => resolveWindow({ from: '2026-12-02T21:00:00Z', step: '15s' }, NOW, none))).toBe(EXIT.usage);
  });

  it('a window starting or ending in the future exits 5; one ending before it starts exits 2', () => {
    expect(code(() => resolveWindow({ from: '2026-12-02T22:10:00Z', to: '2026-12-02T22:20:00Z', step: '15s' }, NOW, none))).toBe(EXIT.futureWindow);
    expect(code(() => resolveWindow({ from: '2026-12-02T21:50:00Z', to: '2026-12-02T22:20:00Z', step: '15s' }, NOW, none))).toBe(EXIT.futureWindow);
    expect(code(() => resolveWindow({ from: '2026-12-02T21:50:00Z', to: '2026-12-02T21:40:00Z', step: '15s' }, NOW, none))).toBe(EXIT.usage);
    // Within a minute of skew is forgiven.
    expect(code(() => resolveWindow({ from: '2026-12-02T21:50:00Z', to: '2026-12-02T22:00:30Z', step: '15s' }, NOW, none))).toBeUndefined();
  });

  it('a named window: its times; an open one ends now; an unknown one exits 2', () => {
    const lookup = (n: string) => (n === 'a' ? { name: 'a', startMs: NOW - 60_000, endMs: NOW - 30_000 } : n === 'open' ? { name: 'open', startMs: NOW - 60_000, endMs: null } : undefined);
    expect(resolveWindow({ window: 'a', step: '5s' }, NOW, lookup)).toMatchObject({ startMs: NOW - 60_000, endMs: NOW - 30_000 });
    const open = resolveWindow({ window: 'open', step: '5s' }, NOW, lookup);
    expect(open.endMs).toBe(NOW);
    expect(open.source).toMatch(/still open/);
    expect(code(() => resolveWindow({ window: 'b', step: '5s' }, NOW, lookup))).toBe(EXIT.usage);
  });

  it('needs at least two steps in the window', () => {
    expect(code(() => resolveWindow({ last: '20s', step: '15s' }, NOW, none))).toBe(EXIT.usage);
    expect(code(() => resolveWindow({ last: '10m', step: '0s' }, NOW, none))).toBe(EXIT.usage);
  });
});
