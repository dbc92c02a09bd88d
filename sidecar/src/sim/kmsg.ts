// The simulated host's kernel log: during an `xid` fault the fake nvidia-smi appends the NVIDIA driver's Xid
// record to the file named by GPUFLEET_SIM_KMSG, in /dev/kmsg's record format
//   <prio>,<seq>,<usec since boot>,<flags>;NVRM: Xid (PCI:0000:3a:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.
// once per fault occurrence (the sequence number identifies the occurrence, so repeated calls do not
// repeat it). The message texts are modelled on kernel log lines users have reported.
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { defaultBusId } from './catalog.js';
import type { Scenario } from './scenario.js';
import type { SimHostState } from './state.js';

const XID_TEXT: Record<number, string> = {
  13: 'Graphics SM Warp Exception on (GPC 0, TPC 0, SM 0): Out Of Range Address',
  31: 'Ch 00000008, intr 10000000. MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_0 faulted @ 0x7f4a_1c000000. Fault is of type FAULT_PDE ACCESS_TYPE_VIRT_READ',
  43: 'Ch 00000008',
  48: 'An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at partition 2, subpartition 0.',
  63: 'Row Remapper: New row marked for remapping, reset gpu to activate.',
  74: 'NVLink: fatal error detected on link 3(0x0, 0x0, 0x10000, 0x0, 0x0, 0x0, 0x0)',
  79: 'GPU has fallen off the bus.',
  94: 'Contained: SM (0x1). RST: No, D-RST: No',
  95: 'Uncontained: FBHUB. RST: Yes, D-RST: No',
  119: 'Timeout after 6s of waiting for RPC response from GPU0 GSP! Expected function 76 (GSP_RM_CONTROL) (0x20801348 0x204).',
};
/** Xids the driver attributes to the process whose context faulted. */
const PROCESS_XIDS = new Set([13, 31, 43]);

export interface KmsgRecordOut {
  seq: number;
  line: string;
}

/** "00000000:3A:00.0" → "PCI:0000:3a:00", the form of the driver's Xid lines. */
function xidBus(busId: string): string {
  const [domain = '00000000', bus = '00', devfn = '00.0'] = busId.split(':');
  return `PCI:${`${domain.slice(-4)}:${bus}:${devfn.split('.')[0] ?? '00'}`.toLowerCase()}`;
}

/**
 * The kernel log records of the xid faults active in `state`. `occurrenceMs` gives the wall-clock start of a
 * fault occurrence (scenario faults: epoch + since; control faults: when the control file was written).
 */
export function xidRecords(
  state: SimHostState,
  scenario: Scenario,
  bootMs: number,
  occurrenceMs: (faultIndex: number) => number
): KmsgRecordOut[] {
  const out: KmsgRecordOut[] = [];
  state.faults.forEach((f, i) => {
    if (f.kind !== 'xid' || f.gpu === null) return;
    const spec = scenario.gpus[f.gpu];
    const present = state.gpus.find((g) => g.position === f.gpu);
    const busId = present?.pciBusId ?? spec?.pciBusId ?? defaultBusId(f.gpu);
    const proc = present?.processes[0];
    const who =
      PROCESS_XIDS.has(f.xid) && proc ? `pid=${proc.pid}, name=${proc.name}` : "pid='<unknown>', name=<unknown>";
    const text = XID_TEXT[f.xid] ?? 'Ch 00000008';
    const at = occurrenceMs(i);
    const seq = Math.floor(at) * 64 + (i % 64);
    const usec = Math.max(0, Math.round((at - bootMs) * 1000));
    out.push({ seq, line: `4,${seq},${usec},-;NVRM: Xid (${xidBus(busId)}): ${f.xid}, ${who}, ${text}` });
  });
  return out;
}

function bootTimeMs(): number {
  try {
    return Date.now() - Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  } catch {
    return Date.now();
  }
}

/** Appends the records of active xid faults not yet in the log. Errors are the caller's to report. */
export function appendXids(
  path: string,
  state: SimHostState,
  scenario: Scenario,
  epochMs: number,
  controlPath: string | undefined
): void {
  if (!state.faults.some((f) => f.kind === 'xid')) return;
  let controlMs = Date.now();
  if (controlPath && existsSync(controlPath)) controlMs = statSync(controlPath).mtimeMs;
  const records = xidRecords(state, scenario, bootTimeMs(), (i) => {
    const since = state.faults[i]?.since ?? null;
    return since === null ? controlMs : epochMs + since * 1000;
  });
  const existing = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const fresh = records.filter((r) => !new RegExp(`^\\d+,${r.seq},`, 'm').test(existing));
  if (fresh.length > 0) appendFileSync(path, fresh.map((r) => `${r.line}\n`).join(''));
}
