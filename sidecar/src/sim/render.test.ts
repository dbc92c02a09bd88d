import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLValidator } from 'fast-xml-parser';
import {
  exitErrorOutput,
  renderComputeAppsCsv,
  renderGarbage,
  renderList,
  renderQueryGpuCsv,
  renderQueryXml,
  renderVgpuQuery,
  SimCliError,
  VGPU_COLON_INDEX,
} from './render.js';
import { loadScenarioFile, validateScenario } from './scenario.js';
import { hostStateAt } from './state.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '../../../tests/fixtures/nvidia-smi');
const fixture = (name: string) => readFileSync(join(fixtures, name), 'utf8');
const demo = loadScenarioFile(join(here, 'scenarios', 'demo.yaml'));
const demoState = hostStateAt(demo, 100, undefined, Date.UTC(2025, 2, 2, 15, 0, 0));

/** Every element path of an XML document ("nvidia_smi_log/gpu/fb_memory_usage/total"), as a set. */
function elementPaths(xml: string, under = ''): Set<string> {
  const paths = new Set<string>();
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z_][\w.-]*)[^>]*?(\/?)>/g;
  for (const m of xml.matchAll(tag)) {
    const [, closing, name = '', selfClosing] = m;
    if (closing) {
      stack.pop();
      continue;
    }
    const path = [...stack, name].join('/');
    if (path.startsWith(under)) paths.add(path);
    if (!selfClosing) stack.push(name);
  }
  return paths;
}

const sorted = (s: Set<string>) => [...s].sort();

