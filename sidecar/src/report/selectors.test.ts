import { EXIT, ReportError } from './errors.js';
import { engineMatchers, gpuMatchers, matcher, promString, regexLiteral, splitList } from './selectors.js';

describe('report selectors', () => {
  it('repeatable flags and comma lists give one list without repeats', () => {
    expect(splitList('--model', ['a,b', 'c', ' b ', ''])).toEqual(['a', 'b', 'c']);
  });

  it('refuses control characters', () => {
    expect(() => splitList('--host', ['a\nb'])).toThrow(ReportError);
    try {
      splitList('--host', ['x\u0007']);
    } catch (err) {
      expect((err as ReportError).code).toBe(EXIT.usage);
    }
  });

  it('escapes a value so PromQL reads it back literally', () => {
    const hostile = 'm"}) or vector(1) #\\';
    const lit = promString(hostile);
    expect(lit).toBe('"m\\"}) or vector(1) #\\\\"');
    // Undo PromQL's string escapes: the original comes back.
    expect(JSON.parse(lit)).toBe(hostile);
  });

  it('several values are an anchored alternation of literal patterns', () => {
    expect(matcher('model', ['a.b', 'c|d'])).toBe('model=~"a\\\\.b|c\\\\|d"');
    expect(new RegExp(`^(?:${regexLiteral('Qwen/Qwen2.5-7B (v1)')})$`).test('Qwen/Qwen2.5-7B (v1)')).toBe(true);
    expect(new RegExp(`^(?:${regexLiteral('a.b')})$`).test('axb')).toBe(false);
    expect(matcher('model', [])).toBeNull();
  });

  it('GPU selectors by index and UUID', () => {
    expect(gpuMatchers(['0', 'GPU-abc', '3'])).toEqual(['gpu_index=~"0|3"', 'gpu_uuid="GPU-abc"']);
  });

  it('engine matchers use the discovery target labels', () => {
    expect(engineMatchers({ hosts: ['h1'], engines: [], models: ['m'], gpus: [] })).toBe('host="h1", model="m"');
  });
});
