import { ParseError } from './errors.js';
import { allNodes, child, childrenOf, parseSmiText, valueAt, type SmiTextNode } from './smiText.js';
import { naToNull } from './values.js';
import { captureSection, readFixture, sessionOutput } from './__tests__/fixtures.js';

function root(roots: SmiTextNode[], key: string): SmiTextNode {
  const r = roots.find((n) => n.key === key);
  if (!r) throw new Error(`no top-level ${key}; have ${roots.map((n) => n.key).join(', ')}`);
  return r;
}

describe('parseSmiText on real `nvidia-smi -q` output', () => {
  it('A16 on Nutanix AHV (470): SR-IOV vGPU host', () => {
    const roots = parseSmiText(readFixture('q-text_host-vgpu_a16_ahv_470.129.04.txt'));
    const gpu = root(roots, 'GPU 00000000:13:00.0');
    expect(gpu.value).toBeNull();
    expect(valueAt(gpu, 'Product Name')).toBe('NVIDIA A16');
    expect(valueAt(gpu, 'GPU UUID')).toBe('GPU-2039ae9a-7b32-009f-d7dc-b5acf0e7aaba');
    expect(valueAt(gpu, 'GPU Virtualization Mode', 'Virtualization Mode')).toBe('Host VGPU');
    expect(valueAt(gpu, 'GPU Virtualization Mode', 'Host VGPU Mode')).toBe('SR-IOV');
    expect(valueAt(gpu, 'PCI', 'Bus Id')).toBe('00000000:13:00.0');
    expect(valueAt(gpu, 'PCI', 'GPU Link Info', 'PCIe Generation', 'Current')).toBe('1');
    expect(valueAt(gpu, 'FB Memory Usage', 'Total')).toBe('15105 MiB');
    expect(valueAt(gpu, 'Utilization', 'GPU')).toBe('0 %'); // printed "Gpu": keys compare case-insensitively
    expect(valueAt(gpu, 'Power Readings', 'Power Draw')).toBe('16.41 W');
    expect(valueAt(gpu, 'Processes')).toBe('None');
    // A key with a value AND children: "HW Slowdown : Not Active" holds the two HW sub-reasons.
    const hw = child(child(gpu, 'Clocks Throttle Reasons'), 'HW Slowdown');
    expect(hw?.value).toBe('Not Active');
    expect(hw?.children.map((c) => c.key)).toEqual(['HW Thermal Slowdown', 'HW Power Brake Slowdown']);
    expect(child(gpu, 'Clocks Throttle Reasons')?.children.map((c) => c.key)).toContain('Sync Boost');
    // Top-level header fields.
    expect(root(roots, 'Driver Version').value).toBe('470.129.04');
    expect(root(roots, 'Attached GPUs').value).toBe('4');
  });

  it('GeForce vGPU host on KVM (525, vgpu_unlock): Non SR-IOV', () => {
    const text = sessionOutput(
      readFixture('vgpu-host-session_kvm_geforce-vgpu-unlock_525.147.01.txt'),
      'nvidia-smi -q'
    );
    const roots = parseSmiText(text);
    const gpu = root(roots, 'GPU 00000000:01:00.0');
    expect(valueAt(gpu, 'GPU Virtualization Mode', 'Virtualization Mode')).toBe('Host VGPU');
    expect(valueAt(gpu, 'GPU Virtualization Mode', 'Host VGPU Mode')).toBe('Non SR-IOV');
    expect(valueAt(gpu, 'MIG Mode', 'Current')).toBe('N/A');
    expect(child(gpu, 'vGPU Device Capability')?.children.map((c) => [c.key, c.value])).toEqual([
      ['Fractional Multi-vGPU', 'Supported'],
      ['Heterogeneous Time-Slice Profiles', 'Supported'],
      ['Heterogeneous Time-Slice Sizes', 'Not Supported'],
    ]);
    // Children 8 spaces in under a top-level key (two levels at once) still nest under it.
    expect(valueAt(root(roots, 'vGPU Driver Capability'), 'Heterogenous Multi-vGPU')).toBe('Supported');
    expect(naToNull(root(roots, 'CUDA Version').value)).toBeNull(); // "Not Found"
  });

  it('RTX PRO 6000 Blackwell vGPU host (580, trimmed): deprecated fields and a MIG device', () => {
    const roots = parseSmiText(readFixture('q-text_host-vgpu_rtx-pro-6000-blackwell_trimmed_580.105.06.txt'));
    const a = root(roots, 'GPU 00000001:C8:00.0');
    expect(valueAt(a, 'Display Mode')).toBe('Requested functionality has been deprecated');
    expect(naToNull(valueAt(a, 'Display Mode'))).toBeNull();
    expect(valueAt(a, 'Minor Number')).toBe('3');
    expect(valueAt(a, 'Conf Compute Protected Memory Usage', 'Total')).toBe('0 MiB');
    expect(valueAt(a, 'Utilization', 'OFA')).toBe('0 %');
    const b = root(roots, 'GPU 00000001:04:00.0');
    expect(valueAt(b, 'MIG Mode', 'Current')).toBe('Enabled');
    const migs = childrenOf(b, 'MIG Device');
    expect(migs).toHaveLength(1);
    expect(valueAt(migs[0], 'GPU Instance ID')).toBe('3');
    expect(valueAt(migs[0], 'FB Memory Usage', 'Used')).toBe('2029 MiB');
    expect(valueAt(b, 'FB Memory Usage', 'Total')).toBe('97887 MiB'); // the GPU's own, after the MIG block
    expect(valueAt(b, 'Utilization', 'GPU')).toBe('N/A');
  });

  it('H100 capture (590): four MIG Device blocks and GI/CI-attributed processes', () => {
    const text = captureSection(readFixture('capture_h100-mig_590.48.01.txt'), 'load :: query (-q)');
    const gpu = root(parseSmiText(text), 'GPU 00000000:00:09.0');
    const migs = childrenOf(gpu, 'MIG Device');
    expect(migs.map((m) => valueAt(m, 'Index'))).toEqual(['0', '1', '2', '3']);
    expect(migs.map((m) => valueAt(m, 'GPU Instance ID'))).toEqual(['2', '3', '9', '10']);
    expect(migs.map((m) => valueAt(m, 'Compute Instance ID'))).toEqual(['0', '0', '0', '0']);
    expect(migs.map((m) => valueAt(m, 'Device Attributes', 'Shared', 'Multiprocessor count'))).toEqual([
      '60',
      '32',
      '16',
      '16',
    ]);
    expect(valueAt(migs[0], 'Shared FB Memory Usage', 'Used')).toBe('11091 MiB');
    expect(valueAt(gpu, 'GPU Virtualization Mode', 'Virtualization Mode')).toBe('Pass-Through');
    expect(valueAt(gpu, 'GPU Power Readings', 'Instantaneous Power Draw')).toBe('444.72 W');
    // The key is printed with a trailing space ("GPU Memory Power Readings "); keys are trimmed.
    expect(valueAt(gpu, 'GPU Memory Power Readings', 'Average Power Draw')).toBe('93.98 W');
    // Values keep everything after the first " : ", trailing blanks trimmed.
    expect(valueAt(gpu, 'PCI', 'Atomic Caps Outbound')).toBe('FETCHADD_32 FETCHADD_64 SWAP_32 SWAP_64 CAS_32 CAS_64');
    // Processes: GI / CI / Process ID siblings repeat per process, in order.
    const procs = child(gpu, 'Processes');
    expect(childrenOf(procs, 'Process ID').map((p) => p.value)).toEqual(['21180', '21181', '21198']);
    expect(childrenOf(procs, 'GPU instance ID').map((p) => p.value)).toEqual(['2', '2', '2']);
    expect(childrenOf(procs, 'Process ID').map((p) => valueAt(p, 'Used GPU Memory'))).toEqual([
      '2296 MiB',
      '1272 MiB',
      '7484 MiB',
    ]);
    expect(valueAt(childrenOf(procs, 'Process ID')[2], 'Name')).toBe('./gpu_burn');
  });

  it('H200 capture (590): two compute instances sharing GPU instance 2', () => {
    const text = captureSection(readFixture('capture_h200-mig-shared-gi_590.48.01.txt'), 'load :: query (-q)');
    const gpu = root(parseSmiText(text), 'GPU 00000000:83:00.0');
    const migs = childrenOf(gpu, 'MIG Device');
    expect(migs.map((m) => [valueAt(m, 'GPU Instance ID'), valueAt(m, 'Compute Instance ID')])).toEqual([
      ['2', '0'],
      ['2', '1'],
      ['3', '0'],
      ['9', '0'],
      ['10', '0'],
    ]);
    // The two CIs of GI 2 report the same shared memory.
    expect(valueAt(migs[0], 'Shared FB Memory Usage', 'Total')).toBe('71424 MiB');
    expect(valueAt(migs[1], 'Shared FB Memory Usage', 'Total')).toBe('71424 MiB');
    expect(valueAt(migs[1], 'Device Attributes', 'Shared', 'Multiprocessor count')).toBe('32');
    const procs = child(gpu, 'Processes');
    expect(childrenOf(procs, 'Compute instance ID').map((p) => p.value)).toEqual(['1', '1', '1']);
    expect(childrenOf(procs, 'Process ID').map((p) => p.value)).toEqual(['12249', '12250', '12267']);
  });
});

