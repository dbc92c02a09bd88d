// End-to-end tests of the fake nvidia-smi as a real child process. The simulator's sources are transpiled on
// their own into node_modules/.cache (__tests__/simBuild.ts; so these tests do not depend on `npm run build` or
// on the rest of the sidecar compiling), then run with node exactly as the sidecar would run nvidia-smi.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { buildSimForTests } from './__tests__/simBuild.js';
import { parseArgs } from './fakeCli.js';
import { SimCliError } from './render.js';

let outDir = '';
let fake = '';
let tmp = '';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [fake, ...args],
      { env: { PATH: process.env.PATH ?? '', GPUFLEET_SIM_SCENARIO: 'demo', ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        });
      }
    );
  });
}

function control(content: unknown): string {
  const p = join(tmp, `control-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(content));
  return p;
}

beforeAll(() => {
  outDir = buildSimForTests();
  fake = join(outDir, 'sim', 'fakeNvidiaSmi.js');
  tmp = mkdtempSync(join(tmpdir(), 'gpufleet-sim-'));
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('argument parsing', () => {
  it('understands the forms the collectors use', () => {
    expect(parseArgs(['-q', '-x']).command).toBe('xml');
    expect(parseArgs(['-q', '-x', '-lms', '500']).loopMs).toBe(500);
    expect(parseArgs(['--query', '--xml-format', '--loop=2']).loopMs).toBe(2000);
    expect(parseArgs(['-L', '-i', '0,3']).ids).toEqual(['0', '3']);
    expect(parseArgs(['vgpu', '-q']).command).toBe('vgpu');
    expect(parseArgs(['--query-gpu=index,uuid', '--format=csv,noheader,nounits'])).toMatchObject({
      command: 'query-gpu',
      fields: ['index', 'uuid'],
      csv: { noheader: true, nounits: true },
    });
    expect(parseArgs(['--query-compute-apps=pid,used_memory', '--format=csv']).command).toBe('compute-apps');
  });

  it('refuses what the real tool refuses', () => {
    expect(() => parseArgs(['--bogus'])).toThrow(
      new SimCliError("ERROR: Option --bogus is not recognized. Please run 'nvidia-smi -h' for help.\n", 2)
    );
    expect(() => parseArgs(['--format=csv'])).toThrow(
      new SimCliError("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n", 2)
    );
    expect(() => parseArgs(['-x'])).toThrow(SimCliError);
    expect(() => parseArgs(['--query-gpu=index'])).toThrow(SimCliError);
    expect(() => parseArgs(['-q', '-x', '-l', 'soon'])).toThrow(SimCliError);
  });
});

describe('the fake executable', () => {
  it('prints -q -x for a shipped scenario by name', async () => {
    const r = await run(['-q', '-x']);
    expect(r.code).toBe(0);
    expect(XMLValidator.validate(r.stdout)).toBe(true);
    expect(r.stdout).toContain('<attached_gpus>8</attached_gpus>');
  });

  it('takes a scenario file path, a fixed epoch and -i', async () => {
    const p = join(tmp, 'one.yaml');
    writeFileSync(p, 'hostname: path-host\ngpus:\n  - model: L40S\n  - model: L40S\n');
    const r = await run(['-L', '-i', '1'], { GPUFLEET_SIM_SCENARIO: p, GPUFLEET_SIM_EPOCH: String(Date.now() - 5000) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^GPU 1: NVIDIA L40S \(UUID: GPU-[0-9a-f-]{36}\)\n$/);
  });

  it('-q -x -lms 200 prints a complete document every 200 ms until killed', async () => {
    const child = spawn(process.execPath, [fake, '-q', '-x', '-lms', '200'], {
      env: { PATH: process.env.PATH ?? '', GPUFLEET_SIM_SCENARIO: 'demo' },
    });
    let out = '';
    // Time from the first document (node's start-up is not the fake's business), then about a second.
    const first = new Promise<void>((r) =>
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('</nvidia_smi_log>')) r();
      })
    );
    await first;
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGTERM');
    await new Promise((r) => child.on('close', r));
    const docs = out
      .split('</nvidia_smi_log>')
      .slice(0, -1)
      .map((d) => `${d}</nvidia_smi_log>`.trim());
    expect(docs.length).toBeGreaterThanOrEqual(3);
    for (const d of docs) expect(XMLValidator.validate(d)).toBe(true);
  });

  it('a hang never answers and dies on SIGKILL', async () => {
    const ctl = control({ fault: 'hang' });
    const child = spawn(process.execPath, [fake, '-q', '-x'], {
      env: { PATH: process.env.PATH ?? '', GPUFLEET_SIM_SCENARIO: 'demo', GPUFLEET_SIM_CONTROL: ctl },
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
      child.on('close', (code, signal) => r([code, signal]))
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(child.exitCode).toBeNull();
    expect(out).toBe('');
    child.kill('SIGKILL');
    expect(await closed).toEqual([null, 'SIGKILL']);
  });

  it('a hang also dies on SIGTERM (unless ignoreSigterm)', async () => {
    const ctl = control({ fault: 'hang' });
    const child = spawn(process.execPath, [fake, '-L'], {
      env: { PATH: process.env.PATH ?? '', GPUFLEET_SIM_SCENARIO: 'demo', GPUFLEET_SIM_CONTROL: ctl },
    });
    const closed = new Promise<NodeJS.Signals | null>((r) => child.on('close', (_c, signal) => r(signal)));
    await new Promise((r) => setTimeout(r, 700));
    child.kill('SIGTERM');
    expect(await closed).toBe('SIGTERM');
  });

  it('exit-error prints the real message and exit code', async () => {
    const r = await run(['-q', '-x'], { GPUFLEET_SIM_CONTROL: control({ fault: 'exit-error' }) });
    expect(r.code).toBe(18);
    expect(r.stdout).toBe(
      'Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 570.124\n'
    );
  });

  it('garbage exits 0 with something that is not XML', async () => {
    const r = await run(['-q', '-x'], {
      GPUFLEET_SIM_CONTROL: control({ fault: { kind: 'garbage', command: 'xml' } }),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('</nvidia_smi_log>');
    const list = await run(['-L'], { GPUFLEET_SIM_CONTROL: control({ fault: { kind: 'garbage', command: 'xml' } }) });
    expect(list.stdout).toMatch(/^GPU 0: /);
  });

  it('slow answers after the delay', async () => {
    const started = Date.now();
    const r = await run(['-L'], { GPUFLEET_SIM_CONTROL: control({ fault: { kind: 'slow', delayMs: 800 } }) });
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
  });

  it('a lost GPU is missing everywhere', async () => {
    const ctl = control({ lostGpus: [5] });
    const xml = await run(['-q', '-x'], { GPUFLEET_SIM_CONTROL: ctl });
    expect(xml.stdout).toContain('<attached_gpus>7</attached_gpus>');
    expect(xml.stdout).not.toContain('gpu id="00000000:AB:00.0"');
    const csv = await run(['--query-gpu=index,pci.bus_id', '--format=csv,noheader'], { GPUFLEET_SIM_CONTROL: ctl });
    expect(csv.stdout.trim().split('\n')).toHaveLength(7);
  });

  it('the control file is re-read on every call', async () => {
    const p = join(tmp, 'live.json');
    writeFileSync(p, JSON.stringify({ mig: { '1': ['7g.80gb'] } }));
    expect((await run(['-L', '-i', '1'], { GPUFLEET_SIM_CONTROL: p })).stdout).toContain('MIG 7g.80gb');
    writeFileSync(p, JSON.stringify({ mig: { '1': ['4g.40gb', '3g.40gb'] } }));
    const again = await run(['-L', '-i', '1'], { GPUFLEET_SIM_CONTROL: p });
    expect(again.stdout).toContain('MIG 4g.40gb');
    expect(again.stdout).toContain('MIG 3g.40gb');
  });

  it('an xid fault appends one kernel-log record per occurrence to GPUFLEET_SIM_KMSG', async () => {
    const kmsg = join(tmp, 'kmsg');
    writeFileSync(kmsg, '');
    const env = { GPUFLEET_SIM_KMSG: kmsg, GPUFLEET_SIM_CONTROL: control({ fault: { kind: 'xid', gpu: 2, xid: 48 } }) };
    expect((await run(['-L'], env)).code).toBe(0);
    expect((await run(['-q', '-x'], env)).code).toBe(0);
    const lines = readFileSync(kmsg, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^4,\d+,\d+,-;NVRM: Xid \(PCI:0000:3a:00\): 48, pid='<unknown>', name=<unknown>, An uncorrectable double bit error/
    );
  });

  it('prints CSV, vgpu -q and --version', async () => {
    const csv = await run(['--query-compute-apps=pid,process_name,used_memory', '--format=csv,nounits']);
    expect(csv.stdout.split('\n')[0]).toBe('pid, process_name, used_gpu_memory [MiB]');
    const vgpu = await run(['vgpu', '-q', '-i', '3']);
    expect(vgpu.stdout).toMatch(/^GPU 00000000:5D:00\.0\n {4}Active vGPUs {26}: [34]\n/);
    const v = await run(['--version']);
    expect(v.stdout).toBe(
      'NVIDIA-SMI version  : 570.124.06\nNVML version        : 570.124\nDRIVER version      : 570.124.06\nCUDA Version        : 12.8\n'
    );
  });

  it('answers bad usage like the real tool', async () => {
    expect(await run(['--query-gpu=bogus', '--format=csv'])).toMatchObject({
      code: 2,
      stdout: 'Field "bogus" is not a valid field to query.\n\n',
    });
    expect(await run(['-L', '-i', '42'])).toMatchObject({ code: 6, stdout: 'No devices were found\n' });
    expect(await run(['--frobnicate'])).toMatchObject({ code: 2 });
    const table = await run([]);
    expect(table.code).toBe(2);
    expect(table.stderr).toContain('not simulated');
  });

  it('a broken scenario fails with the field named', async () => {
    const p = join(tmp, 'bad.yaml');
    writeFileSync(p, 'gpus:\n  - model: H100-SXM5-80GB\n    mig: { instances: [ { profile: 9g.99gb } ] }\n');
    const r = await run(['-L'], { GPUFLEET_SIM_SCENARIO: p });
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('gpus[0].mig.instances[0].profile');
  });

  it('a bad control file is reported and ignored', async () => {
    const p = join(tmp, 'badctl.json');
    mkdirSync(tmp, { recursive: true });
    writeFileSync(p, '{"lostGpus": [99]}');
    const r = await run(['-L'], { GPUFLEET_SIM_CONTROL: p });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('control.lostGpus[0]');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('GPU '))).toHaveLength(8);
  });
});
