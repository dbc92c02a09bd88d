import { capText, MAX_UNTRUSTED_CHARS } from './capText.js';

describe('capText', () => {
  it('keeps a string up to the limit as it is', () => {
    expect(capText('Qwen/Qwen2.5-7B-Instruct')).toBe('Qwen/Qwen2.5-7B-Instruct');
    expect(capText('x'.repeat(MAX_UNTRUSTED_CHARS))).toBe('x'.repeat(MAX_UNTRUSTED_CHARS));
  });

  it('cuts a 60 KB model name to 256 characters, marked as cut', () => {
    const out = capText('m'.repeat(60_000));
    expect(Array.from(out)).toHaveLength(256);
    expect(out.endsWith('…')).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    const out = capText('😀'.repeat(300), 10);
    expect(Array.from(out)).toEqual([...Array(9).fill('😀'), '…']);
  });

  it('takes another limit where a value is longer by nature', () => {
    expect(capText('a,b,c,d', 4)).toBe('a,b…');
  });
});
