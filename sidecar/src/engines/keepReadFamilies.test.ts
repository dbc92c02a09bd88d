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

  it('keeps histogram, counter and HELP/TYPE lines of the families read, and drops the others', () => {
    const text = [
      '# HELP vllm:time_to_first_token_seconds x',
      '# TYPE vllm:time_to_first_token_seconds histogram',
      'vllm:time_to_first_token_seconds_bucket{le="0.1"} 1',
      'vllm:time_to_first_token_seconds_count 1',
      '# TYPE vllm:request_queue_time_seconds histogram',
      'vllm:request_queue_time_seconds_bucket{le="0.1"} 1',
      'vllm:prompt_tokens_total{model_name="m"} 5',
      'vllm:prompt_tokens_created{model_name="m"} 1.7e9',
      'python_gc_objects_collected_total{generation="0"} 1',
    ].join('\n');
    expect(keepReadFamilies(text).split('\n')).toEqual([
      '# HELP vllm:time_to_first_token_seconds x',
      '# TYPE vllm:time_to_first_token_seconds histogram',
      'vllm:time_to_first_token_seconds_bucket{le="0.1"} 1',
      'vllm:time_to_first_token_seconds_count 1',
      'vllm:prompt_tokens_total{model_name="m"} 5',
      'vllm:prompt_tokens_created{model_name="m"} 1.7e9',
    ]);
  });
});
