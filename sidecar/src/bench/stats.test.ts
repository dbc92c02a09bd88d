import { formatMs, formatRatio, linearFit, median, quantile, ratio, statChildrenCpuSeconds, statCpuSeconds, statParentPid, statusMB } from './stats.js';

describe('quantile (nearest rank)', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  it('gives the value below which the share q of samples lies', () => {
    expect(quantile(xs, 0.5)).toBe(50);
    expect(quantile(xs, 0.99)).toBe(99);
    expect(quantile(xs, 1)).toBe(100);
    expect(quantile(xs, 0)).toBe(1);
  });
  it('with few samples the p99 is the largest, and no samples give NaN', () => {
    expect(quantile([3, 7, 9], 0.99)).toBe(9);
    expect(quantile([], 0.5)).toBeNaN();
  });
  it('median sorts its input first', () => {
    expect(median([9, 1, 5])).toBe(5);
  });
});

describe('/proc parsing', () => {
  it('reads utime + stime even when the command name holds spaces and parentheses', () => {
    // fields 14 and 15 (utime, stime) are 250 and 50 clock ticks: 3 s
    const stat = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 300 1000 2000';
    expect(statCpuSeconds(stat)).toBe(3);
    // cutime, cstime (fields 16, 17): the children already waited for
    expect(statChildrenCpuSeconds(stat)).toBe(0);
    expect(statChildrenCpuSeconds(stat.replace(' 250 50 0 0 ', ' 250 50 120 30 '))).toBe(1.5);
    expect(statParentPid(stat)).toBe(1);
  });
  it('refuses text that is not a stat line', () => {
    expect(() => statCpuSeconds('garbage')).toThrow(/not a \/proc\/PID\/stat/);
  });
  it('reads VmRSS in kB as MB', () => {
    expect(statusMB('Name:\tnode\nVmRSS:\t  102400 kB\nVmSwap:\t 0 kB\n', 'VmRSS')).toBeCloseTo(104.8576, 4);
    expect(() => statusMB('Name: x\n', 'VmRSS')).toThrow(/VmRSS/);
    const status = 'VmRSS:\t  102400 kB\nRssAnon:\t   61440 kB\nRssFile:\t   40960 kB\n';
    expect([statusMB(status, 'RssAnon'), statusMB(status, 'RssFile')]).toEqual([62.91456, 41.94304]);
    expect(() => statusMB('VmRSS:\t 1 kB\n', 'RssAnon')).toThrow(/RssAnon/);
  });
});

describe('ratio beside the peer', () => {
  it('is ours over theirs', () => {
    expect(ratio(2, 8)).toBe(0.25);
    expect(formatRatio(ratio(2, 8))).toBe('0.25×');
    expect(formatRatio(ratio(30, 2))).toBe('15×');
    expect(formatRatio(ratio(1, 200))).toBe('0.005×');
  });
  it('has none when the peer figure is missing, zero or not a number', () => {
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(1, NaN)).toBeNull();
    expect(ratio(NaN, 1)).toBeNull();
    expect(formatRatio(null)).toBe('n/a');
  });
  it('formats milliseconds to a useful precision', () => {
    expect(formatMs(0.0421)).toBe('0.042 ms');
    expect(formatMs(12.345)).toBe('12.35 ms');
    expect(formatMs(118.2)).toBe('118 ms');
    expect(formatMs(NaN)).toBe('n/a');
    expect(formatMs(Infinity)).toBe('cut off');
  });
});

describe('linearFit', () => {
  it('recovers the cost per unit and the fixed part of exact points', () => {
    const f = linearFit([1, 8, 32], [10.5, 14, 26]); // 10 + 0.5 x
    expect(f.slope).toBeCloseTo(0.5, 10);
    expect(f.intercept).toBeCloseTo(10, 10);
  });
  it('needs two distinct x', () => {
    expect(() => linearFit([1], [1])).toThrow();
    expect(() => linearFit([2, 2], [1, 3])).toThrow(/different/);
  });
});
