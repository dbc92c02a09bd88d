import { ParseError, quoteOutput } from './errors.js';

describe('ParseError', () => {
  it('names the source and the problem', () => {
    const e = new ParseError('nvidia-smi -q -x', 'output is empty');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('ParseError');
    expect(e.source).toBe('nvidia-smi -q -x');
    expect(e.problem).toBe('output is empty');
    expect(e.message).toBe('nvidia-smi -q -x: output is empty');
  });

  it('keeps a cause', () => {
    const cause = new Error('inner');
    expect(new ParseError('x', 'y', { cause }).cause).toBe(cause);
  });
});

describe('quoteOutput', () => {
  it('returns short clean text unchanged', () => {
    expect(quoteOutput('Segmentation fault (core dumped)\n')).toBe('Segmentation fault (core dumped)');
  });

  it('truncates to 80 characters plus an ellipsis', () => {
    const q = quoteOutput('x'.repeat(10_000));
    expect(q).toBe(`${'x'.repeat(80)}…`);
  });

  it('strips control characters, terminal escapes and bidi overrides', () => {
    const q = quoteOutput('bad\u0000\u0007line\r\nnext\u001b[31mred\u202eevil');
    expect(q).toBe('bad line next [31mred evil');
    // eslint-disable-next-line no-control-regex
    expect(q).not.toMatch(/[\u0000-\u001f\u007f\u202e]/);
  });

  it('marks text cut after a long run of whitespace', () => {
    expect(quoteOutput(`a${' '.repeat(1000)}b`)).toBe('a…');
  });
});
