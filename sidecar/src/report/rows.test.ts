import { COLUMNS } from './catalogue.js';
import type { Sample } from './promClient.js';
import { buildRows, type Answers } from './rows.js';

const s = (metric: Record<string, string>, v: string): Sample => ({ metric, value: [0, v] });
const A = { host: 'h', engine_id: 'h:8001', model: 'm1' };
const B = { host: 'h', engine_id: 'h:8000', model: 'm2' };
const G0 = { host: 'h', gpu_uuid: 'GPU-0', gpu_index: '0' };
const G10 = { host: 'h', gpu_uuid: 'GPU-a', gpu_index: '10' };

describe('report rows', () => {
  it('engines, models, total, then GPUs (by index as a number), each cell from its level', () => {
    const answers: Answers = new Map([
      ['ttft_p95_seconds', { engine: [s(A, '0.25'), s(B, 'NaN')], model: [s({ model: 'm1' }, '0.25')], total: [s({}, '0.3')] }],
      ['gpu_power_mean_watts', { gpu: [s(G0, '100'), s(G10, '200')], total: [s({}, '300')] }],
      ['gpu_energy_joules', { gpu: [s(G0, '1000'), s(G10, '2000')], total: [s({}, '3000')] }],
      // An answer for a row the discovery did not find is not a row.
      ['generation_tokens', { engine: [s({ host: 'x', engine_id: 'x:1', model: 'm9' }, '5')] }],
    ]);
    // GPU 0 also without its index (it fell off the bus in the window): still one row.
    const rows = buildRows([s(A, '1'), s(B, '1')], [s(G10, '1'), s({ host: 'h', gpu_uuid: 'GPU-0' }, '1'), s(G0, '1')], answers, [s(G0, '1')]);
    expect(rows.map((r) => `${r.scope}:${r.engine_id ?? r.model ?? r.gpu_index ?? ''}`)).toEqual([
      'engine:h:8000',
      'engine:h:8001',
      'model:m1',
      'model:m2',
      'total:',
      'gpu:0',
      'gpu:10',
    ]);
    expect(rows[1]?.ttft_p95_seconds).toBe(0.25);
    // NaN (no observations) is an empty cell, not a number.
    expect(rows[0]?.ttft_p95_seconds).toBeNull();
    expect(rows[4]?.ttft_p95_seconds).toBe(0.3);
    expect(rows[4]?.gpu_power_mean_watts).toBe(300);
    expect(rows.every((r) => !('generation_tokens' in r) || r.generation_tokens === null)).toBe(true);
    expect(rows[5]?.energy_source).toBe('counter');
    expect(rows[6]?.energy_source).toBe('power');
    expect(rows[4]?.energy_source).toBe('mixed');
    expect(Object.keys(rows[0] ?? {})).toHaveLength(6 + COLUMNS.length + 1);
  });
});
