import { buildGpus, duplicateUuidGpus, type VgpuSchedulerState } from './gpuSnapshot.js';
import { parseNvidiaSmiList } from './nvidiaSmiList.js';
import { parseNvidiaSmiXml } from './nvidiaSmiXml.js';
import { parseVgpuQuery } from './vgpuQuery.js';
import { captureSection, readFixture } from './__tests__/fixtures.js';

const MiB = 1048576;
const A100_80 = 'q-x_a100-sxm4-80gb_mig-enabled_535.54.03.xml';
const A100_UUID = 'GPU-513536b6-7d19-9063-b049-1e69664bb298';

// CONSTRUCTED -L output for the A100-SXM4-80GB fixture (its real -L was not published): the line
// format of the real captures, this GPU's UUID, the profile PROVENANCE.md sizes its instances as
// (1g.20gb: 14 SMs, 19968 MiB), and made-up MIG UUIDs.
const A100_LIST_CONSTRUCTED = [
  `GPU 0: NVIDIA A100-SXM4-80GB (UUID: ${A100_UUID})`,
  '  MIG 1g.20gb      Device  0: (UUID: MIG-aaaaaaaa-0000-0000-0000-000000000000)',
  '  MIG 1g.20gb      Device  1: (UUID: MIG-aaaaaaaa-0000-0000-0000-000000000001)',
  '  MIG 1g.20gb      Device  2: (UUID: MIG-aaaaaaaa-0000-0000-0000-000000000002)',
  '  MIG 1g.20gb      Device  3: (UUID: MIG-aaaaaaaa-0000-0000-0000-000000000003)',
].join('\n');

// CONSTRUCTED: the real fixture with two processes put into its empty <processes />, in the layout
// the 590 A5000 fixture prints (GI/CI ids as the H100 capture's -q text shows them for MIG).
function a100WithMigProcesses(): string {
  const procs =
    '<processes>' +
    '<process_info><gpu_instance_id>4</gpu_instance_id><compute_instance_id>0</compute_instance_id><pid>4242</pid>' +
    '<type>C</type><process_name>python3 -m vllm.entrypoints.openai.api_server</process_name><used_memory>15000 MiB</used_memory></process_info>' +
    '<process_info><gpu_instance_id>N/A</gpu_instance_id><compute_instance_id>N/A</compute_instance_id><pid>77</pid>' +
    '<type>G</type><process_name>Xorg</process_name><used_memory>4 MiB</used_memory></process_info>' +
    '</processes>';
  const xml = readFixture(A100_80);
  expect(xml).toContain('<processes />');
  return xml.replace('<processes />', procs);
}

