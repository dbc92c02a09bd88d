import { ParseError } from '../parsers/errors.js';
import {
  DEFAULT_PROM_LIMITS,
  escapeLabelValue,
  formatPromSample,
  parsePromNumber,
  parsePromText,
  PromLimitError,
} from './promText.js';
import { metricsFixtureNames, readVllmFixture } from './__tests__/fixtures.js';

describe('parsePromText: the format', () => {
  it('reads HELP, TYPE and samples with labels, values and timestamps', () => {
    const expo = parsePromText(
      [
        '# HELP http_requests_total The total number of HTTP requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400"}    3 1395066363000',
        '',
        '# A normal comment',
        'metric_without_timestamp_and_labels 12.47',
        '  \tindented_metric 1',
      ].join('\n')
    );
    const fam = expo.families.get('http_requests_total');
    expect(fam?.type).toBe('counter');
    expect(fam?.help).toBe('The total number of HTTP requests.');
    expect(fam?.samples.map((s) => [s.labels.code, s.value, s.timestamp])).toEqual([
      ['200', 1027, 1395066363000],
      ['400', 3, 1395066363000],
    ]);
    expect(expo.families.get('metric_without_timestamp_and_labels')).toMatchObject({ type: 'untyped', help: null });
    expect(expo.byName.get('indented_metric')?.[0]?.value).toBe(1);
    expect(expo.samples).toHaveLength(4);
    expect([expo.skipped, expo.lines, expo.eof]).toEqual([0, 8, false]);
  });

  it('reads whole numbers written plainly as Number() does, and everything else as before', () => {
    const tokens = ['0', '00', '7', '007', '1739.0', '1739.', '1739.00', '1739.01', '0.0', '999999999999999', '9999999999999999', '12345678901234567890',
      '9007199254740993', '1.5', '-1', '-0', '+1', '1e3', '1.0e3', '.0', '0x10', '1_000', '1.0.0'];
    for (const t of tokens) {
      const expo = parsePromText(`x ${t}\n`);
      const want = parsePromNumber(t);
      if (want === null) expect(expo.skipped).toBe(1);
      else expect(Object.is(expo.samples[0]?.value, want) ? t : [t, expo.samples[0]?.value, want]).toBe(t);
    }
  });

  it('reads NaN, +Inf, -Inf and exponent forms', () => {
    const expo = parsePromText('a NaN\nb +Inf\nc -Inf\nd 1.372014592e+010\ne -0.5e-3\nf Inf\n');
    const v = (n: string) => expo.byName.get(n)?.[0]?.value;
    expect(v('a')).toBeNaN();
    expect([v('b'), v('c'), v('d'), v('e'), v('f')]).toEqual([Infinity, -Infinity, 13720145920, -0.0005, Infinity]);
    expect(parsePromNumber('')).toBeNull();
    expect(parsePromNumber('1,5')).toBeNull();
    expect(parsePromNumber('abc')).toBeNull();
  });

  it('groups histogram series under the family and keeps le as written', () => {
    const expo = parsePromText(
      [
        '# TYPE lat histogram',
        'lat_bucket{le="0.1"} 1',
        'lat_bucket{le="+Inf"} 3',
        'lat_sum 2.5',
        'lat_count 3',
        '# TYPE lat_created gauge',
        'lat_created 1.7e9',
      ].join('\n')
    );
    expect(expo.families.get('lat')?.samples.map((s) => s.name)).toEqual(['lat_bucket', 'lat_bucket', 'lat_sum', 'lat_count']);
    expect(expo.byName.get('lat_bucket')?.map((s) => s.labels.le)).toEqual(['0.1', '+Inf']);
    // prometheus_client's text format declares _created as its own gauge family (as vLLM shows)
    expect(expo.families.get('lat_created')?.type).toBe('gauge');
  });

  it('attaches OpenMetrics _total/_created/_info series to their family, and stops at # EOF', () => {
    const expo = parsePromText(
      [
        '# TYPE foo counter',
        '# UNIT foo seconds',
        'foo_total 17.0 # {trace_id="abc"} 1.0 1520879607.789',
        'foo_created 1520872607.123',
        '# TYPE build info',
        'build_info{version="1.0"} 1',
        '# EOF',
        'after_eof 1',
      ].join('\n')
    );
    expect(expo.families.get('foo')?.samples.map((s) => [s.name, s.value])).toEqual([
      ['foo_total', 17],
      ['foo_created', 1520872607.123],
    ]);
    expect(expo.families.get('foo')?.unit).toBe('seconds');
    expect(expo.families.get('build')?.samples[0]?.labels.version).toBe('1.0');
    expect(expo.eof).toBe(true);
    expect(expo.byName.has('after_eof')).toBe(false);
    expect(expo.skipped).toBe(0);
  });

  it('a histogram whose name ends in _total (vllm:iteration_tokens_total) keeps its buckets', () => {
    const expo = parsePromText(
      '# TYPE vllm:iteration_tokens_total histogram\nvllm:iteration_tokens_total_bucket{le="+Inf"} 3\nvllm:iteration_tokens_total_sum 9\n'
    );
    expect(expo.families.get('vllm:iteration_tokens_total')?.samples).toHaveLength(2);
  });

  it('reads quoted UTF-8 metric and label names', () => {
    const expo = parsePromText('# HELP "my.metric" dotted\n{"my.metric", "label.x"="1", b="2"} 5\n');
    expect(expo.byName.get('my.metric')?.[0]).toMatchObject({ labels: { 'label.x': '1', b: '2' }, value: 5 });
    expect(expo.families.get('my.metric')?.help).toBe('dotted');
  });

  it('unescapes label values and HELP text', () => {
    const expo = parsePromText(
      [
        '# HELP x Help with \\\\ a backslash and a\\nnewline',
        'x{path="C:\\\\dir\\\\file",quote="say \\"hi\\"",nl="a\\nb",comma="a,b",brace="}{",eq="a=b"} 1',
      ].join('\n')
    );
    expect(expo.families.get('x')?.help).toBe('Help with \\ a backslash and a\nnewline');
    expect({ ...expo.byName.get('x')?.[0]?.labels }).toEqual({
      path: 'C:\\dir\\file',
      quote: 'say "hi"',
      nl: 'a\nb',
      comma: 'a,b',
      brace: '}{',
      eq: 'a=b',
    });
  });

  it('handles CRLF line ends, trailing commas and spaces inside braces', () => {
    const expo = parsePromText('a{x="1",} 1\r\nb{ y = "2" , z="3" } 2\r\n');
    expect(expo.skipped).toBe(0);
    expect({ ...expo.byName.get('b')?.[0]?.labels }).toEqual({ y: '2', z: '3' });
    expect(expo.byName.get('a')?.[0]?.value).toBe(1);
  });

  it('treats a label called __proto__ as an ordinary label', () => {
    const expo = parsePromText('a{__proto__="x",constructor="y"} 1\n');
    const labels = expo.byName.get('a')?.[0]?.labels as Record<string, string>;
    expect(labels.__proto__).toBe('x');
    expect(labels.constructor).toBe('y');
    expect(Object.keys(labels)).toEqual(['__proto__', 'constructor']);
    const plain = parsePromText('b{x="1"} 1\n').byName.get('b')?.[0]?.labels as Record<string, unknown>;
    expect(['toString' in plain, 'constructor' in plain, 'hasOwnProperty' in plain, plain.__proto__]).toEqual([
      false,
      false,
      false,
      undefined,
    ]);
  });
});

