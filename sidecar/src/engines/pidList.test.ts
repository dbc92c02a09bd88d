// A simulated host's own processes: the pid list simHost publishes, and the process scan narrowed to it
// (the machine's other vLLM processes, another simulated host's included, stay out).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePidList, pidListReader } from './pidList.js';
import { ProcScanner } from './procScan.js';
import { writeProc } from '../testing/fakeProcfs.js';

describe('pid list', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pidlist-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('parses one pid per line and skips anything else', () => {
    expect([...parsePidList('10\n 11 \n\nx\n-3\n0\n12abc\n99999999999\n13')]).toEqual([10, 11, 13]);
  });

  it('reads the file again when it changes; missing is empty', () => {
    const file = join(dir, 'engine-pids');
    const read = pidListReader(file);
    expect(read().size).toBe(0);
    writeFileSync(file, '10\n');
    expect([...read()]).toEqual([10]);
    writeFileSync(file, '10\n11\n12\n');
    expect([...read()]).toEqual([10, 11, 12]);
    rmSync(file);
    expect(read().size).toBe(0);
  });

  it('a scan narrowed to the list sees only those processes', () => {
    const proc = join(dir, 'proc');
    mkdirSync(proc);
    writeFileSync(join(proc, 'uptime'), '5000.00 1.00\n');
    writeProc(proc, 10, 1, ['vllm', 'serve', 'mine', '--port', '8001'], { environ: null });
    writeProc(proc, 11, 10, ['VLLM::EngineCore'], { environ: null });
    writeProc(proc, 20, 1, ['vllm', 'serve', 'the-machines-own', '--port', '8000'], { environ: null });
    const file = join(dir, 'engine-pids');
    writeFileSync(file, '10\n11\n');
    const scanner = new ProcScanner(proc, undefined, pidListReader(file));
    expect(scanner.scan().map((p) => p.pid).sort()).toEqual([10, 11]);
    expect(new ProcScanner(proc).scan().map((p) => p.pid).sort()).toEqual([10, 11, 20]);
  });
});
