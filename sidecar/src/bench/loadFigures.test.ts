import { figures } from './loadFigures.js';

describe('figures', () => {
  it('takes quantiles of ascending latencies and keeps the counts', () => {
    const lat = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(figures(lat, 100, 2, 0)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100, ok: 100, errors: 2, cutOff: 0 });
  });
  it('says a request cut off is the slowest', () => {
    expect(figures([1, 2, Infinity], 2, 0, 1).max).toBe(Infinity);
  });
});
