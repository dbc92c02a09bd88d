import { parseNvidiaSmiList } from './nvidiaSmiList.js';
import { captureSection, readFixture, sessionOutput } from './__tests__/fixtures.js';

const H100 = 'capture_h100-mig_590.48.01.txt';
const H200 = 'capture_h200-mig-shared-gi_590.48.01.txt';
const A100_SESSION = 'mig-cli-session_a100-pcie-40gb_esxi_510.47.03.txt';
const A16 = 'q-text_host-vgpu_a16_ahv_470.129.04.txt';

describe('parseNvidiaSmiList on real `nvidia-smi -L` output', () => {
  it('H100 (590): four MIG devices with profiles and UUIDs', () => {
    const gpus = parseNvidiaSmiList(captureSection(readFixture(H100), 'capabilities :: list (-L)'));
    expect(gpus).toEqual([
      {
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        uuid: 'GPU-00000000-0000-0000-0000-000000000000',
        migDevices: [
          { index: 0, profile: '3g.40gb', uuid: 'MIG-00000000-0000-0000-0000-000000000000' },
          { index: 1, profile: '2g.20gb', uuid: 'MIG-00000001-0000-0000-0000-000000000001' },
          { index: 2, profile: '1g.10gb', uuid: 'MIG-00000002-0000-0000-0000-000000000002' },
          { index: 3, profile: '1g.10gb', uuid: 'MIG-00000003-0000-0000-0000-000000000003' },
        ],
      },
    ]);
  });

  it('H200 (590): compute-instance profiles 1c.3g.71gb and 2c.3g.71gb on one GPU instance', () => {
    const [gpu] = parseNvidiaSmiList(captureSection(readFixture(H200), 'capabilities :: list (-L)'));
    expect(gpu?.name).toBe('NVIDIA H200');
    expect(gpu?.migDevices.map((d) => [d.index, d.profile])).toEqual([
      [0, '1c.3g.71gb'],
      [1, '2c.3g.71gb'],
      [2, '2g.35gb'],
      [3, '1g.18gb'],
      [4, '1g.18gb'],
    ]);
    expect(gpu?.migDevices[4]?.uuid).toBe('MIG-00000004-0000-0000-0000-000000000004');
  });

  it('whole capture files: unrelated text is ignored, the `nvlink -s` repeat of "GPU 0:" adds nothing', () => {
    const fromSection = parseNvidiaSmiList(captureSection(readFixture(H200), 'capabilities :: list (-L)'));
    expect(parseNvidiaSmiList(readFixture(H200))).toEqual(fromSection);
    expect(parseNvidiaSmiList(readFixture(H100))[0]?.migDevices).toHaveLength(4);
  });

  it('A100-PCIE-40GB ESXi session (510): one 1g.5gb device, amid mig -cgi/-lgi output', () => {
    const expected = [
      {
        index: 0,
        name: 'NVIDIA A100-PCIE-40GB',
        uuid: 'GPU-14ac2834-0d81-0508-69eb-e25264c08d21',
        migDevices: [{ index: 0, profile: '1g.5gb', uuid: 'MIG-b6cd45f2-9655-5269-9b96-65446729d5dc' }],
      },
    ];
    const session = readFixture(A100_SESSION);
    expect(parseNvidiaSmiList(sessionOutput(session, 'nvidia-smi -L'))).toEqual(expected);
    expect(parseNvidiaSmiList(session)).toEqual(expected);
  });

  it('A16 AHV host (470): four GPUs, no MIG', () => {
    const gpus = parseNvidiaSmiList(sessionOutput(readFixture(A16), 'nvidia-smi -L'));
    expect(gpus.map((g) => [g.index, g.name, g.migDevices.length])).toEqual([
      [0, 'NVIDIA A16', 0],
      [1, 'NVIDIA A16', 0],
      [2, 'NVIDIA A16', 0],
      [3, 'NVIDIA A16', 0],
    ]);
    expect(gpus[3]?.uuid).toBe('GPU-b952c9a5-0ac8-26fb-a02d-60bcf9d0fe83');
  });
});

describe('parseNvidiaSmiList on constructed input', () => {
  it('accepts the R450/R460 MIG UUID form MIG-GPU-<uuid>/<gi>/<ci> (constructed after that format)', () => {
    const text = [
      'GPU 0: A100-SXM4-40GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)',
      '  MIG 1g.5gb Device 0: (UUID: MIG-GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f/7/0)',
      '  MIG 1g.5gb+me Device 1: (UUID: MIG-GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f/8/0)',
      'GPU 1: Tesla V100-SXM2-16GB (with a note) (UUID: GPU-aaaaaaaa-0000-0000-0000-000000000001)',
    ].join('\r\n');
    const gpus = parseNvidiaSmiList(text);
    expect(gpus[0]?.migDevices).toEqual([
      { index: 0, profile: '1g.5gb', uuid: 'MIG-GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f/7/0' },
      { index: 1, profile: '1g.5gb+me', uuid: 'MIG-GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f/8/0' },
    ]);
    expect(gpus[1]).toEqual({
      index: 1,
      name: 'Tesla V100-SXM2-16GB (with a note)',
      uuid: 'GPU-aaaaaaaa-0000-0000-0000-000000000001',
      migDevices: [],
    });
  });

  it('does not attach MIG lines that do not follow a GPU line', () => {
    const text = [
      '  MIG 1g.5gb Device 0: (UUID: MIG-orphan)',
      'GPU 0: X (UUID: GPU-x)',
      '',
      '  MIG 1g.5gb Device 0: (UUID: MIG-late)',
    ].join('\n');
    expect(parseNvidiaSmiList(text)).toEqual([{ index: 0, name: 'X', uuid: 'GPU-x', migDevices: [] }]);
  });

  it('returns [] for empty, error or junk output', () => {
    expect(parseNvidiaSmiList('')).toEqual([]);
    expect(parseNvidiaSmiList('No devices were found\n')).toEqual([]);
    expect(parseNvidiaSmiList(`GPU 0: ${'x'.repeat(100_000)} (UUID: GPU-1)`)).toEqual([]);
    expect(parseNvidiaSmiList('\u0000\u0001GPU 0: X (UUID: GPU-1)')).toEqual([]);
  });
});
