// Every file in tests/fixtures/nvidia-smi goes through the parser for its command here, with the
// values a user would read off it. A new fixture without an entry fails the first test.

import { parseMigProfiles } from './migProfiles.js';
import { parseNvidiaSmiList } from './nvidiaSmiList.js';
import { splitSmiLogStream } from './nvidiaSmiStream.js';
import { parseNvidiaSmiXml } from './nvidiaSmiXml.js';
import { parseQueryGpuLine } from './queryGpuCsv.js';
import { childrenOf, parseSmiText, valueAt } from './smiText.js';
import { parseVgpuQuery } from './vgpuQuery.js';
import { captureSection, fixtureNames, readFixture, sessionOutput } from './__tests__/fixtures.js';

const MiB = 1048576;

function migGiCi(text: string): [string, string][] {
  const gpu = parseSmiText(text).find((r) => r.key.startsWith('GPU 0000'));
  return childrenOf(gpu, 'MIG Device').map((m) => [
    valueAt(m, 'GPU Instance ID') ?? '?',
    valueAt(m, 'Compute Instance ID') ?? '?',
  ]);
}

const H200_UUID = 'GPU-8075bd7e-d6b3-6f87-b92d-6bc5c62fa981';

const CHECKS: Record<string, (text: string) => void> = {
  'L_h200_580.159.04.txt': (text) => {
    expect(parseNvidiaSmiList(text)).toEqual([{ index: 0, name: 'NVIDIA H200', uuid: H200_UUID, migDevices: [] }]);
  },
  'mig-lgip_h200_mig-disabled_580.159.04.txt': (text) => {
    // With MIG off the driver still answers with every profile the GPU could hold, all free: the sidecar
    // reads this table only while some GPU has MIG on (migProfilesReader), or every H200 would look carvable.
    expect(parseMigProfiles(text).map((r) => `${r.profile}#${r.profileId} ${r.free}/${r.total}`)).toEqual([
      '1g.18gb#19 7/7',
      '1g.18gb+me#20 1/1',
      '1g.35gb#15 4/4',
      '2g.35gb#14 3/3',
      '3g.71gb#9 2/2',
      '4g.71gb#5 1/1',
      '7g.141gb#0 1/1',
    ]);
  },
  'q-text_h200_python-load_580.159.04.txt': (text) => {
    const gpu = parseSmiText(text).find((r) => r.key === 'GPU 00000000:00:06.0');
    expect([valueAt(gpu, 'GPU UUID'), valueAt(gpu, 'GPU Virtualization Mode', 'Virtualization Mode')]).toEqual([
      H200_UUID,
      'Pass-Through',
    ]);
    expect(valueAt(gpu, 'Processes', 'Process ID')).toBe('627');
  },
  'q-x-lms500_h200_idle_580.159.04.stream.txt': (text) => {
    // What the sidecar's loop reads: documents back to back from one nvidia-smi, 500 ms apart for 2.2 s.
    const s = splitSmiLogStream();
    const first = s.push(text);
    const last = s.end();
    expect([first.errors, last.errors, last.documents]).toEqual([[], [], []]);
    const documents = first.documents;
    expect(documents).toHaveLength(4);
    for (const d of documents) expect(parseNvidiaSmiXml(d).gpus.map((g) => [g.uuid, g.processes])).toEqual([[H200_UUID, []]]);
  },
  'q-x_h200-b_python-load_580.159.04.xml': (text) => {
    const [g] = parseNvidiaSmiXml(text).gpus;
    expect([g?.uuid, g?.utilization.gpu, g?.powerW, g?.processes.map((p) => p.name)]).toEqual([
      'GPU-e91e2fd3-995a-f027-a648-c805a0f3c07c', 100, 668.29, ['python3'],
    ]);
  },
  'query-gpu-lms500_h200_python-load_580.159.04.csv': (text) => {
    const rows = text.split('\n').filter(Boolean).map(parseQueryGpuLine);
    expect(rows.map((r) => [r?.utilization.gpu, r?.memory.usedBytes, r?.powerLimitW])).toEqual(
      Array.from({ length: 5 }, (_, i) => [i % 2 === 0 ? 100 : 99, 5235 * MiB, 700])
    );
  },
  'q-x_h200_python-load_580.159.04.xml': (text) => {
    const log = parseNvidiaSmiXml(text);
    expect([log.driverVersion, log.cudaVersion, log.attachedGpus]).toEqual(['580.159.04', '13.0', 1]);
    const [g] = log.gpus;
    expect([g?.name, g?.uuid, g?.pciBusId, g?.virtualizationMode, g?.migMode, g?.migDevices]).toEqual([
      'NVIDIA H200', H200_UUID, '00000000:00:06.0', 'Pass-Through', 'disabled', [],
    ]);
    expect(g?.memory).toEqual({ totalBytes: 143771 * MiB, usedBytes: 5235 * MiB });
    expect([g?.utilization.gpu, g?.utilization.memory, g?.temperatureC]).toEqual([99, 24, 58]);
    expect([g?.powerW, g?.powerAverageW, g?.powerLimitW]).toEqual([669.74, 693.6, 700]);
    expect(g?.processes.map((p) => [p.pid, p.name, p.type, p.usedMemoryBytes])).toEqual([[627, 'python3', 'C', 5226 * MiB]]);
  },
  'capture_h100-mig_590.48.01.txt': (text) => {
    const [gpu] = parseNvidiaSmiList(captureSection(text, 'capabilities :: list (-L)'));
    expect(gpu?.migDevices.map((d) => d.profile)).toEqual(['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb']);
    expect(migGiCi(captureSection(text, 'idle :: query (-q)'))).toEqual([
      ['2', '0'],
      ['3', '0'],
      ['9', '0'],
      ['10', '0'],
    ]);
  },
  'capture_h200-mig-shared-gi_590.48.01.txt': (text) => {
    const [gpu] = parseNvidiaSmiList(captureSection(text, 'capabilities :: list (-L)'));
    expect(gpu?.migDevices.map((d) => d.profile)).toEqual([
      '1c.3g.71gb',
      '2c.3g.71gb',
      '2g.35gb',
      '1g.18gb',
      '1g.18gb',
    ]);
    expect(migGiCi(captureSection(text, 'idle :: query (-q)'))).toEqual([
      ['2', '0'],
      ['2', '1'],
      ['3', '0'],
      ['9', '0'],
      ['10', '0'],
    ]);
  },
  'mig-cli-session_a100-pcie-40gb_esxi_510.47.03.txt': (text) => {
    expect(parseNvidiaSmiList(sessionOutput(text, 'nvidia-smi -L'))).toEqual([
      {
        index: 0,
        name: 'NVIDIA A100-PCIE-40GB',
        uuid: 'GPU-14ac2834-0d81-0508-69eb-e25264c08d21',
        migDevices: [{ index: 0, profile: '1g.5gb', uuid: 'MIG-b6cd45f2-9655-5269-9b96-65446729d5dc' }],
      },
    ]);
  },
  'q-text_host-vgpu_a16_ahv_470.129.04.txt': (text) => {
    expect(parseNvidiaSmiList(text).map((g) => g.index)).toEqual([0, 1, 2, 3]);
    const gpu = parseSmiText(sessionOutput(text, 'nvidia-smi -i 0 -q')).find((r) => r.key === 'GPU 00000000:13:00.0');
    expect(valueAt(gpu, 'GPU Virtualization Mode', 'Host VGPU Mode')).toBe('SR-IOV');
  },
  'q-text_host-vgpu_rtx-pro-6000-blackwell_trimmed_580.105.06.txt': (text) => {
    const roots = parseSmiText(text);
    expect(roots.filter((r) => r.key.startsWith('GPU 0000')).map((r) => valueAt(r, 'GPU UUID'))).toEqual([
      'GPU-0a5ba9ad-a575-72c7-d51d-3e726232cfd1',
      'GPU-171566b8-60f0-9c5e-7388-59b5583f7b97',
    ]);
    expect(migGiCi(text.slice(text.indexOf('GPU 00000001:04:00.0')))).toEqual([['3', '?']]); // no CI line (trimmed)
  },
  'q-x_2x-rtx-a5000_llama-server_590.44.01.xml': (text) => {
    const log = parseNvidiaSmiXml(text);
    expect(log.gpus.map((g) => g.processes.map((p) => [p.pid, p.usedMemoryBytes]))).toEqual([
      [[100477, 22430 * MiB]],
      [[100477, 17246 * MiB]],
    ]);
  },
  'q-x_a100-sxm4-40gb_mig-enabled_passthrough_510.47.03.xml': (text) => {
    const [g] = parseNvidiaSmiXml(text).gpus;
    expect([g?.virtualizationMode, g?.powerW, g?.migDevices.length]).toEqual(['Pass-Through', 66.92, 2]);
  },
  'q-x_a100-sxm4-80gb_mig-enabled_535.54.03.xml': (text) => {
    const [g] = parseNvidiaSmiXml(text).gpus;
    expect(g?.migDevices.map((d) => d.gpuInstanceId)).toEqual([3, 4, 5, 6]);
    expect([g?.utilization.gpu, g?.powerW, g?.powerLimitW, g?.temperatureC]).toEqual([null, 67.03, 500, 27]);
  },
  'q-x_rtx-3060_570.124.04.xml': (text) => {
    const [g] = parseNvidiaSmiXml(text).gpus;
    expect([g?.powerW, g?.migMode, g?.migDevices]).toEqual([11.63, 'unsupported', []]);
  },
  'vgpu-host-session_kvm_geforce-vgpu-unlock_525.147.01.txt': (text) => {
    const [gpu] = parseVgpuQuery(sessionOutput(text, 'nvidia-smi vgpu -q'));
    expect(gpu?.instances.map((v) => [v.id, v.uuid, v.vmId, v.vmName])).toEqual([
      ['3251634190', '00000000-0000-0000-0000-000000000101', null, 'win10test,debug-threads=on'],
    ]);
    const q = parseSmiText(sessionOutput(text, 'nvidia-smi -q')).find((r) => r.key === 'GPU 00000000:01:00.0');
    expect(valueAt(q, 'GPU Virtualization Mode', 'Host VGPU Mode')).toBe('Non SR-IOV');
  },
  'vgpu-q_rtx-pro-6000-blackwell-dc_2-vgpus_580.105.06.txt': (text) => {
    const [gpu] = parseVgpuQuery(text);
    expect(
      gpu?.instances.map((v) => [v.vmName, v.type, v.framebuffer.totalBytes, v.utilization.gpu, v.licensed])
    ).toEqual([
      ['instance-00000004', 'NVIDIA RTX Pro 6000 Blackwell DC-3Q', 3072 * MiB, 0, null],
      ['instance-00000005', 'NVIDIA RTX Pro 6000 Blackwell DC-3Q', 3072 * MiB, 12, false],
    ]);
  },
  'vgpu-q_not-vgpu-host_580.159.04.txt': (text) => {
    // What `nvidia-smi vgpu -q` prints on a host that is not a vGPU host (exit status 0): no GPUs, no error.
    expect(text.trim()).toBe('No supported devices in vGPU mode');
    expect(parseVgpuQuery(text)).toEqual([]);
  },
  'vgpu-q_rtx-pro-6000-blackwell-dc_mig-backed_580.105.06.txt': (text) => {
    const [gpu] = parseVgpuQuery(text);
    expect(gpu?.instances.map((v) => [v.gpuInstanceId, v.utilization.gpu, v.framebuffer.usedBytes])).toEqual([
      [3, null, 144 * MiB],
    ]);
  },
};

describe('tests/fixtures/nvidia-smi', () => {
  it('every fixture file has a check here, and PROVENANCE.md describes it', () => {
    expect(fixtureNames()).toEqual(Object.keys(CHECKS).sort());
    const provenance = readFixture('PROVENANCE.md');
    for (const name of fixtureNames()) expect(provenance).toContain(`\`${name}\``);
  });

  it.each(Object.entries(CHECKS))('%s', (name, check) => {
    check(readFixture(name));
  });
});
