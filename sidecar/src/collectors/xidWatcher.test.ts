import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { XidWatcher } from './xidWatcher.js';

describe('XidWatcher on a kmsg-format file', () => {
  it('returns only new Xid records, with their time from boot', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'xid-')), 'kmsg');
    writeFileSync(f, '6,1,1000000,-;Linux version 6.1\n4,2,5000000,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=1122, GPU has fallen off the bus.\n');
    const w = new XidWatcher(f, 1_700_000_000_000);
    w.open();
    const first = w.drain();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ xid: 79, pciBusId: '00000000:3B:00.0', time: 1_700_000_005_000, seq: 2 });
    expect(w.drain()).toEqual([]);
    appendFileSync(f, '4,3,6000000,-;NVRM: Xid (PCI:0000:3b:00): 48, An uncorrectable double bit error\n4,4,7000');
    expect(w.drain().map((x) => x.xid)).toEqual([48]);
    // The half-written record is completed by the next write.
    appendFileSync(f, '000,-;NVRM: Xid (PCI:0000:1a:00): 13, Graphics SM Warp Exception\n');
    expect(w.drain().map((x) => [x.xid, x.pciBusId])).toEqual([[13, '00000000:1A:00.0']]);
    w.close();
    rmSync(dirname(f), { recursive: true, force: true });
  });

  it('fails to open a missing log with the reason', () => {
    expect(() => new XidWatcher('/nonexistent/kmsg').open()).toThrow(/ENOENT/);
  });
});