describe('nvidia-smi -q -x', () => {
  const whole = validateScenario({ hostname: 'x1', driverVersion: '570.124.04', gpus: [{ model: 'H100-SXM5-80GB' }] });
  const wholeXml = renderQueryXml(hostStateAt(whole, 5));
  const demoXml = renderQueryXml(demoState);

  it('is well-formed XML with the 570 declaration and DTD', () => {
    expect(XMLValidator.validate(wholeXml)).toBe(true);
    expect(XMLValidator.validate(demoXml)).toBe(true);
    const real = fixture('q-x_rtx-3060_570.124.04.xml');
    expect(wholeXml.split('\n').slice(0, 3)).toEqual(real.split('\n').slice(0, 3));
    expect(wholeXml.endsWith('</nvidia_smi_log>\n')).toBe(true);
  });

  it('has exactly the element paths of the real 570 document for a non-MIG GPU', () => {
    expect(sorted(elementPaths(wholeXml))).toEqual(sorted(elementPaths(fixture('q-x_rtx-3060_570.124.04.xml'))));
  });

  it('indents with tabs and separates GPUs with a blank line, like the 570 document', () => {
    expect(wholeXml).toContain(
      '\n\t<gpu id="00000000:18:00.0">\n\t\t<product_name>NVIDIA H100 80GB HBM3</product_name>\n'
    );
    expect(wholeXml).toContain('\t</gpu>\n\n</nvidia_smi_log>');
    expect(wholeXml).toContain('\t\t<processes>\n\t\t</processes>\n');
  });

  it('formats values like the real tool', () => {
    expect(wholeXml).toMatch(/<total>81559 MiB<\/total>/);
    expect(wholeXml).toMatch(/<instant_power_draw>\d+\.\d\d W<\/instant_power_draw>/);
    expect(wholeXml).toMatch(/<average_power_draw>\d+\.\d\d W<\/average_power_draw>/);
    expect(wholeXml).toMatch(/<gpu_temp>\d+ C<\/gpu_temp>/);
    expect(wholeXml).toMatch(/<gpu_util>\d+ %<\/gpu_util>/);
    expect(wholeXml).toContain('<current_mig>Disabled</current_mig>');
    expect(wholeXml).toMatch(/<timestamp>\w{3} \w{3} \d{1,2} \d\d:\d\d:\d\d \d{4}<\/timestamp>/);
  });

  it('has the MIG device elements of the real A100 535 document', () => {
    const ours = elementPaths(demoXml, 'nvidia_smi_log/gpu/mig_devices');
    const real = elementPaths(
      fixture('q-x_a100-sxm4-80gb_mig-enabled_535.54.03.xml'),
      'nvidia_smi_log/gpu/mig_devices'
    );
    expect(sorted(ours)).toEqual(sorted(real));
  });

  it('has the process elements of the real 590 document', () => {
    const ours = elementPaths(demoXml, 'nvidia_smi_log/gpu/processes');
    const real = elementPaths(fixture('q-x_2x-rtx-a5000_llama-server_590.44.01.xml'), 'nvidia_smi_log/gpu/processes');
    expect(sorted(ours)).toEqual(sorted(real));
  });

  it('contains everything the sidecar reads', () => {
    const paths = elementPaths(demoXml);
    const needed = [
      'driver_version',
      'cuda_version',
      'attached_gpus',
      'gpu/product_name',
      'gpu/uuid',
      'gpu/minor_number',
      'gpu/pci/pci_bus_id',
      'gpu/fb_memory_usage/total',
      'gpu/fb_memory_usage/used',
      'gpu/utilization/gpu_util',
      'gpu/utilization/memory_util',
      'gpu/utilization/encoder_util',
      'gpu/utilization/decoder_util',
      'gpu/temperature/gpu_temp',
      'gpu/gpu_power_readings/average_power_draw',
      'gpu/gpu_power_readings/instant_power_draw',
      'gpu/gpu_power_readings/current_power_limit',
      'gpu/clocks/sm_clock',
      'gpu/clocks/mem_clock',
      'gpu/mig_mode/current_mig',
      'gpu/mig_mode/pending_mig',
      'gpu/mig_devices/mig_device/index',
      'gpu/mig_devices/mig_device/gpu_instance_id',
      'gpu/mig_devices/mig_device/compute_instance_id',
      'gpu/mig_devices/mig_device/device_attributes/shared/multiprocessor_count',
      'gpu/mig_devices/mig_device/fb_memory_usage/total',
      'gpu/mig_devices/mig_device/fb_memory_usage/used',
      'gpu/gpu_virtualization_mode/virtualization_mode',
      'gpu/gpu_virtualization_mode/host_vgpu_mode',
      'gpu/ecc_errors/volatile/dram_uncorrectable',
      'gpu/processes/process_info/gpu_instance_id',
      'gpu/processes/process_info/compute_instance_id',
      'gpu/processes/process_info/pid',
      'gpu/processes/process_info/type',
      'gpu/processes/process_info/process_name',
      'gpu/processes/process_info/used_memory',
    ];
    for (const p of needed) expect(paths).toContain(`nvidia_smi_log/${p}`);
  });

  it('reports MIG GPUs with N/A utilization, vGPU hosts with their mode', () => {
    expect(demoXml).toContain('<gpu_util>N/A</gpu_util>');
    expect(demoXml).toContain(
      '<virtualization_mode>Host VGPU</virtualization_mode>\n\t\t\t<host_vgpu_mode>SR-IOV</host_vgpu_mode>'
    );
    expect(demoXml).toContain(
      '<virtualization_mode>None</virtualization_mode>\n\t\t\t<host_vgpu_mode>N/A</host_vgpu_mode>'
    );
    expect(demoXml).toMatch(
      /<gpu_instance_id>7<\/gpu_instance_id>\n\t\t\t\t<compute_instance_id>0<\/compute_instance_id>\n\t\t\t\t<pid>43001<\/pid>/
    );
    expect(demoXml).toMatch(
      /<gpu_instance_id>N\/A<\/gpu_instance_id>\n\t\t\t\t<compute_instance_id>N\/A<\/compute_instance_id>\n\t\t\t\t<pid>47001<\/pid>/
    );
  });

  it('escapes text', () => {
    const s = validateScenario({ gpus: [{ model: 'L40S', processes: [{ pid: 9, name: 'a<b>&c', memoryMiB: 5 }] }] });
    const xml = renderQueryXml(hostStateAt(s, 0));
    expect(xml).toContain('<process_name>a&lt;b&gt;&amp;c</process_name>');
    expect(XMLValidator.validate(xml)).toBe(true);
  });
});

