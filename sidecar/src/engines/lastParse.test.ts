import { LastParse, MAX_REMEMBERED_KEPT_BYTES } from './lastParse.js';
import { parseVllmMetrics } from './vllmMetrics.js';

const lines = (running: number) =>
  `vllm:num_requests_running{engine="0",model_name="m"} ${running}\nvllm:num_requests_waiting{engine="0",model_name="m"} 0\n`;

type Parsed = ReturnType<typeof parseVllmMetrics>;

/** Reads `text` as the collector does: its bytes compared, parsed (and the parse counted) when they differ. */
function reader() {
  const calls: string[] = [];
  const read = (last: LastParse<Parsed>, endpoint: string, text: string) =>
    last.read(endpoint, Buffer.from(text), () => (calls.push(text), parseVllmMetrics(text)));
  return { calls, read };
}

describe('LastParse', () => {
  it('takes the last result again for the same lines from the same endpoint', () => {
    const last = new LastParse<Parsed>();
    const p = reader();
    const a = p.read(last, 'http://127.0.0.1:8000/metrics', lines(1));
    // Equal bytes in a buffer of their own, as each scrape's are.
    const b = p.read(last, 'http://127.0.0.1:8000/metrics', [lines(1)].join(''));
    expect(a.reused).toBe(false);
    expect(b.reused).toBe(true);
    expect(b.result).toBe(a.result);
    expect(p.calls).toHaveLength(1);
  });

  it('reads again when one character changed, and after a change back', () => {
    const last = new LastParse<Parsed>();
    const p = reader();
    const url = 'http://127.0.0.1:8000/metrics';
    expect(p.read(last, url, lines(1)).result.engines[0]?.running).toBe(1);
    const changed = p.read(last, url, lines(2));
    expect(changed.reused).toBe(false);
    expect(changed.result.engines[0]?.running).toBe(2);
    const back = p.read(last, url, lines(1));
    expect(back.reused).toBe(false);
    expect(back.result.engines[0]?.running).toBe(1);
    expect(p.calls).toHaveLength(3);
  });

  it('never answers for another endpoint, even with the same lines', () => {
    const last = new LastParse<Parsed>();
    const p = reader();
    const a = p.read(last, 'http://127.0.0.1:8000/metrics', lines(1));
    const b = p.read(last, 'http://127.0.0.1:8001/metrics', lines(1));
    expect(b.reused).toBe(false);
    expect(b.result).not.toBe(a.result);
    // Two engines, two of them: each holds its own.
    const x = new LastParse<Parsed>();
    const y = new LastParse<Parsed>();
    p.read(x, 'http://h:1/metrics', lines(1));
    p.read(y, 'http://h:2/metrics', lines(7));
    expect(p.read(x, 'http://h:1/metrics', lines(1)).result.engines[0]?.running).toBe(1);
    expect(p.read(y, 'http://h:2/metrics', lines(7)).result.engines[0]?.running).toBe(7);
    expect(p.read(y, 'http://h:2/metrics', lines(1)).reused).toBe(false);
  });

  it('keeps the last result when a parse throws, forgets on clear, and does not hold huge lines', () => {
    const last = new LastParse<number>();
    let n = 0;
    const read = (k: string | Uint8Array) =>
      last.read('e', typeof k === 'string' ? Buffer.from(k) : k, () => {
        if (k === 'bad') throw new Error('no');
        return ++n;
      });
    expect(read('ok').result).toBe(1);
    expect(() => read('bad')).toThrow('no');
    expect(read('ok')).toEqual({ result: 1, reused: true });
    // The bytes are held, not the caller's buffer: what it holds next does not change them.
    const scratch = Buffer.from('ok');
    expect(read(scratch)).toEqual({ result: 1, reused: true });
    scratch.write('no');
    expect(read(scratch)).toEqual({ result: 2, reused: false });
    expect(read('ok')).toEqual({ result: 3, reused: false });
    // Same length, one byte apart, and a prefix: both read afresh.
    expect(read('oj')).toEqual({ result: 4, reused: false });
    expect(read('o')).toEqual({ result: 5, reused: false });
    last.clear();
    expect(read('o')).toEqual({ result: 6, reused: false });
    const huge = new Uint8Array(MAX_REMEMBERED_KEPT_BYTES + 1);
    expect(read(huge).reused).toBe(false);
    expect(read(huge)).toEqual({ result: 8, reused: false });
    // and what it held before is gone too: nothing of another answer stays
    expect(read('o')).toEqual({ result: 9, reused: false });
  });
});
