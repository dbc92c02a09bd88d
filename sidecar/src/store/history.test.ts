import { History, type Sample } from './history.js';

const s = (key: string, value: number | null, labels: Record<string, string> = { gpu: key }): Sample => ({
  key,
  metric: 'gpu.utilization',
  labels,
  value,
});

describe('History', () => {
  it('keeps at most `capacity` ticks and returns them oldest first', () => {
    const h = new History(3, 100);
    for (let t = 1; t <= 5; t++) h.append(t * 1000, [s('a', t * 10)]);
    expect(h.length).toBe(3);
    expect(h.span()).toEqual({ from: 3000, to: 5000 });
    const [r] = h.range(() => true, 0, 10_000);
    expect(r?.times).toEqual([3000, 4000, 5000]);
    expect(r?.values).toEqual([30, 40, 50]);
  });

  it('marks ticks where a series had no value as null and filters by time', () => {
    const h = new History(10, 100);
    h.append(1000, [s('a', 1), s('b', 5)]);
    h.append(2000, [s('a', null), s('b', 6)]);
    h.append(3000, [s('b', 7)]);
    h.append(4000, [s('a', 4), s('b', 8)]);
    const a = h.range((m) => m.labels.gpu === 'a', 1500, 4000);
    expect(a).toHaveLength(1);
    expect(a[0]?.times).toEqual([2000, 3000, 4000]);
    expect(a[0]?.values).toEqual([null, null, 4]);
  });

  it('leaves out series with no value in the requested range', () => {
    const h = new History(10, 100);
    h.append(1000, [s('a', 1)]);
    h.append(2000, [s('b', 2)]);
    expect(h.range(() => true, 1500, 2500).map((r) => r.labels.gpu)).toEqual(['b']);
  });

  it('forgets a series once all its values have left the window', () => {
    const h = new History(2, 100);
    h.append(1000, [s('gone', 1)]);
    h.append(2000, [s('kept', 1)]);
    expect(h.seriesCount).toBe(2);
    h.append(3000, [s('kept', 1)]);
    expect(h.seriesCount).toBe(1);
  });

  it('refuses series beyond maxSeries and counts them', () => {
    const h = new History(5, 2);
    h.append(1000, [s('a', 1), s('b', 2), s('c', 3)]);
    expect(h.seriesCount).toBe(2);
    expect(h.droppedSeries).toBe(1);
  });

  it('averages into maxPoints buckets', () => {
    const h = new History(100, 10);
    for (let t = 0; t < 10; t++) h.append(t * 1000, [s('a', t)]);
    const [r] = h.range(() => true, 0, 10_000, 5);
    expect(r?.values).toEqual([0.5, 2.5, 4.5, 6.5, 8.5]);
    expect(r?.times[0]).toBe(0);
  });

  it('ignores non-finite values', () => {
    const h = new History(5, 10);
    h.append(1000, [s('a', Number.NaN), s('b', Infinity), s('c', 1)]);
    expect(h.seriesCount).toBe(1);
  });
});
