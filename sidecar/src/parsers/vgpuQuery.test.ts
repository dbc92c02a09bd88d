import { parseVgpuQuery } from './vgpuQuery.js';
import { readFixture, sessionOutput } from './__tests__/fixtures.js';

describe('parseVgpuQuery on real `nvidia-smi vgpu -q` output', () => {
  it('580, two time-sliced DC-3Q vGPUs: one guest without driver, one unlicensed-unrestricted', () => {
    const gpus = parseVgpuQuery(readFixture('vgpu-q_rtx-pro-6000-blackwell-dc_2-vgpus_580.105.06.txt'));
    expect(gpus).toHaveLength(1);
    const [gpu] = gpus;
    expect(gpu?.pciBusId).toBe('00000001:C8:00.0');
    expect(gpu?.activeVgpus).toBe(2);
    expect(gpu?.instances.map((i) => i.id)).toEqual(['3251637554', '3251637566']);

    const [a, b] = gpu?.instances ?? [];
    expect(a).toEqual({
      id: '3251637554',
      uuid: 'c47a3625-859f-11f1-84fe-7572c7d51d3e',
      vmId: '083bc63f-0a3c-4647-9bb4-27f905b7d7bb',
      vmName: 'instance-00000004',
      type: 'NVIDIA RTX Pro 6000 Blackwell DC-3Q',
      typeId: '1519',
      guestDriverVersion: null, // "N/A": no guest driver loaded
      licenseStatus: null, // "N/A (Expiry: N/A)"
      gpuInstanceId: null,
      framebuffer: { totalBytes: 3072 * 1048576, usedBytes: 128 * 1048576 },
      utilization: { gpu: 0, memory: 0, encoder: 0, decoder: 0 },
      active: true,
      licensed: null,
    });
    expect(b?.vmName).toBe('instance-00000005');
    expect(b?.guestDriverVersion).toBe('580.105.08');
    expect(b?.licenseStatus).toBe('Unlicensed (Unrestricted)');
    expect(b?.licensed).toBe(false);
    expect(b?.utilization).toEqual({ gpu: 12, memory: 7, encoder: 0, decoder: 0 }); // "GPU : 12 %"
    expect(b?.framebuffer.totalBytes).toBe(3221225472);
  });

  it('580, MIG-backed vGPU on GPU instance 3: utilization N/A → null, no vGPU UUID line', () => {
    const [gpu] = parseVgpuQuery(readFixture('vgpu-q_rtx-pro-6000-blackwell-dc_mig-backed_580.105.06.txt'));
    expect(gpu?.pciBusId).toBe('00000001:04:00.0');
    expect(gpu?.activeVgpus).toBe(1);
    expect(gpu?.instances).toHaveLength(1);
    const v = gpu?.instances[0];
    expect(v?.id).toBe('3251669307');
    expect(v?.gpuInstanceId).toBe(3);
    expect(v?.type).toBe('NVIDIA RTX Pro 6000 Blackwell DC-1-2Q');
    expect(v?.typeId).toBe('1546');
    expect(v?.uuid).toBeNull();
    expect(v?.vmId).toBe('de083752-e908-421a-a965-b18f302e5cb0');
    expect(v?.licenseStatus).toBeNull();
    expect(v?.licensed).toBeNull();
    expect(v?.framebuffer).toEqual({ totalBytes: 2048 * 1048576, usedBytes: 144 * 1048576 });
    expect(v?.utilization).toEqual({ gpu: null, memory: null, encoder: null, decoder: null });
  });

  it('525 KVM host: MDEV UUID fallback, empty VM UUID → null, "Gpu" spelling', () => {
    const session = readFixture('vgpu-host-session_kvm_geforce-vgpu-unlock_525.147.01.txt');
    const gpus = parseVgpuQuery(sessionOutput(session, 'nvidia-smi vgpu -q'));
    expect(gpus).toHaveLength(1);
    const v = gpus[0]?.instances[0];
    expect(gpus[0]?.pciBusId).toBe('00000000:01:00.0');
    expect(v?.id).toBe('3251634190');
    expect(v?.uuid).toBe('00000000-0000-0000-0000-000000000101'); // "vGPU UUID : " is empty
    expect(v?.vmId).toBeNull(); // "VM UUID : " is empty and there is no "VM ID"
    expect(v?.vmName).toBe('win10test,debug-threads=on');
    expect(v?.type).toBe('NVIDIA RTXA6000-2Q');
    expect(v?.typeId).toBe('525');
    expect(v?.guestDriverVersion).toBeNull();
    expect(v?.licensed).toBeNull();
    expect(v?.framebuffer).toEqual({ totalBytes: 2147483648, usedBytes: 0 });
    expect(v?.utilization).toEqual({ gpu: 0, memory: 0, encoder: 0, decoder: 0 }); // "Gpu : 0 %"
    expect(v?.active).toBe(true);

    // The whole session (with the `nvidia-smi -q` header, whose GPU section has no vGPU fields,
    // and two tables) gives the same single GPU.
    expect(parseVgpuQuery(session)).toEqual(gpus);
  });

  it('ignores `nvidia-smi -q` text: no vGPU sections there', () => {
    expect(parseVgpuQuery(readFixture('q-text_host-vgpu_rtx-pro-6000-blackwell_trimmed_580.105.06.txt'))).toEqual([]);
    expect(parseVgpuQuery(readFixture('q-text_host-vgpu_a16_ahv_470.129.04.txt'))).toEqual([]);
  });
});

describe('parseVgpuQuery on constructed variations', () => {
  // Constructed from the real 580 layout above, to cover license states and VM ID.
  const text = [
    'GPU 0000:C8:00.0',
    '    Active vGPUs                          : 1',
    '    vGPU ID                               : 77',
    '        VM ID                             : 4242',
    '        VM Name                           : vm-a',
    '        License Status                    : Licensed (Expiry: 2026-7-22 15:37:16 GMT)',
    '        Unknown Future Key                : whatever',
    '        Utilization',
    '            GPU                           : 150 %',
    '    vGPU ID                               : N/A',
  ].join('\n');

  it('reads VM ID, strips the license expiry, ignores unknown keys and absurd values', () => {
    const [gpu] = parseVgpuQuery(text);
    expect(gpu?.instances).toHaveLength(1); // a vGPU ID of N/A identifies nothing
    const v = gpu?.instances[0];
    expect(v?.vmId).toBe('4242');
    expect(v?.licenseStatus).toBe('Licensed');
    expect(v?.licensed).toBe(true);
    expect(v?.utilization.gpu).toBeNull(); // 150 % is absurd
    expect(v?.framebuffer).toEqual({ totalBytes: null, usedBytes: null });
  });

  it('keeps a GPU with no active vGPUs', () => {
    expect(parseVgpuQuery('GPU 00000000:01:00.0\n    Active vGPUs                          : 0\n')).toEqual([
      { pciBusId: '00000000:01:00.0', activeVgpus: 0, instances: [] },
    ]);
  });

  it('does not throw on garbage', () => {
    expect(parseVgpuQuery('')).toEqual([]);
    expect(parseVgpuQuery('No vGPU devices found\n')).toEqual([]);
    expect(parseVgpuQuery('\u0000\u0001\u0002\ufffd\n\u00ff\u00fe')).toEqual([]);
  });
});
