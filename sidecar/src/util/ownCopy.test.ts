import { ownCopy } from './ownCopy.js';

describe('ownCopy', () => {
  it('is the same text, whatever its length or characters', () => {
    for (const v of ['', 'a', 'Qwen/Qwen3-4B-FP8', 'x'.repeat(200), 'é😀\u2028a😀'.repeat(5), '\ud800 lone surrogate half']) expect(ownCopy(v)).toBe(v);
  });
});