describe('parsePromText: names and values seen before', () => {
  it('reads a repeated name or value exactly, never a longer one or one with escapes as the one before', () => {
    const lines = [
      'm_bucket{le="0.1",model_name="a"} 1',
      'm_bucket{le="0.1",model_name="a"} 2',
      'm_bucket_x{le="0.10",model_name="ab"} 3',
      'm_bucket{le="0.1x",model_name="a\\"b"} 4',
      'm_bucket{le="0.1",model_name="a\\nb"} 5',
      'm_bucket{lex="0.1",model_name=""} 6',
      'm_bucket{le="0.1",model_name="a",le="0.2"} 7',
      'm_bucket{le="0.1\tmodel_name="a"} 8',
      'm_bucket{"le"="0.1",model_name="a"} 9',
      'm_bucket{le.x="0.1"} 10',
      'm_bucket{le="0.1",model_name="a"}11',
      'm_bucketx 12',
      'm_bucket 13',
    ];
    const expo = parsePromText(lines.join('\n'));
    expect(expo.samples.map((s) => [s.name, { ...s.labels }, s.value])).toEqual([
      ['m_bucket', { le: '0.1', model_name: 'a' }, 1],
      ['m_bucket', { le: '0.1', model_name: 'a' }, 2],
      ['m_bucket_x', { le: '0.10', model_name: 'ab' }, 3],
      ['m_bucket', { le: '0.1x', model_name: 'a"b' }, 4],
      ['m_bucket', { le: '0.1', model_name: 'a\nb' }, 5],
      ['m_bucket', { lex: '0.1', model_name: '' }, 6],
      ['m_bucket', { le: '0.1', model_name: 'a' }, 9],
      ['m_bucket', { le: '0.1', model_name: 'a' }, 11],
      ['m_bucketx', {}, 12],
      ['m_bucket', {}, 13],
    ]);
    // duplicate label, the value's quote never closed on its line, `le.x` is no label name
    expect(expo.problems.map((p) => p.line)).toEqual([7, 8, 10]);
  });

  it('reads label names exactly past the first sixteen, when two look alike, and from one input to the next', () => {
    // A config line with twenty labels before the names the buckets repeat (vLLM's cache_config_info);
    // `aqxqb` and `arxrb` have the same length, ends and middle; `le` and `lex` share a start.
    const many = Array.from({ length: 20 }, (_, k) => `l${k}="${k}"`).join(',');
    const first = [`info{${many}} 1`, 'b{model_name="m",le="1"} 2', 'b{model_name="m",le="2"} 3', 'c{aqxqb="x",arxrb="y"} 4', 'c{arxrb="y",aqxqb="x"} 5', 'c{lex="1",le="1"} 6'];
    const second = ['c{arxrb="z"} 7', 'c{aqxqb="w",model_name="n"} 8', 'b{le="1",model_name="m"} 9', 'c{l19="19",l0="0"} 10'];
    const read = (lines: string[]) => parsePromText(lines.join('\n')).samples.map((s) => [s.name, { ...s.labels }, s.value]);
    const alone = (lines: string[]) => lines.map((l) => read([l])[0]);
    for (let round = 0; round < 2; round++) {
      expect(read(first)).toEqual(alone(first));
      expect(read(second)).toEqual(alone(second));
    }
    expect(read(second)).toEqual([
      ['c', { arxrb: 'z' }, 7],
      ['c', { aqxqb: 'w', model_name: 'n' }, 8],
      ['b', { le: '1', model_name: 'm' }, 9],
      ['c', { l19: '19', l0: '0' }, 10],
    ]);
  });
});

