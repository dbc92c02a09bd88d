// Xid errors from the kernel log. The NVIDIA driver reports GPU faults only there, as lines like
//   NVRM: Xid (PCI:0000:3b:00): 79, pid=1122, GPU has fallen off the bus.
// /dev/kmsg gives each record as "<prio>,<seq>,<usec since boot>,<flags>[,...];<message>".

export interface KmsgRecord {
  seq: number;
  /** Microseconds since boot. */
  usec: number;
  message: string;
}

export interface XidRecord {
  /** Normalised like nvidia-smi's pci_bus_id: 8-digit domain, upper-case, ".0" function. */
  pciBusId: string;
  xid: number;
  pid: number | null;
  processName: string | null;
  /** The driver's own words after the code. */
  detail: string;
}

const RECORD = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/;
const XID = /NVRM: Xid \((?:PCI:)?([0-9a-fA-F]{1,8}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})(?:\.([0-7]))?\): (\d{1,5}),\s*(.*)$/;

export function parseKmsgRecord(line: string): KmsgRecord | null {
  const m = RECORD.exec(line);
  if (!m) return null;
  return { seq: Number(m[2]), usec: Number(m[3]), message: m[4] as string };
}

export function parseXid(message: string): XidRecord | null {
  const m = XID.exec(message);
  if (!m) return null;
  const [, domain, bus, dev, fn, code, rest] = m as unknown as string[];
  const pid = /(?:^|,\s*)pid=(\d+)/.exec(rest as string);
  const name = /(?:^|,\s*)name=([^,]+)/.exec(rest as string);
  const detail = (rest as string)
    .replace(/(?:^|,\s*)pid=('?<?[^,]*>?'?)/, '')
    .replace(/(?:^|,\s*)name=[^,]+/, '')
    .replace(/^[,\s]+/, '')
    .trim();
  return {
    pciBusId: `${(domain as string).padStart(8, '0')}:${(bus as string).padStart(2, '0')}:${(dev as string).padStart(2, '0')}.${fn ?? '0'}`.toUpperCase(),
    xid: Number(code),
    pid: pid ? Number(pid[1]) : null,
    // The driver writes name=<unknown> for a fault with no process behind it.
    processName: name && (name[1] as string).trim() !== '<unknown>' ? (name[1] as string).trim() : null,
    detail: detail.slice(0, 500),
  };
}
