import type { Sample } from './promClient.js';
import { coverageWarnings, fewObservationWarnings, MIN_OBSERVATIONS, resetWarnings } from './warnings.js';

const s = (metric: Record<string, string>, v: number): Sample => ({ metric, value: [0, String(v)] });
const W = { startMs: 1_000_000, endMs: 1_600_000 };
const KEYS = ['host', 'engine_id'];

describe('report warnings', () => {
  it('a series that starts late or stops early covers only part of the window', () => {
    const a = { host: 'h', engine_id: 'a' };
    const b = { host: 'h', engine_id: 'b' };
    const c = { host: 'h', engine_id: 'c' };
    const w = coverageWarnings('engine', KEYS, [s(a, 1000), s(b, 1200), s(c, 1001)], [s(a, 1600), s(b, 1600), s(c, 1400)], W, 30_000);
    expect(w.map((x) => x.labels?.engine_id)).toEqual(['b', 'c']);
    expect(w[0]?.message).toMatch(/first sample 1970-01-01T00:20:00.000Z/);
    expect(w[1]?.message).toMatch(/last sample/);
    expect(w.every((x) => x.kind === 'missing-data')).toBe(true);
  });

  it('counter resets and thin histograms', () => {
    expect(resetWarnings('vllm:generation_tokens_total', KEYS, [s({ host: 'h', engine_id: 'a' }, 2)])[0]?.message).toMatch(/reset 2 time/);
    const few = fewObservationWarnings('vllm:e2e_request_latency_seconds', KEYS, [
      s({ host: 'h', engine_id: 'a' }, MIN_OBSERVATIONS - 1),
      s({ host: 'h', engine_id: 'b' }, MIN_OBSERVATIONS),
    ]);
    expect(few.map((x) => x.labels?.engine_id)).toEqual(['a']);
  });
});
