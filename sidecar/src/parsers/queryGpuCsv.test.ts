import { readFileSync } from 'node:fs';
import { parseQueryGpuLine, QUERY_GPU_FIELDS, splitQueryLine, splitQueryLines, withQueryRows, type QueryGpuRow } from './queryGpuCsv.js';
import { parseNvidiaSmiXml } from './nvidiaSmiXml.js';
import { readFixture } from './__tests__/fixtures.js';

const MiB = 1048576;
const LOAD_CSV = 'query-gpu-lms500_h200_python-load_580.159.04.csv';
const LOAD_XML = 'q-x_h200-b_python-load_580.159.04.xml';
const UUID = 'GPU-e91e2fd3-995a-f027-a648-c805a0f3c07c';

describe('parseQueryGpuLine', () => {
  it('reads a real H200 row in the model\'s units', () => {
    const [first] = readFixture(LOAD_CSV).split('\n');
    expect(parseQueryGpuLine(first ?? '')).toEqual({
      uuid: UUID,
      utilization: { gpu: 100, memory: 25, encoder: 0, decoder: 0 },
      memory: { totalBytes: 143771 * MiB, usedBytes: 5235 * MiB },
      temperatureC: 58,
      powerW: 719.65,
      powerAverageW: 693.45,
      powerLimitW: 700,
      clocks: { smMHz: 1455, memMHz: 3201 },
    });
  });

  it('nvidia-smi\'s missing-value markers become null, never 0', () => {
    const row = parseQueryGpuLine(`${UUID}, [N/A], [N/A], [Not Supported], 0, 81920, [N/A], 40, [Unknown Error], N/A, 700.00, 345, 3201`);
    expect(row?.utilization).toEqual({ gpu: null, memory: null, encoder: null, decoder: 0 });
    expect([row?.memory.usedBytes, row?.powerW, row?.powerAverageW, row?.powerLimitW]).toEqual([null, null, null, 700]);
  });

  it.each([
    ['another number of values', `${UUID}, 1, 2`],
    ['no GPU UUID', `MIG-1234, ${Array(QUERY_GPU_FIELDS.length - 1).fill('1').join(', ')}`],
    ['a UUID of N/A', `[N/A], ${Array(QUERY_GPU_FIELDS.length - 1).fill('1').join(', ')}`],
    ['an error message', 'Field "power.draw.instant" is not a valid field to query.'],
    ['a huge line', `${UUID}, ${'9'.repeat(10_000)}${', 1'.repeat(QUERY_GPU_FIELDS.length - 2)}`],
  ])('%s is not a row', (_what, line) => {
    expect(parseQueryGpuLine(line)).toBeNull();
  });

  it('power: the 1 s average stands in for an instant reading the GPU does not give (as the XML parser does)', () => {
    const row = parseQueryGpuLine(`${UUID}, 5, 1, 0, 0, 81920, 10, 40, [N/A], 75.5, 700.00, 345, 3201`);
    expect([row?.powerW, row?.powerAverageW]).toEqual([75.5, 75.5]);
  });

  it('absurd figures are null (a percentage over 100, watts over 100 kW)', () => {
    const row = parseQueryGpuLine(`${UUID}, 250, 1, 0, 0, 81920, 10, 40, 1000000, 200000, 700, 345, 3201`);
    expect([row?.utilization.gpu, row?.powerW, row?.powerAverageW]).toEqual([null, null, null]);
  });

  it('splitQueryLine keeps the values of any field list (the capture of 25 fields on the same GPU)', () => {
    const v = splitQueryLine('a, b ,c', ['x', 'y', 'z']);
    expect(v && [...v.entries()]).toEqual([['x', 'a'], ['y', 'b'], ['z', 'c']]);
  });
});

