import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenFile } from './tokenFile.js';

function logger() {
  const lines: string[] = [];
  return { lines, info: (_o: object, m: string) => lines.push(`info ${m}`), error: (_o: object, m: string) => lines.push(`error ${m}`) };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('token file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gpufleet-tokfile-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an unusable file at start', () => {
    writeFileSync(join(dir, 't'), 'two words');
    expect(() => new TokenFile(join(dir, 't'), logger())).toThrow(/--token-file: .* must hold one token without spaces/);
    expect(() => new TokenFile(join(dir, 'missing'), logger())).toThrow(/--token-file: cannot read/);
  });

  it('keeps the token in force when the file turns bad, and says so once', () => {
    const path = join(dir, 't');
    writeFileSync(path, 'one\n');
    const log = logger();
    const t = new TokenFile(path, log);
    writeFileSync(path, '');
    t.reload('test');
    t.reload('test');
    expect(t.token).toBe('one');
    expect(log.lines).toEqual([expect.stringMatching(/^error --token-file: .* is empty; the previous token stays in force$/)]);
    writeFileSync(path, 'two');
    t.reload('test');
    expect(t.token).toBe('two');
    expect(log.lines[1]).toBe('info bearer token reloaded');
  });

  it('follows a file renamed over the old one', async () => {
    const path = join(dir, 't');
    writeFileSync(path, 'one');
    const t = new TokenFile(path, logger());
    t.watch();
    try {
      writeFileSync(join(dir, 't.new'), 'two');
      renameSync(join(dir, 't.new'), path);
      await until(() => t.token === 'two');
    } finally {
      t.close();
    }
  });
});