describe('nvidia-smi -L', () => {
  it('spaces MIG lines exactly like capture_h100-mig', () => {
    const capture = fixture('capture_h100-mig_590.48.01.txt').split('\n');
    const realLines = capture.filter((l) => l.startsWith('  MIG '));
    const ours = renderList(demoState).split('\n');
    const gpu1 = ours.slice(
      ours.findIndex((l) => l.startsWith('GPU 1:')) + 1,
      ours.findIndex((l) => l.startsWith('GPU 2:'))
    );
    expect(gpu1).toHaveLength(4);
    gpu1.forEach((line, i) => {
      const real = realLines[i] ?? '';
      const realUuid = real.slice(real.indexOf('(UUID: '));
      expect(line.slice(0, line.indexOf('(UUID: ')) + realUuid).toBe(real);
    });
    expect(ours[0]).toMatch(/^GPU 0: NVIDIA H100 80GB HBM3 \(UUID: GPU-[0-9a-f-]{36}\)$/);
  });
});

describe('nvidia-smi vgpu -q', () => {
  const real = fixture('vgpu-q_rtx-pro-6000-blackwell-dc_2-vgpus_580.105.06.txt');
  const ours = renderVgpuQuery(demoState);

  it('puts every colon at the column of the 580 output', () => {
    const realCols = new Set(
      real
        .split('\n')
        .filter((l) => l.includes(' : '))
        .map((l) => l.indexOf(' : ') + 1)
    );
    expect([...realCols]).toEqual([VGPU_COLON_INDEX]);
    const lines = ours.split('\n').filter((l) => l.includes(':') && !l.startsWith('GPU '));
    expect(lines.length).toBeGreaterThan(50);
    for (const l of lines) expect(l.indexOf(' : ') + 1).toBe(VGPU_COLON_INDEX);
  });

  it('has the 580 keys and nesting for each vGPU', () => {
    const shape = (text: string) =>
      text
        .split('\n')
        .map((l) => {
          const key = l.includes(' : ') ? l.slice(0, l.indexOf(' : ')).trimEnd() : l.trimEnd();
          return key.startsWith('GPU 0') ? 'GPU <bus>' : key;
        })
        .filter((k) => k !== '');
    const realShape = shape(real);
    const gpu3 = demoState.gpus.find((g) => g.position === 4);
    if (!gpu3) throw new Error('no GPU 4');
    const ourShape = shape(renderVgpuQuery(demoState, { gpus: [gpu3] }));
    // The fixture has two vGPUs; compare the header and the first two vGPU blocks.
    expect(ourShape.slice(0, realShape.length)).toEqual(realShape);
  });

  it('prints Active vGPUs : 0 for a GPU without vGPUs, GPUs separated by a blank line', () => {
    expect(
      ours.startsWith('GPU 00000000:18:00.0\n    Active vGPUs                          : 0\n\nGPU 00000000:2A:00.0\n')
    ).toBe(true);
    expect(ours).toContain('        License Status                    : Unlicensed (Unrestricted)\n');
    expect(ours).toContain(
      '        Guest Driver Version              : N/A\n        License Status                    : N/A (Expiry: N/A)\n'
    );
    expect(ours).toMatch(/License Status {20}: Licensed \(Expiry: \d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d\d:\d\d GMT\)/);
  });
});

