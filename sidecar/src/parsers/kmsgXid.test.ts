import { parseKmsgRecord, parseXid } from './kmsgXid.js';

describe('Xid lines from the kernel log', () => {
  it('reads a /dev/kmsg record', () => {
    expect(parseKmsgRecord('3,1834,8412345678,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1122, GPU has fallen off the bus.')).toEqual({
      seq: 1834,
      usec: 8412345678,
      message: 'NVRM: Xid (PCI:0000:3b:00): 79, pid=1122, GPU has fallen off the bus.',
    });
    expect(parseKmsgRecord(' SUBSYSTEM=pci')).toBeNull();
  });

  it('reads the GPU, code, pid and text of an Xid 79', () => {
    expect(parseXid('NVRM: Xid (PCI:0000:3b:00): 79, pid=1122, GPU has fallen off the bus.')).toEqual({
      pciBusId: '00000000:3B:00.0',
      xid: 79,
      pid: 1122,
      processName: null,
      detail: 'GPU has fallen off the bus.',
    });
  });

  it('reads an Xid 31 with process name and MMU fault text', () => {
    const x = parseXid(
      'NVRM: Xid (PCI:0000:00:06): 31, pid=79749, name=exe, Ch 0000000a, intr 00000000. MMU Fault: ENGINE GRAPHICS GPC2 GPCCLIENT_T1_7 faulted @ 0x2b57_b3000000. Fault is of type FAULT_PDE ACCESS_TYPE_VIRT_WRITE',
    );
    expect(x).toMatchObject({ pciBusId: '00000000:00:06.0', xid: 31, pid: 79749, processName: 'exe' });
    expect(x?.detail).toMatch(/^Ch 0000000a, intr 00000000\. MMU Fault/);
  });

  it('reads an Xid without pid (driver-internal)', () => {
    expect(parseXid('NVRM: Xid (PCI:0000:83:00): 48, An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at partition 6, subpartition 0.'))
      .toMatchObject({ pciBusId: '00000000:83:00.0', xid: 48, pid: null });
  });

  it("reads the driver's unknown pid and name as null", () => {
    expect(parseXid("NVRM: Xid (PCI:0000:3a:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.")).toEqual({
      pciBusId: '00000000:3A:00.0',
      xid: 79,
      pid: null,
      processName: null,
      detail: 'GPU has fallen off the bus.',
    });
  });

  it('ignores other kernel messages', () => {
    expect(parseXid('NVRM: GPU 0000:01:00.0: GPU has fallen off the bus.')).toBeNull();
    expect(parseXid('eth0: link up')).toBeNull();
    expect(parseXid('NVRM: Xid (PCI:zzzz:01:00): 79, x')).toBeNull();
  });
});
