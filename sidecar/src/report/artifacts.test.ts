import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvCell, toCsv, writeAtomic } from './artifacts.js';

describe('report artifacts', () => {
  it('CSV quotes what needs it and defuses spreadsheet formulas in label values', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvCell(-1.5)).toBe('-1.5');
    expect(csvCell(null)).toBe('');
    expect(toCsv(['a', 'b'], [{ a: 1, b: null }])).toBe('a,b\r\n1,\r\n');
  });

  it('writes atomically and returns the sha256 of what it wrote', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpufleet-art-'));
    try {
      const a = writeAtomic(join(dir, 'sub', 'x.csv'), 'a,b\r\n');
      expect(a.sha256).toBe(createHash('sha256').update(readFileSync(join(dir, 'sub', 'x.csv'))).digest('hex'));
      expect(readdirSync(join(dir, 'sub'))).toEqual(['x.csv']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