describe('parsePromText: malformed input is skipped and counted', () => {
  const bad: [string, string][] = [
    ['no value', 'a{x="1"}'],
    ['value not a number', 'a 12abc'],
    ['unterminated label value', 'a{x="1} 2'],
    ['unterminated label set', 'a{x="1" 2'],
    ['invalid escape', 'a{x="\\t"} 1'],
    ['unquoted label value', 'a{x=1} 1'],
    ['duplicate label', 'a{x="1",x="2"} 1'],
    ['bad metric name', '1abc 1'],
    ['bad label name', 'a{1x="1"} 1'],
    ['trailing garbage', 'a 1 2 3'],
    ['bad timestamp', 'a 1 soon'],
    ['unknown type', '# TYPE a thing'],
    ['second TYPE', '# TYPE ok gauge\n# TYPE ok counter'],
    ['missing = after label name', 'a{x "1"} 1'],
    ['quote starts a line', '"} 5'],
  ];
  it.each(bad)('%s', (_what, line) => {
    const expo = parsePromText(`${line}\ngood 7\n`);
    expect(expo.skipped).toBe(1);
    expect(expo.byName.get('good')?.[0]?.value).toBe(7);
    expect(expo.problems).toHaveLength(1);
    expect(expo.problems[0]?.line).toBeGreaterThan(0);
  });

  it('a raw newline ends the line: the rest of a broken value is not a sample of its own', () => {
    // A value with an unescaped newline: line 1 is unterminated, line 2 starts with garbage.
    const expo = parsePromText('a{x="first\nsecond", y="2"} 5\nok{x="v"} 1\n');
    expect(expo.skipped).toBe(2);
    expect(expo.samples.map((s) => s.name)).toEqual(['ok']);
    expect(expo.byName.get('ok')?.[0]?.labels.x).toBe('v');
  });

  it('describes at most maxProblems lines but counts all', () => {
    const expo = parsePromText('bad{\n'.repeat(50));
    expect(expo.skipped).toBe(50);
    expect(expo.problems).toHaveLength(DEFAULT_PROM_LIMITS.maxProblems);
  });

  it('sanitises the quoted line in problems (no control characters)', () => {
    const expo = parsePromText('a{x="\u001b[31mred\u001b[0m" 1\n');
    expect(expo.problems[0]?.reason).not.toContain('\u001b');
  });
});

