import { declaredFormat, readFormat } from './expositionFormat.js';

const OM = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TEXT = 'text/plain; version=0.0.4; charset=utf-8';

describe('readFormat', () => {
  it('names the declared format by media type only', () => {
    expect([declaredFormat(OM), declaredFormat(TEXT), declaredFormat('application/json'), declaredFormat('')]).toEqual(['openmetrics', 'prometheus-text', null, null]);
  });

  it('OpenMetrics by its marks, whatever the content type says', () => {
    const om = '# TYPE vllm:prompt_tokens counter\nvllm:prompt_tokens_total{engine="0"} 5\n# EOF\n';
    expect(readFormat(TEXT, om)).toEqual({ format: 'openmetrics', declared: 'prometheus-text', eof: true, truncated: false });
    // the same without # EOF: cut short
    expect(readFormat(OM, om.replace('# EOF\n', ''))).toMatchObject({ format: 'openmetrics', truncated: true });
    expect(readFormat(TEXT, '# UNIT vllm:e2e_request_latency_seconds seconds\n')).toMatchObject({ format: 'openmetrics', truncated: true });
    expect(readFormat(TEXT, 'x_total 1 # {trace_id="a"} 1\n')).toMatchObject({ format: 'openmetrics', truncated: true });
  });

  it('0.0.4 counters (# TYPE naming the _total samples, or a counter without the suffix) are not OpenMetrics marks', () => {
    const classic = '# TYPE vllm:prompt_tokens_total counter\nvllm:prompt_tokens_total 5\n# TYPE foo counter\nfoo 3\n';
    expect(readFormat(TEXT, classic)).toEqual({ format: 'prometheus-text', declared: 'prometheus-text', eof: false, truncated: false });
    // labelled OpenMetrics with nothing of it inside: read as 0.0.4, not refused
    expect(readFormat(OM, classic)).toMatchObject({ format: 'prometheus-text', truncated: false });
  });
});
