import { readFileSync, readdirSync } from 'node:fs';
import { keepReadFamilies, parseVllmMetrics } from './vllmMetrics.js';

const dir = new URL('../../../tests/fixtures/vllm/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.startsWith('metrics_'));

describe('keepReadFamilies', () => {
  it.each(fixtures)('reads the same engine state from %s with the unread families dropped', (f) => {
    const text = readFileSync(new URL(f, dir), 'utf8');
    const kept = keepReadFamilies(text);
    expect(kept.length).toBeLessThan(text.length);
    const full = parseVllmMetrics(text);
    const filtered = parseVllmMetrics(kept);
    expect(filtered.engines).toEqual(full.engines);
    expect(filtered.processStartTimeSeconds).toEqual(full.processStartTimeSeconds);
  });

  it('keeps the samples of the families read, not their HELP/TYPE lines or _created series, and # EOF', () => {
    const text = [
      '# HELP vllm:time_to_first_token_seconds x',
      '# TYPE vllm:time_to_first_token_seconds histogram',
      'vllm:time_to_first_token_seconds_bucket{le="0.1"} 1',
      'vllm:time_to_first_token_seconds_count 1',
      'vllm:time_to_first_token_seconds_created 1.7e9',
      '# TYPE vllm:request_queue_time_seconds histogram',
      'vllm:request_queue_time_seconds_bucket{le="0.1"} 1',
      'vllm:prompt_tokens_total{model_name="m"} 5',
      'vllm:prompt_tokens_created{model_name="m"} 1.7e9',
      'python_gc_objects_collected_total{generation="0"} 1',
      'vllm:num_requests_running 2',
      '# EOF',
      'vllm:num_requests_running 3',
    ].join('\n');
    expect(keepReadFamilies(text).split('\n')).toEqual([
      'vllm:time_to_first_token_seconds_bucket{le="0.1"} 1',
      'vllm:time_to_first_token_seconds_count 1',
      'vllm:prompt_tokens_total{model_name="m"} 5',
      'vllm:num_requests_running 2',
      '# EOF',
      'vllm:num_requests_running 3',
    ]);
    // What follows # EOF is not read.
    expect(parseVllmMetrics(keepReadFamilies(text)).engines[0]?.running).toBe(2);
  });

  it('tells a name from a longer one that starts with it, on the line after', () => {
    const lines = [
      'vllm:num_requests_running 1',
      'vllm:num_requests_running_other 2',
      'vllm:num_requests_running{engine="1"} 3',
      'vllm:num_requests_runningx 4',
      'vllm:num_requests_running',
      'vllm:num_requests_running\t5',
    ];
    expect(keepReadFamilies(lines.join('\n')).split('\n')).toEqual([lines[0], lines[2], lines[4], lines[5]]);
  });

  it('drops lines that start with a blank or have no name, as the parser would not read them as these families', () => {
    expect(keepReadFamilies(' vllm:num_requests_running 1\n{x="y"} 2\nvllm:num_requests_running\t3\r\n')).toBe('vllm:num_requests_running\t3\r\n');
  });
});
