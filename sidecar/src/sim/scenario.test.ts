import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPU_MODELS } from './catalog.js';
import { loadScenarioFile, parseScenario, placeMig, ScenarioError, validateScenario } from './scenario.js';

const here = dirname(fileURLToPath(import.meta.url));
const scenarioPath = (name: string) => join(here, 'scenarios', `${name}.yaml`);

function errorOf(fn: () => unknown): ScenarioError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ScenarioError) return err;
    throw err;
  }
  throw new Error('expected a ScenarioError');
}

const h100 = (extra: Record<string, unknown> = {}) => ({ model: 'H100-SXM5-80GB', ...extra });

describe('shipped scenarios', () => {
  it.each(['demo', 'small', 'faults', 'rust-frontend'])('%s loads and validates', (name) => {
    const s = loadScenarioFile(scenarioPath(name));
    expect(s.gpus.length).toBeGreaterThan(0);
  });

  it('demo is 8 GPUs: 2 MIG, 2 vGPU hosts (4 and 3 VMs), the rest whole', () => {
    const s = loadScenarioFile(scenarioPath('demo'));
    expect(s.gpus).toHaveLength(8);
    expect(s.gpus.filter((g) => g.mig).length).toBe(2);
    expect(s.gpus.filter((g) => g.vgpu).map((g) => g.vgpu?.instances.length)).toEqual([4, 3]);
    expect(s.gpus.filter((g) => !g.mig && !g.vgpu).length).toBe(4);
    expect(s.gpus.every((g) => g.model.key === 'H100-SXM5-80GB')).toBe(true);
  });

  it('small is one GPU', () => {
    expect(loadScenarioFile(scenarioPath('small')).gpus).toHaveLength(1);
  });

  it('JSON is accepted as well', () => {
    const s = parseScenario(JSON.stringify({ hostname: 'j1', gpus: [h100()] }), 'x.json');
    expect(s.hostname).toBe('j1');
  });
});

describe('MIG placement', () => {
  it('gives the GPU instance ids of capture_h100-mig for 3g.40gb + 2g.20gb + 2×1g.10gb', () => {
    const model = GPU_MODELS['H100-SXM5-80GB'];
    if (!model) throw new Error('no model');
    const placed = placeMig(
      model,
      { instances: ['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb'].map((profile) => ({ profile, gi: null, load: null })) },
      'm'
    );
    expect(placed.map((p) => p.gpuInstanceId)).toEqual([2, 3, 9, 10]);
    expect(placed.map((p) => p.profile.memoryMiB)).toEqual([40448, 20096, 9984, 9984]);
    expect(placed.map((p) => p.profile.multiprocessors)).toEqual([60, 32, 16, 16]);
    // The capture's -q text lists these GI ids and sizes.
    const capture = readFileSync(
      join(here, '../../../tests/fixtures/nvidia-smi/capture_h100-mig_590.48.01.txt'),
      'utf8'
    );
    for (const gi of [2, 3, 9, 10]) expect(capture).toMatch(new RegExp(`GPU Instance ID\\s+: ${gi}\\n`));
  });

  it('gives 7×1g.10gb the ids 7..13', () => {
    const model = GPU_MODELS['H100-SXM5-80GB'];
    if (!model) throw new Error('no model');
    const placed = placeMig(
      model,
      { instances: Array.from({ length: 7 }, () => ({ profile: '1g.10gb', gi: null, load: null })) },
      'm'
    );
    expect(placed.map((p) => p.gpuInstanceId)).toEqual([7, 8, 9, 10, 11, 12, 13]);
  });
});

