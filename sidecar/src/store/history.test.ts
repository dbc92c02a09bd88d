import { FakeClock } from '../testing/fakeClock.js';
import { History, type Sample } from './history.js';

const s = (key: string, value: number | null, labels: Record<string, string> = { gpu: key }): Sample => ({
  key,
  metric: 'gpu.utilization',
  labels,
  value,
});

/** A history on a fake clock that starts at wall = monotonic = 0; `at(t, …)` appends a tick at wall time t. */
function onClock(capacity: number, maxSeries: number) {
  const clock = new FakeClock(0, 0);
  const h = new History(capacity, maxSeries, clock);
  const at = (t: number, samples: Sample[]) => {
    clock.advance(t - clock.wallMs());
    h.append(samples);
  };
  return { h, at, clock };
}

describe('History', () => {
  it('keeps at most `capacity` ticks and returns them oldest first', () => {
    const { h, at } = onClock(3, 100);
    for (let t = 1; t <= 5; t++) at(t * 1000, [s('a', t * 10)]);
    expect(h.length).toBe(3);
    expect(h.span()).toEqual({ from: 3000, to: 5000 });
    const [r] = h.range(() => true, 0, 10_000);
    expect(r?.times).toEqual([3000, 4000, 5000]);
    expect(r?.values).toEqual([30, 40, 50]);
  });

  it('marks ticks where a series had no value as null and filters by time', () => {
    const { h, at } = onClock(10, 100);
    at(1000, [s('a', 1), s('b', 5)]);
    at(2000, [s('a', null), s('b', 6)]);
    at(3000, [s('b', 7)]);
    at(4000, [s('a', 4), s('b', 8)]);
    const a = h.range((m) => m.labels.gpu === 'a', 1500, 4000);
    expect(a).toHaveLength(1);
    expect(a[0]?.times).toEqual([2000, 3000, 4000]);
    expect(a[0]?.values).toEqual([null, null, 4]);
  });

  it('leaves out series with no value in the requested range', () => {
    const { h, at } = onClock(10, 100);
    at(1000, [s('a', 1)]);
    at(2000, [s('b', 2)]);
    expect(h.range(() => true, 1500, 2500).map((r) => r.labels.gpu)).toEqual(['b']);
  });

  it('forgets a series once all its values have left the window', () => {
    const { h, at } = onClock(2, 100);
    at(1000, [s('gone', 1)]);
    at(2000, [s('kept', 1)]);
    expect(h.seriesCount).toBe(2);
    at(3000, [s('kept', 1)]);
    expect(h.seriesCount).toBe(1);
  });

  it('refuses series beyond maxSeries and counts them', () => {
    const { h, at } = onClock(5, 2);
    at(1000, [s('a', 1), s('b', 2), s('c', 3)]);
    expect(h.seriesCount).toBe(2);
    expect(h.droppedSeries).toBe(1);
  });

  it('averages into maxPoints buckets', () => {
    const { h, at } = onClock(100, 10);
    for (let t = 0; t < 10; t++) at(t * 1000, [s('a', t)]);
    const [r] = h.range(() => true, 0, 10_000, 5);
    expect(r?.values).toEqual([0.5, 2.5, 4.5, 6.5, 8.5]);
    expect(r?.times[0]).toBe(0);
  });

  it('ignores non-finite values', () => {
    const { h, at } = onClock(5, 10);
    at(1000, [s('a', Number.NaN), s('b', Infinity), s('c', 1)]);
    expect(h.seriesCount).toBe(1);
  });

  it('a backward wall-clock step keeps the ticks in order and queries whole', () => {
    const { h, at, clock } = onClock(10, 10);
    at(1000, [s('a', 1)]);
    at(2000, [s('a', 2)]);
    // NTP steps the clock back an hour: what was stamped 2000 happened 1 s ago on the clock as it reads now.
    clock.stepWall(-3_600_000);
    clock.advance(1000);
    h.append([s('a', 3)]);
    const now = clock.wallMs();
    const [r] = h.range(() => true, now - 10_000, now);
    expect(r?.values).toEqual([1, 2, 3]);
    expect(r?.times).toEqual([now - 2000, now - 1000, now]);
    expect(h.span()).toEqual({ from: now - 2000, to: now });
    // Nothing is left stamped in the future of the new clock.
    expect(h.range(() => true, now + 1, now + 7_200_000)).toEqual([]);
  });

  it('a forward wall-clock step leaves no hole between the ticks before and after it', () => {
    const { h, at, clock } = onClock(10, 10);
    at(1000, [s('a', 1)]);
    clock.stepWall(+3_600_000);
    clock.advance(1000);
    h.append([s('a', 2)]);
    const now = clock.wallMs();
    const [r] = h.range(() => true, now - 5000, now);
    expect(r?.times).toEqual([now - 1000, now]);
    expect(r?.values).toEqual([1, 2]);
  });
});
