// An all-ASCII /metrics body is read from its bytes (keptLinesAscii, readFormatAscii) and any
// other as decoded text (keepReadFamilies, readFormat): both must read the same, on every capture
// and on thousands of ASCII mutations of them (line ends, comments, # EOF, names cut or run on).
import { isAscii } from 'node:buffer';
import { readFormat, readFormatAscii } from './expositionFormat.js';
import { keepReadFamilies, keptLinesAscii } from './vllmMetrics.js';
import { metricsFixtureNames, prng, readVllmFixture } from './__tests__/fixtures.js';

const OM = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TEXT = 'text/plain; version=0.0.4; charset=utf-8';

const PIECES = ['\n', '\r\n', ' ', '\t', '\v', '\f', '{', '# EOF', '# EOF\n', '#', '# UNIT x s\n', '# TYPE a counter\n', 'a_total 1\n', ' # {a="b"} 1', 'vllm:', 'vllm:num_requests_running', '_total', 'process_start_time_seconds 5\n', '\n\n'];

function mutate(text: string, rnd: () => number): string {
  const int = (n: number) => Math.floor(rnd() * n);
  const start = int(text.length);
  let s = text.slice(start, start + 200 + int(12_000));
  for (let k = 1 + int(6); k > 0; k--) {
    const at = int(s.length + 1);
    switch (int(4)) {
      case 0:
        s = s.slice(0, at) + (PIECES[int(PIECES.length)] as string) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + int(40));
        break;
      case 2:
        s = s.slice(0, at) + s.slice(at, at + 1 + int(300)) + s.slice(at);
        break;
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

function expectSameReading(text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  expect(keptLinesAscii(bytes).toString('latin1')).toBe(keepReadFamilies(text));
  for (const ct of [OM, TEXT, '']) expect(readFormatAscii(ct, bytes)).toEqual(readFormat(ct, text));
}

describe('reading an ASCII /metrics body from its bytes', () => {
  const fixtures = metricsFixtureNames().map((n) => readVllmFixture(n));

  it('the captures are ASCII, and read the same from bytes as from text, also with CRLF, # EOF and blanks after it', () => {
    for (const text of fixtures) {
      expect(isAscii(Buffer.from(text, 'utf8'))).toBe(true);
      for (const variant of [text, text.replace(/\n/g, '\r\n'), `${text}# EOF\n`, `${text}# EOF \r\n\t\n`, `${text}# EOF`, text.trimEnd(), '']) {
        expectSameReading(variant);
      }
    }
  });

  it('reads every mutation the same', () => {
    const rnd = prng(0xa5c11);
    for (let i = 0; i < 1500; i++) expectSameReading(mutate(fixtures[Math.floor(rnd() * fixtures.length)] as string, rnd));
  });

  it('reads a line whose "name" runs for megabytes as the text reader does, twice (nothing of it remembered)', () => {
    const long = `vllm:${'x'.repeat(2_000_000)} 1\nvllm:num_requests_running 2\n`;
    for (let i = 0; i < 2; i++) expectSameReading(long);
  });

  it('keeps what keepReadFamilies keeps on hand-made lines', () => {
    for (const text of [
      'vllm:num_requests_running 1\nvllm:num_requests_running_other 2\nvllm:num_requests_running{engine="1"} 3\nvllm:num_requests_runningx 4\nvllm:num_requests_running\nvllm:num_requests_running\t5',
      ' vllm:num_requests_running 1\n{x="y"} 2\nvllm:num_requests_running\t3\r\n',
      '# EOF',
      '# EO',
      '# EOFX\nvllm:num_requests_running 1\n',
      'vllm:num_requests_running',
      '\n\n\n',
      // names whose bytes hash alike ("ng" and "oH" add the same to the hash)
      'vllm:num_requests_runnioH 2\nvllm:num_requests_running 1\nvllm:num_requests_runnioH 2\n',
      // OpenMetrics marks, and where the first 8 KiB they are looked for in end
      '# UNIT x s\n',
      'x 1\n# UNIT x s\n',
      'x_total 1 # {a="b"} 1\n',
      '# HELP x # {\n',
      '# TYPE a counter\na_total 1\n',
      '# TYPE a_total counter\na_total 1\n',
      '# TYPE a counter\na_total{x="1"} 1\n',
      '# TYPE a counter',
      '# TYPE a counterx\na_total 1\n',
      '# TYPE a counter\r\nb 1\n# TYPE c counter\nc_total 1\n',
      ...[8180, 8185, 8190, 8192].map((k) => `${'x'.repeat(k)}\n# UNIT x s\n`),
      ...[8170, 8176, 8180].map((k) => `# TYPE a counter\n${'#'.repeat(k)}\na_total 1\n`),
      // every character that ends a name, on a first line and on a line after the same name
      ...[' ', '\t', '\r', '\v', '\f', '{', '}', 'x', ':'].flatMap((c) => [`vllm:num_requests_running${c}1\n`, `vllm:num_requests_running 1\nvllm:num_requests_running${c}1\n`]),
    ]) {
      expectSameReading(text);
    }
  });
});

describe('names made to share a hash', () => {
  // "Aa" and "BB" hash alike under h * 31 + c: every string of such blocks collides. The byte reader
  // must read them as the text reader does, and look each up in a short list, not a list of thousands
  // (jest's deadline is the hang guard, not a speed claim).
  it('read as the text reader reads them, with the kept families between them', () => {
    const names = Array.from({ length: 6000 }, (_, i) => `v${Array.from({ length: 13 }, (_, b) => ((i >> b) & 1 ? 'Aa' : 'BB')).join('')}`);
    const lines: string[] = [];
    for (let round = 0; round < 3; round++) {
      names.forEach((n, i) => {
        lines.push(`${n} ${i}`);
        if (i % 500 === 0) lines.push(`vllm:num_requests_running{engine="0"} ${i}`);
      });
    }
    const text = `${lines.join('\n')}\n`;
    const kept = keptLinesAscii(Buffer.from(text, 'latin1')).toString('latin1');
    expect(kept).toBe(keepReadFamilies(text));
    expect(kept.split('\n').filter((l) => l.startsWith('vllm:num_requests_running'))).toHaveLength(36);
  }, 20_000);
});