describe('splitQueryLines', () => {
  it.each([1, 7, 64, 100_000])('gives the real loop\'s lines fed in %d-character chunks', (chunk) => {
    const text = readFixture(LOAD_CSV);
    const s = splitQueryLines();
    const lines: string[] = [];
    for (let i = 0; i < text.length; i += chunk) lines.push(...s.push(text.slice(i, i + chunk)).documents);
    expect(lines).toEqual(text.split('\n').filter((l) => l !== ''));
    expect(lines.map((l) => parseQueryGpuLine(l)?.utilization.gpu)).toEqual([100, 99, 100, 99, 100]);
  });

  it('drops CRs and blank lines; holds a partial line for the next chunk', () => {
    const s = splitQueryLines();
    expect(s.push('a\r\n\nb').documents).toEqual(['a']);
    expect(s.push('c\n').documents).toEqual(['bc']);
    expect(s.push('d\r').documents).toEqual([]);
    expect(s.push('\ne\n').documents).toEqual(['d', 'e']);
  });

  it('drops a too-long line whose newline comes in the next chunk', () => {
    const s = splitQueryLines();
    expect(s.push('x'.repeat(3000)).errors).toEqual([]);
    const r = s.push(`${'x'.repeat(3000)}\nok\n`);
    expect(r.documents).toEqual(['ok']);
    expect(r.errors).toHaveLength(1);
  });

  it('drops a line that never ends past its bound, says so once, and recovers at the next newline', () => {
    const s = splitQueryLines();
    const r1 = s.push('x'.repeat(5000));
    expect(r1.documents).toEqual([]);
    expect(r1.errors).toHaveLength(1);
    expect(r1.errors[0]).toMatch(/^dropped a line longer than 4096 characters: 'x+…'$/);
    expect(s.push('y'.repeat(5000)).errors).toEqual([]);
    expect(s.push('zz\nnext\n').documents).toEqual(['next']);
  });
});

describe('withQueryRows', () => {
  const row = (over: Partial<QueryGpuRow> = {}): QueryGpuRow => ({
    uuid: UUID,
    utilization: { gpu: 7, memory: 3, encoder: 1, decoder: 2 },
    memory: { totalBytes: 143771 * MiB, usedBytes: 99 * MiB },
    temperatureC: 41,
    powerW: 123.4,
    powerAverageW: 120.5,
    powerLimitW: 650,
    clocks: { smMHz: 999, memMHz: 2619 },
    ...over,
  });

  it('replaces the figures of the document\'s GPU with its row and keeps the rest (processes, MIG, identity)', () => {
    const log = parseNvidiaSmiXml(readFixture(LOAD_XML));
    const [before] = log.gpus;
    const [g] = withQueryRows(log, new Map([[UUID, row()]])).gpus;
    expect(g).toEqual({ ...before, ...row(), uuid: before?.uuid });
    expect(before?.powerW).toBe(668.29); // the document's own reading is left as it was
    expect(g?.processes.map((p) => p.name)).toEqual(['python3']);
    expect([g?.name, g?.migMode, g?.eccUncorrectedVolatile, g?.pciBusId]).toEqual(['NVIDIA H200', 'disabled', 0, '00000000:00:06.0']);
  });

  it('GPUs that report one UUID keep the document\'s figures: their rows cannot be told apart', () => {
    const log = parseNvidiaSmiXml(readFixture(LOAD_XML));
    const [g] = log.gpus;
    if (!g) throw new Error('no GPU');
    const twice = { ...log, gpus: [g, { ...g, pciBusId: '00000000:00:07.0' }] };
    expect(withQueryRows(twice, new Map([[UUID, row()]])).gpus.map((x) => x.powerW)).toEqual([668.29, 668.29]);
  });

  it('a GPU without a row keeps the document\'s figures', () => {
    const log = parseNvidiaSmiXml(readFixture(LOAD_XML));
    expect(withQueryRows(log, new Map()).gpus).toEqual(log.gpus);
  });
});

describe('scripts/capture-nvidia-smi.sh', () => {
  it('records the query mode loop with exactly the fields the sidecar asks for', () => {
    const script = readFileSync(new URL('../../../scripts/capture-nvidia-smi.sh', import.meta.url), 'utf8');
    expect(script).toContain(`query_fields=${QUERY_GPU_FIELDS.join(',')}\n`);
  });
});