describe('validation errors name the field', () => {
  const cases: Array<[string, unknown, string]> = [
    ['missing gpus', { hostname: 'h' }, 'gpus'],
    ['unknown top-level field', { gpus: [h100()], gpu: [] }, 'gpu'],
    ['unknown GPU field', { gpus: [h100({ lod: 0.5 })] }, 'gpus[0].lod'],
    ['unknown model', { gpus: [h100(), { model: 'H1OO' }] }, 'gpus[1].model'],
    [
      'bad MIG profile',
      {
        gpus: [h100(), h100(), h100(), h100({ mig: { instances: [{ profile: '3g.40gb' }, { profile: '3g.20gb' }] } })],
      },
      'gpus[3].mig.instances[1].profile',
    ],
    [
      'MIG layout too big',
      { gpus: [h100({ mig: { instances: ['4g.40gb', '4g.40gb'] } })] },
      'gpus[0].mig.instances[1].profile',
    ],
    [
      'GI id not possible',
      { gpus: [h100({ mig: { instances: [{ profile: '1g.10gb', gi: 3 }] } })] },
      'gpus[0].mig.instances[0].gi',
    ],
    ['load out of range', { gpus: [h100({ load: { base: 1.5 } })] }, 'gpus[0].load.base'],
    [
      'process without mig on a MIG GPU',
      { gpus: [h100({ mig: { instances: ['7g.80gb'] }, processes: [{ pid: 1, name: 'p', memoryMiB: 10 }] })] },
      'gpus[0].processes[0].mig',
    ],
    [
      'process mig out of range',
      { gpus: [h100({ mig: { instances: ['7g.80gb'] }, processes: [{ pid: 1, name: 'p', memoryMiB: 10, mig: 1 }] })] },
      'gpus[0].processes[0].mig',
    ],
    [
      'process missing pid',
      { gpus: [h100({ processes: [{ name: 'p', memoryMiB: 10 }] })] },
      'gpus[0].processes[0].pid',
    ],
    [
      'duplicate pid',
      {
        gpus: [
          h100({
            processes: [
              { pid: 7, name: 'a', memoryMiB: 1 },
              { pid: 7, name: 'b', memoryMiB: 1 },
            ],
          }),
        ],
      },
      'gpus[0].processes[1].pid',
    ],
    [
      'processes too big',
      { gpus: [h100({ processes: [{ pid: 7, name: 'a', memoryMiB: 90000 }] })] },
      'gpus[0].processes',
    ],
    [
      'unknown vGPU type',
      { gpus: [h100({ vgpu: { instances: [{ vmName: 'a', type: 'NVIDIA H100XM-7C' }] } })] },
      'gpus[0].vgpu.instances[0].type',
    ],
    ['bad host mode', { gpus: [h100({ vgpu: { hostMode: 'sr-iov', instances: [] } })] }, 'gpus[0].vgpu.hostMode'],
    [
      'vGPU over capacity',
      {
        gpus: [h100({ vgpu: { instances: ['a', 'b', 'c'].map((vmName) => ({ vmName, type: 'NVIDIA H100XM-40C' })) } })],
      },
      'gpus[0].vgpu.instances',
    ],
    ['MIG and vGPU together', { gpus: [h100({ mig: { instances: [] }, vgpu: { instances: [] } })] }, 'gpus[0].vgpu'],
    ['MIG on a model without MIG', { gpus: [{ model: 'L40S', mig: { instances: [] } }] }, 'gpus[0].mig'],
    ['change on a missing GPU', { gpus: [h100()], changes: [{ at: 1, gpu: 4, load: 0.5 }] }, 'changes[0].gpu'],
    ['change with nothing to do', { gpus: [h100()], changes: [{ at: 1, gpu: 0 }] }, 'changes[0]'],
    [
      'change for longer than every',
      { gpus: [h100()], changes: [{ at: 1, every: 10, for: 20, gpu: 0, load: 0.5 }] },
      'changes[0].for',
    ],
    [
      'change MIG profile',
      { gpus: [h100()], changes: [{ at: 1, gpu: 0, mig: { instances: ['9g.90gb'] } }] },
      'changes[0].mig.instances[0].profile',
    ],
    [
      'detach of an unknown VM',
      {
        gpus: [h100({ vgpu: { instances: [{ vmName: 'a', type: 'NVIDIA H100XM-20C' }] } })],
        changes: [{ at: 1, gpu: 0, vgpu: { detach: 'b' } }],
      },
      'changes[0].vgpu.detach',
    ],
    ['unknown fault kind', { gpus: [h100()], faults: [{ kind: 'explode' }] }, 'faults[0].kind'],
    ['gpu-lost without gpu', { gpus: [h100()], faults: [{ kind: 'gpu-lost', from: 1, to: 2 }] }, 'faults[0].gpu'],
    ['fault on a missing GPU', { gpus: [h100()], faults: [{ kind: 'hot', gpu: 1 }] }, 'faults[0].gpu'],
    ['fault window backwards', { gpus: [h100()], faults: [{ kind: 'hang', from: 10, to: 5 }] }, 'faults[0].to'],
    ['fault every without to', { gpus: [h100()], faults: [{ kind: 'hang', from: 10, every: 60 }] }, 'faults[0].to'],
    ['fault command', { gpus: [h100()], faults: [{ kind: 'hang', command: 'table' }] }, 'faults[0].command'],
    ['exit-error message', { gpus: [h100()], faults: [{ kind: 'exit-error', message: 'boom' }] }, 'faults[0].message'],
    ['hostname', { hostname: 'a b', gpus: [h100()] }, 'hostname'],
    ['uuid format', { gpus: [h100({ uuid: 'GPU-1234' })] }, 'gpus[0].uuid'],
    ['bus id format', { gpus: [h100({ pciBusId: '18:00.0' })] }, 'gpus[0].pciBusId'],
  ];
  it.each(cases.map(([name, raw, field]) => [name, field, raw] as const))('%s → %s', (_name, field, raw) => {
    const err = errorOf(() => validateScenario(raw));
    expect(err.field).toBe(field);
    expect(err.message.startsWith(`${field}: `)).toBe(true);
  });

  it('reports YAML syntax errors with the file name', () => {
    const err = errorOf(() => parseScenario('gpus: [ {model: H100', 'broken.yaml'));
    expect(err.message).toContain('broken.yaml');
    expect(err.message).toContain('not valid YAML');
  });

  it('names the file with a validation error', () => {
    const err = errorOf(() => parseScenario('gpus:\n  - model: nope\n', 'mine.yaml'));
    expect(err.message).toBe(
      'gpus[0].model: unknown model "nope" (built in: H100-SXM5-80GB, H200-SXM-141GB, L40S) (in mine.yaml)'
    );
  });

  it('accepts versions YAML reads as numbers', () => {
    const s = parseScenario('cudaVersion: 12.8\ngpus: [ {model: L40S} ]\n');
    expect(s.cudaVersion).toBe('12.8');
  });
});
