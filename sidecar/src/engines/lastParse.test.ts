import { LastParse, MAX_REMEMBERED_KEPT_CHARS } from './lastParse.js';
import { parseVllmMetrics } from './vllmMetrics.js';

const lines = (running: number) =>
  `vllm:num_requests_running{engine="0",model_name="m"} ${running}\nvllm:num_requests_waiting{engine="0",model_name="m"} 0\n`;

/** A parse that counts its calls. */
function counted() {
  const calls: string[] = [];
  return { calls, parse: (k: string) => (calls.push(k), parseVllmMetrics(k)) };
}

describe('LastParse', () => {
  it('takes the last result again for the same lines from the same endpoint', () => {
    const last = new LastParse<ReturnType<typeof parseVllmMetrics>>();
    const p = counted();
    const a = last.read('http://127.0.0.1:8000/metrics', lines(1), p.parse);
    // A string equal in characters but built apart, as each scrape's is.
    const b = last.read('http://127.0.0.1:8000/metrics', [lines(1)].join(''), p.parse);
    expect(a.reused).toBe(false);
    expect(b.reused).toBe(true);
    expect(b.result).toBe(a.result);
    expect(p.calls).toHaveLength(1);
  });

  it('reads again when one character changed, and after a change back', () => {
    const last = new LastParse<ReturnType<typeof parseVllmMetrics>>();
    const p = counted();
    const url = 'http://127.0.0.1:8000/metrics';
    expect(last.read(url, lines(1), p.parse).result.engines[0]?.running).toBe(1);
    const changed = last.read(url, lines(2), p.parse);
    expect(changed.reused).toBe(false);
    expect(changed.result.engines[0]?.running).toBe(2);
    const back = last.read(url, lines(1), p.parse);
    expect(back.reused).toBe(false);
    expect(back.result.engines[0]?.running).toBe(1);
    expect(p.calls).toHaveLength(3);
  });

  it('never answers for another endpoint, even with the same lines', () => {
    const last = new LastParse<ReturnType<typeof parseVllmMetrics>>();
    const p = counted();
    const a = last.read('http://127.0.0.1:8000/metrics', lines(1), p.parse);
    const b = last.read('http://127.0.0.1:8001/metrics', lines(1), p.parse);
    expect(b.reused).toBe(false);
    expect(b.result).not.toBe(a.result);
    // Two engines, two of them: each holds its own.
    const x = new LastParse<ReturnType<typeof parseVllmMetrics>>();
    const y = new LastParse<ReturnType<typeof parseVllmMetrics>>();
    x.read('http://h:1/metrics', lines(1), p.parse);
    y.read('http://h:2/metrics', lines(7), p.parse);
    expect(x.read('http://h:1/metrics', lines(1), p.parse).result.engines[0]?.running).toBe(1);
    expect(y.read('http://h:2/metrics', lines(7), p.parse).result.engines[0]?.running).toBe(7);
    expect(y.read('http://h:2/metrics', lines(1), p.parse).reused).toBe(false);
  });

  it('keeps the last result when a parse throws, forgets on clear, and does not hold huge lines', () => {
    const last = new LastParse<number>();
    let n = 0;
    const parse = (k: string) => {
      if (k === 'bad') throw new Error('no');
      return ++n;
    };
    expect(last.read('e', 'ok', parse).result).toBe(1);
    expect(() => last.read('e', 'bad', parse)).toThrow('no');
    expect(last.read('e', 'ok', parse)).toEqual({ result: 1, reused: true });
    last.clear();
    expect(last.read('e', 'ok', parse)).toEqual({ result: 2, reused: false });
    const huge = 'x'.repeat(MAX_REMEMBERED_KEPT_CHARS + 1);
    expect(last.read('e', huge, parse).reused).toBe(false);
    expect(last.read('e', huge, parse)).toEqual({ result: 4, reused: false });
    // and what it held before is gone too: nothing of another answer stays
    expect(last.read('e', 'ok', parse)).toEqual({ result: 5, reused: false });
  });
});