describe('CSV queries', () => {
  const capture = fixture('capture_h100-mig_590.48.01.txt').split('\n');
  const section = (cmd: string) => {
    const i = capture.findIndex((l) => l.startsWith(`# $ nvidia-smi ${cmd}`));
    return { command: capture[i] ?? '', header: capture[i + 2] ?? '' };
  };

  it('--query-gpu: the header of all 212 properties is the capture header', () => {
    const { command, header } = section('--query-gpu=');
    const fields = (command.split('=')[1] ?? '').split(' ')[0]?.split(',') ?? [];
    expect(fields).toHaveLength(212);
    const out = renderQueryGpuCsv(demoState, fields, { noheader: false, nounits: false });
    expect(out.split('\n')[0]).toBe(header);
    expect(out.split('\n')[1]?.split(', ')).toHaveLength(212);
  });

  it('--query-gpu: the fields the sidecar may use, with and without units', () => {
    const fields =
      'index,uuid,name,pci.bus_id,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,power.limit,mig.mode.current'.split(
        ','
      );
    const out = renderQueryGpuCsv(demoState, fields, { noheader: false, nounits: false }).split('\n');
    expect(out[0]).toBe(
      'index, uuid, name, pci.bus_id, memory.total [MiB], memory.used [MiB], utilization.gpu [%], temperature.gpu, power.draw [W], power.limit [W], mig.mode.current'
    );
    expect(out[1]).toMatch(
      /^0, GPU-[0-9a-f-]{36}, NVIDIA H100 80GB HBM3, 00000000:18:00\.0, 81559 MiB, \d+ MiB, \d+ %, \d+, \d+\.\d\d W, 700\.00 W, Disabled$/
    );
    expect(out[2]).toMatch(/, \[N\/A\], \d+, \d+\.\d\d W, 700\.00 W, Enabled$/);
    const bare = renderQueryGpuCsv(demoState, fields, { noheader: true, nounits: true }).split('\n');
    expect(bare[0]).toMatch(
      /^0, GPU-[0-9a-f-]{36}, NVIDIA H100 80GB HBM3, 00000000:18:00\.0, 81559, \d+, \d+, \d+, \d+\.\d\d, 700\.00, Disabled$/
    );
    expect(bare).toHaveLength(9); // 8 rows + final newline
  });

  it('--query-gpu: aliases print the canonical header; unknown fields are refused like the real tool', () => {
    expect(
      renderQueryGpuCsv(demoState, ['gpu_name', 'gpu_uuid'], { noheader: false, nounits: false }).split('\n')[0]
    ).toBe('name, uuid');
    expect(() => renderQueryGpuCsv(demoState, ['memory.bogus'], { noheader: false, nounits: false })).toThrow(
      new SimCliError('Field "memory.bogus" is not a valid field to query.\n\n', 2)
    );
  });

  it('--query-compute-apps: the capture header, one row per compute process, MIG processes on the parent GPU', () => {
    const { command, header } = section('--query-compute-apps=');
    const fields = (command.split('=')[1] ?? '').split(' ')[0]?.split(',') ?? [];
    const out = renderComputeAppsCsv(demoState, fields, { noheader: false, nounits: false }).split('\n');
    expect(out[0]).toBe(header);
    const rows = out.slice(1).filter((l) => l !== '');
    expect(rows).toHaveLength(demoState.gpus.reduce((n, g) => n + g.processes.length, 0));
    const gpu2 = demoState.gpus[2];
    expect(rows.find((r) => r.includes(', 43001, '))).toMatch(
      new RegExp(`, ${gpu2?.uuid}, 43001, /usr/bin/python3, 8804 MiB$`)
    );
    expect(rows.filter((r) => r.includes(', vgpu, '))).toHaveLength(7);
  });

  it('--query-compute-apps with no processes prints only the header (or nothing with noheader)', () => {
    const s = hostStateAt(validateScenario({ gpus: [{ model: 'L40S' }] }), 0);
    expect(renderComputeAppsCsv(s, ['pid', 'used_memory'], { noheader: false, nounits: false })).toBe(
      'pid, used_gpu_memory [MiB]\n'
    );
    expect(renderComputeAppsCsv(s, ['pid'], { noheader: true, nounits: false })).toBe('');
  });
});

describe('fault outputs', () => {
  it('garbage is not XML', () => {
    const good = renderQueryXml(demoState);
    const bad = renderGarbage(demoState, 'xml', good);
    expect(bad).not.toContain('</nvidia_smi_log>');
    expect(XMLValidator.validate(bad)).not.toBe(true);
  });

  it('exit errors use the real texts and exit codes', () => {
    expect(exitErrorOutput('mismatch', demoState, '00000000:18:00.0')).toEqual({
      text: 'Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 570.124\n',
      exitCode: 18,
    });
    expect(exitErrorOutput('unknown', demoState, '00000000:3A:00.0').text).toBe(
      'Unable to determine the device handle for GPU0000:3A:00.0: Unknown Error\n'
    );
    expect(exitErrorOutput('lost', demoState, '00000000:3A:00.0').exitCode).toBe(15);
  });
});