describe('parseSmiText on odd input', () => {
  it('keeps an empty value after " : " as an empty string', () => {
    const [r] = parseSmiText('vGPU ID : 1\n    VM UUID                           : \n    VM Name : x\n');
    expect(r?.children.map((c) => [c.key, c.value])).toEqual([
      ['VM UUID', ''],
      ['VM Name', 'x'],
    ]);
  });

  it('splits on the first " : " only', () => {
    const [r] = parseSmiText('Note : a : b : c');
    expect(r).toMatchObject({ key: 'Note', value: 'a : b : c' });
  });

  it('handles CRLF line ends and tabs', () => {
    const roots = parseSmiText('GPU 0000:01:00.0\r\n\tProduct Name : X\r\n\tFB Memory Usage\r\n\t\tTotal : 1 MiB\r\n');
    expect(valueAt(roots[0], 'FB Memory Usage', 'Total')).toBe('1 MiB');
    expect(valueAt(roots[0], 'Product Name')).toBe('X');
  });

  it('skips binary junk, terminal escapes and table borders', () => {
    const roots = parseSmiText(
      [
        '\u0000\u0001\u0002\u00ff junk',
        'GPU 00000000:01:00.0',
        '    Product Name : A',
        '\u001b[4mGPU0\tCPU Affinity\u001b[0m',
        '+-----------------------------------+',
        '| 0  NVIDIA ...  | 00000000:01:00.0 |',
        '==============NVSMI LOG==============',
        '    Serial Number : 123 \ufffd',
        '    Serial Number : 456',
      ].join('\n')
    );
    expect(roots.map((r) => r.key)).toEqual(['GPU 00000000:01:00.0']);
    expect(roots[0]?.children.map((c) => [c.key, c.value])).toEqual([
      ['Product Name', 'A'],
      ['Serial Number', '456'],
    ]);
  });

  it('returns what it can from a real capture with terminal escapes (topo -m section)', () => {
    const text = captureSection(readFixture('capture_h100-mig_590.48.01.txt'), 'capabilities :: topo -m');
    const roots = parseSmiText(text);
    expect(roots.some((r) => r.key.includes('\u001b'))).toBe(false);
    expect(roots.map((r) => r.key)).toContain('Legend:');
  });

  it('gives an empty forest for empty input and refuses oversized input', () => {
    expect(parseSmiText('')).toEqual([]);
    expect(parseSmiText('\n\n   \n')).toEqual([]);
    expect(() => parseSmiText('x'.repeat(2000), { maxChars: 1000 })).toThrow(ParseError);
    expect(() => parseSmiText('x'.repeat(2000), { maxChars: 1000, source: 'nvidia-smi vgpu -q' })).toThrow(
      /^nvidia-smi vgpu -q: output is too large/
    );
  });

  it('survives pathological nesting without recursion', () => {
    const lines: string[] = [];
    for (let i = 0; i < 3_000; i++) lines.push(`${' '.repeat(i)}k${i} : v`);
    const roots = parseSmiText(lines.join('\n'));
    expect(roots).toHaveLength(1);
    expect(allNodes(roots)).toHaveLength(3_000);
    expect(allNodes(roots)[2_999]?.key).toBe('k2999');
  });
});