describe('buildGpus: XML + -L', () => {
  it('puts -L index, MIG UUIDs and profiles onto the A100 MIG devices (constructed -L)', () => {
    const gpus = buildGpus(
      'h1',
      parseNvidiaSmiXml(readFixture(A100_80)),
      parseNvidiaSmiList(A100_LIST_CONSTRUCTED),
      null
    );
    expect(gpus).toHaveLength(1);
    const g = gpus[0];
    expect(g?.host).toBe('h1');
    expect(g?.index).toBe(0);
    expect(g?.uuid).toBe(A100_UUID);
    expect(g?.mig.mode).toBe('enabled');
    expect(g?.mig.pendingMode).toBe('enabled');
    expect(g?.mig.instances.map((i) => [i.index, i.gpuInstanceId, i.computeInstanceId, i.profile, i.uuid])).toEqual([
      [0, 3, 0, '1g.20gb', 'MIG-aaaaaaaa-0000-0000-0000-000000000000'],
      [1, 4, 0, '1g.20gb', 'MIG-aaaaaaaa-0000-0000-0000-000000000001'],
      [2, 5, 0, '1g.20gb', 'MIG-aaaaaaaa-0000-0000-0000-000000000002'],
      [3, 6, 0, '1g.20gb', 'MIG-aaaaaaaa-0000-0000-0000-000000000003'],
    ]);
    expect(g?.mig.instances[0]?.memory).toEqual({ totalBytes: 20937965568, usedBytes: 12 * MiB });
    expect(g?.mig.instances[0]?.multiprocessorCount).toBe(14);
    expect(g?.utilization).toEqual({ gpu: null, memory: null, encoder: null, decoder: null });
    expect(g?.powerW).toBe(67.03);
    expect(g?.powerLimitW).toBe(500);
    expect(g?.temperatureC).toBe(27);
    expect(g?.vgpu).toEqual({ hostMode: 'none', schedulerPolicy: null, arr: null, instances: [] });
    expect(g?.eccUncorrectedVolatile).toBe(0);
  });

  it('attributes processes to MIG instances by GPU/compute instance id', () => {
    const [g] = buildGpus(
      'h1',
      parseNvidiaSmiXml(a100WithMigProcesses()),
      parseNvidiaSmiList(A100_LIST_CONSTRUCTED),
      null
    );
    expect(g?.processes).toEqual([
      {
        pid: 4242,
        name: 'python3 -m vllm.entrypoints.openai.api_server',
        type: 'C',
        usedMemoryBytes: 15000 * MiB,
        gpuUuid: A100_UUID,
        migUuid: 'MIG-aaaaaaaa-0000-0000-0000-000000000001',
      },
      { pid: 77, name: 'Xorg', type: 'G', usedMemoryBytes: 4 * MiB, gpuUuid: A100_UUID },
    ]);
    const byGi = new Map(g?.mig.instances.map((i) => [i.gpuInstanceId, i.processes.map((p) => [p.pid, p.migUuid])]));
    expect(byGi.get(4)).toEqual([[4242, 'MIG-aaaaaaaa-0000-0000-0000-000000000001']]);
    expect(byGi.get(3)).toEqual([]);
    expect(byGi.get(5)).toEqual([]);
  });

  it('without -L: index null, MIG uuid/profile null, processes still attributed (no migUuid)', () => {
    const [g] = buildGpus('h1', parseNvidiaSmiXml(a100WithMigProcesses()), null, null);
    expect(g?.index).toBeNull();
    expect(g?.mig.instances.every((i) => i.uuid === null && i.profile === null)).toBe(true);
    const gi4 = g?.mig.instances.find((i) => i.gpuInstanceId === 4);
    expect(gi4?.processes).toHaveLength(1);
    expect(gi4?.processes[0]).not.toHaveProperty('migUuid');
    expect(g?.processes[0]).not.toHaveProperty('migUuid');
    expect(g?.processes[0]?.gpuUuid).toBe(A100_UUID);
  });

  it('-L of another host (the real H100 capture) leaves the index null', () => {
    const list = parseNvidiaSmiList(
      captureSection(readFixture('capture_h100-mig_590.48.01.txt'), 'capabilities :: list (-L)')
    );
    expect(list).toHaveLength(1);
    const [g] = buildGpus('h1', parseNvidiaSmiXml(readFixture(A100_80)), list, null);
    expect(g?.index).toBeNull();
    expect(g?.mig.instances[0]?.uuid).toBeNull();
  });

  it('2× A5000: the same pid on both GPUs; sorted by -L index (constructed -L), else by bus id', () => {
    const log = parseNvidiaSmiXml(readFixture('q-x_2x-rtx-a5000_llama-server_590.44.01.xml'));
    const noList = buildGpus('h', log, null, null);
    expect(noList.map((g) => [g.index, g.pciBusId])).toEqual([
      [null, '00000000:81:00.0'],
      [null, '00000000:C1:00.0'],
    ]);
    expect(noList.map((g) => g.processes.map((p) => [p.pid, p.usedMemoryBytes, p.gpuUuid]))).toEqual([
      [[100477, 22430 * MiB, 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab']],
      [[100477, 17246 * MiB, 'GPU-12345678-aaaa-bbbb-cccc-0123456789cd']],
    ]);
    // CONSTRUCTED -L with the fixture's (masked) UUIDs, the C1 GPU as index 0.
    const list = parseNvidiaSmiList(
      'GPU 0: NVIDIA RTX A5000 (UUID: GPU-12345678-aaaa-bbbb-cccc-0123456789cd)\n' +
        'GPU 1: NVIDIA RTX A5000 (UUID: GPU-12345678-aaaa-bbbb-cccc-0123456789ab)\n'
    );
    expect(buildGpus('h', log, list, null).map((g) => [g.index, g.pciBusId])).toEqual([
      [0, '00000000:C1:00.0'],
      [1, '00000000:81:00.0'],
    ]);
    // Only one of two listed: the listed one first, the unlisted one last.
    expect(buildGpus('h', log, list.slice(1), null).map((g) => g.index)).toEqual([1, null]);
  });
});

// CONSTRUCTED -q -x documents for the two GPUs of the real 580 vGPU host (its XML was not
// published): bus ids in another spelling than vgpu -q prints them, to test the join.
function vgpuHostXml(hostVgpuMode: string, virtualizationMode = 'Host VGPU'): string {
  const one = (bus: string, uuid: string, mig: string) =>
    `<gpu id="${bus}"><product_name>NVIDIA RTX PRO 6000 Blackwell Server Edition</product_name>` +
    `<mig_mode><current_mig>${mig}</current_mig><pending_mig>${mig}</pending_mig></mig_mode>` +
    `<uuid>${uuid}</uuid><gpu_virtualization_mode><virtualization_mode>${virtualizationMode}</virtualization_mode>` +
    `<host_vgpu_mode>${hostVgpuMode}</host_vgpu_mode></gpu_virtualization_mode>` +
    `<pci><pci_bus_id>${bus}</pci_bus_id></pci><processes></processes></gpu>`;
  return (
    '<?xml version="1.0" ?>\n<nvidia_smi_log><driver_version>580.105.06</driver_version>' +
    one('0001:c8:00.0', 'GPU-0a5ba9ad-a575-72c7-d51d-3e726232cfd1', 'Disabled') +
    one('00000001:04:00.0', 'GPU-171566b8-60f0-9c5e-7388-59b5583f7b97', 'Enabled') +
    '</nvidia_smi_log>'
  );
}

describe('buildGpus: XML + vgpu -q', () => {
  const timeSliced = parseVgpuQuery(readFixture('vgpu-q_rtx-pro-6000-blackwell-dc_2-vgpus_580.105.06.txt'));
  const migBacked = parseVgpuQuery(readFixture('vgpu-q_rtx-pro-6000-blackwell-dc_mig-backed_580.105.06.txt'));

  it('joins vGPU instances on the PCI bus id whatever its case and domain width', () => {
    const gpus = buildGpus('kvm1', parseNvidiaSmiXml(vgpuHostXml('SR-IOV')), null, [...timeSliced, ...migBacked]);
    const c8 = gpus.find((g) => g.uuid === 'GPU-0a5ba9ad-a575-72c7-d51d-3e726232cfd1');
    const b04 = gpus.find((g) => g.uuid === 'GPU-171566b8-60f0-9c5e-7388-59b5583f7b97');
    expect(c8?.vgpu.hostMode).toBe('sriov');
    expect(c8?.vgpu.instances.map((v) => [v.id, v.vmName, v.utilization.gpu])).toEqual([
      ['3251637554', 'instance-00000004', 0],
      ['3251637566', 'instance-00000005', 12],
    ]);
    expect(b04?.vgpu.instances.map((v) => [v.id, v.gpuInstanceId, v.utilization.gpu])).toEqual([
      ['3251669307', 3, null],
    ]);
    expect(b04?.mig.mode).toBe('enabled');
    // sorted by bus id when there is no -L
    expect(gpus.map((g) => g.pciBusId)).toEqual(['00000001:04:00.0', '0001:c8:00.0']);
  });

  it("host_vgpu_mode N/A but vGPUs listed: 'non-sriov'; none listed and no Host VGPU mode: stays 'none'", () => {
    const gpus = buildGpus('kvm1', parseNvidiaSmiXml(vgpuHostXml('N/A', 'None')), null, timeSliced);
    const c8 = gpus.find((g) => g.pciBusId === '0001:c8:00.0');
    const b04 = gpus.find((g) => g.pciBusId === '00000001:04:00.0');
    expect(c8?.vgpu.hostMode).toBe('non-sriov');
    expect(b04?.vgpu.hostMode).toBe('none');
    expect(b04?.vgpu.instances).toEqual([]);
  });

  it("virtualization_mode Host VGPU with host_vgpu_mode N/A: a vGPU host ('non-sriov') with or without VMs", () => {
    const gpus = buildGpus('kvm1', parseNvidiaSmiXml(vgpuHostXml('N/A')), null, null);
    expect(gpus.map((g) => g.vgpu.hostMode)).toEqual(['non-sriov', 'non-sriov']);
  });

  it('Non SR-IOV from the XML is kept', () => {
    const gpus = buildGpus('kvm1', parseNvidiaSmiXml(vgpuHostXml('Non SR-IOV')), null, null);
    expect(gpus.map((g) => g.vgpu.hostMode)).toEqual(['non-sriov', 'non-sriov']);
  });

  it('puts scheduler state on by bus id', () => {
    const sched = new Map<string, VgpuSchedulerState>([['00000001:C8:00.0', { policy: 'Equal Share', arr: false }]]);
    const gpus = buildGpus('kvm1', parseNvidiaSmiXml(vgpuHostXml('SR-IOV')), null, timeSliced, sched);
    const c8 = gpus.find((g) => g.pciBusId === '0001:c8:00.0');
    const b04 = gpus.find((g) => g.pciBusId === '00000001:04:00.0');
    expect([c8?.vgpu.schedulerPolicy, c8?.vgpu.arr]).toEqual(['Equal Share', false]);
    expect([b04?.vgpu.schedulerPolicy, b04?.vgpu.arr]).toEqual([null, null]);
  });

  it('does not share objects with its inputs', () => {
    const log = parseNvidiaSmiXml(vgpuHostXml('SR-IOV'));
    const gpus = buildGpus('kvm1', log, null, timeSliced);
    const c8 = gpus.find((g) => g.pciBusId === '0001:c8:00.0');
    if (c8?.vgpu.instances[0]) c8.vgpu.instances[0].utilization.gpu = 99;
    expect(timeSliced[0]?.instances[0]?.utilization.gpu).toBe(0);
  });
});

// The real 510.47.03 A100 document (DTD v11) turned into what an older driver writes (DTD v10 and before):
// no <host_vgpu_mode> element at all, and this GPU a vGPU host. No real v10 capture was found (PROVENANCE.md).
function olderDriverVgpuHost(): string {
  const xml = readFixture('q-x_a100-sxm4-40gb_mig-enabled_passthrough_510.47.03.xml');
  expect(xml).toMatch(/<host_vgpu_mode>N\/A<\/host_vgpu_mode>/);
  return xml
    .replace('nvsmi_device_v11.dtd', 'nvsmi_device_v10.dtd')
    .replace(/\s*<host_vgpu_mode>N\/A<\/host_vgpu_mode>/, '')
    .replace('<virtualization_mode>Pass-Through</virtualization_mode>', '<virtualization_mode>Host VGPU</virtualization_mode>');
}

describe('buildGpus: XML of older drivers (DTD v10 and before)', () => {
  it("no host_vgpu_mode element, virtualization_mode Host VGPU: a vGPU host", () => {
    const xml = olderDriverVgpuHost();
    expect(xml).not.toContain('host_vgpu_mode');
    const [g] = buildGpus('old', parseNvidiaSmiXml(xml), null, null);
    expect(g?.vgpu.hostMode).toBe('non-sriov');
  });

  it('the same document as written (Pass-Through): not a vGPU host', () => {
    const [g] = buildGpus('old', parseNvidiaSmiXml(readFixture('q-x_a100-sxm4-40gb_mig-enabled_passthrough_510.47.03.xml')), null, null);
    expect(g?.vgpu.hostMode).toBe('none');
  });
});

describe('buildGpus: two GPUs reporting one UUID', () => {
  // The real 2× A5000 document with the second GPU given the first one's (already masked) UUID, as a masked
  // capture or a board with a broken VBIOS shows it; -L CONSTRUCTED in the real line format, in enumeration order.
  const A = 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab';
  const B = 'GPU-12345678-aaaa-bbbb-cccc-0123456789cd';
  const xml = readFixture('q-x_2x-rtx-a5000_llama-server_590.44.01.xml').split(B).join(A);
  const list = parseNvidiaSmiList(`GPU 0: NVIDIA RTX A5000 (UUID: ${A})\nGPU 1: NVIDIA RTX A5000 (UUID: ${A})\n`);

  it('keeps both, each with its own index and bus id, and names the second as the duplicate', () => {
    const gpus = buildGpus('h', parseNvidiaSmiXml(xml), list, null);
    expect(gpus.map((g) => [g.uuid, g.index, g.pciBusId])).toEqual([
      [A, 0, '00000000:81:00.0'],
      [A, 1, '00000000:C1:00.0'],
    ]);
    expect(duplicateUuidGpus(gpus).map((g) => g.index)).toEqual([1]);
    expect(duplicateUuidGpus(buildGpus('h', parseNvidiaSmiXml(readFixture('q-x_2x-rtx-a5000_llama-server_590.44.01.xml')), null, null))).toEqual([]);
  });
});