describe('parsePromText: hostile label values round-trip and stay in their sample', () => {
  const nasty = [
    'plain',
    'with "quotes" inside',
    'comma, and } brace and { and =',
    'new\nline and \\n literal',
    'back\\slash\\\\',
    '\u001b[31mANSI red\u001b[0m and \u0007 bell',
    'tab\tand\rCR',
    'unicode ✓ 漢字 😀 and \u2028 separator',
    '# HELP not a comment',
    'x{y="z"} 1',
    '',
  ];
  it('every value reads back exactly, and each sample keeps only its own labels', () => {
    const text = nasty
      .map((v, i) => formatPromSample({ name: 'm', labels: { i: String(i), v }, value: i }))
      .concat(['after{v="ok"} 99'])
      .join('\n');
    const expo = parsePromText(text);
    expect(expo.skipped).toBe(0);
    const got = expo.byName.get('m') ?? [];
    expect(got.map((s) => s.labels.v)).toEqual(nasty);
    expect(got.map((s) => s.value)).toEqual(nasty.map((_, i) => i));
    expect(got.every((s) => Object.keys(s.labels).length === 2)).toBe(true);
    expect(expo.byName.get('after')?.[0]).toMatchObject({ labels: { v: 'ok' }, value: 99 });
    expect(expo.samples).toHaveLength(nasty.length + 1);
  });

  it('escapeLabelValue escapes exactly backslash, quote and newline', () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
  });
});

describe('parsePromText: limits', () => {
  it('rejects an input over maxBytes before parsing (PromLimitError is a ParseError)', () => {
    const big = 'x 1\n'.repeat(9 * 1024 * 1024); // 36 MiB > 32 MiB default
    let err: unknown;
    try {
      parsePromText(big, { source: 'http://127.0.0.1:8000/metrics' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PromLimitError);
    expect(err).toBeInstanceOf(ParseError);
    expect((err as PromLimitError).limit).toBe('maxBytes');
    expect((err as Error).message).toBe('http://127.0.0.1:8000/metrics: exposition is larger than 33554432 bytes');
  });

  it('counts bytes, not characters', () => {
    expect(() => parsePromText('a{x="ééé"} 1', { limits: { maxBytes: 14 } })).toThrow(PromLimitError);
    expect(parsePromText('a{x="ééé"} 1', { limits: { maxBytes: 15 } }).samples).toHaveLength(1);
  });

  it('rejects 10^6 series at the sample limit', () => {
    const lines: string[] = [];
    for (let i = 0; i < 1_000_000; i++) lines.push(`s{i="${i}"} 1`);
    expect(() => parsePromText(lines.join('\n'))).toThrow(/more than 200000 samples/);
  });

  it('rejects too many families (metadata-only lines count too)', () => {
    const text = Array.from({ length: 101 }, (_, i) => `# TYPE f${i} gauge`).join('\n');
    expect(() => parsePromText(text, { limits: { maxFamilies: 100 } })).toThrow(
      expect.objectContaining({ limit: 'maxFamilies' })
    );
  });

  it('skips lines with too many labels, too long values, names or lines', () => {
    const many = Array.from({ length: 65 }, (_, i) => `l${i}="v"`).join(',');
    const text = [
      `a{${many}} 1`,
      `b{v="${'x'.repeat(4097)}"} 1`,
      `${'c'.repeat(513)} 1`,
      `d{v="${'\\"'.repeat(3000)}"} 1`, // 3000 chars unescaped: fine
      `e 1 ${' '.repeat(70_000)}`,
      'ok 1',
    ].join('\n');
    const expo = parsePromText(text);
    expect(expo.samples.map((s) => s.name)).toEqual(['d', 'ok']);
    expect(expo.byName.get('d')?.[0]?.labels.v).toHaveLength(3000);
    expect(expo.skipped).toBe(4);
    expect(expo.problems.map((p) => p.reason.split(':')[0])).toEqual([
      'more than 64 labels',
      'label value longer than 4096 characters',
      'name longer than 512 characters',
      'line longer than 65536 characters',
    ]);
  });

  it('cuts HELP text at maxHelpLength', () => {
    const expo = parsePromText(`# HELP h ${'y'.repeat(2000)}\nh 1`);
    expect(expo.families.get('h')?.help).toHaveLength(1024);
  });

  it('an unterminated quote on every line stays linear (no rescans to the end)', () => {
    // 200k lines each opening a quote that never closes: must finish (bounded work per line).
    const expo = parsePromText('a{x="\n'.repeat(200_000));
    expect(expo.skipped).toBe(200_000);
  });
});

describe('parsePromText on every vLLM /metrics fixture', () => {
  it.each(metricsFixtureNames())('%s parses with no skipped line, every family typed', (name) => {
    const expo = parsePromText(readVllmFixture(name));
    expect(expo.skipped).toBe(0);
    expect([...expo.families.values()].filter((f) => f.type === 'untyped')).toEqual([]);
    for (const s of expo.samples) expect(typeof s.value).toBe('number');
  });
});
