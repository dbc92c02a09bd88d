// `nvidia-smi -q -x`: GPUs, MIG devices and processes, as XML (nvsmi_device_v11..v13 DTDs).
//
// Driver differences handled here (all seen in tests/fixtures/nvidia-smi):
// - power: `power_readings/power_draw` (R510 and older), `gpu_power_readings/power_draw` (R535),
//   `gpu_power_readings/instant_power_draw` + `average_power_draw` and no `power_draw` (R570+);
//   limit: `current_power_limit` (R535+), `enforced_power_limit` / `power_limit` (older).
// - `<mig_devices>None</mig_devices>` on GPUs without MIG; `<processes />` or `<processes></processes>`.
// - "N/A", "[N/A]", "Requested functionality has been deprecated", ... → null (values.ts).
// - utilization is N/A on a GPU in MIG mode → null.
// - `minor_number` is the /dev/nvidiaN number, NOT nvidia-smi's GPU index (the 2×A5000 fixture has
//   minor 1 on the first GPU and 0 on the second); the index comes from `nvidia-smi -L`.
//
// Safety: the input is size-checked; DTD entities are never expanded (only the five predefined XML
// entities and numeric character references are decoded, one pass, in the few strings we keep);
// nesting depth is bounded by fast-xml-parser (maxNestedTags).
//
// Speed: a snapshot of an 8-GPU host is 200-400 KB, and about 90% of it is elements we never read
// (supported clocks alone are half). A linear scan keeps only the elements read here before
// fast-xml-parser sees the text, which makes parsing 3-10× faster; `prefilter: false` turns this
// off (the tests check that both give the same result on every fixture).

import { XMLParser } from 'fast-xml-parser';
import type { MemoryUsage, MigMode, Utilization, VgpuHostMode } from '../model.js';
import { ParseError, quoteOutput } from './errors.js';
import { buildKeptXml } from './keptXml.js';
import { naToNull, parseCelsius, parseIntOrNull, parseMHz, parseMiB, parsePercent, parseWatts } from './values.js';

export interface SmiXmlMigDevice {
  /** `<mig_device><index>`: the "Device N" of `nvidia-smi -L`. */
  index: number;
  gpuInstanceId: number;
  computeInstanceId: number;
  multiprocessorCount: number | null;
  memory: MemoryUsage;
}

export interface SmiXmlProcess {
  pid: number;
  name: string;
  /** "C", "G", "C+G" (vGPU VMs show up as "C+G" processes named "vgpu"); null when not printed. */
  type: string | null;
  usedMemoryBytes: number | null;
  /** Set for processes in a MIG device; null otherwise. */
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
}

export interface SmiXmlGpu {
  pciBusId: string;
  uuid: string;
  name: string;
  /** /dev/nvidia<minor>; NOT the nvidia-smi index. */
  minorNumber: number | null;
  serial: string | null;
  memory: MemoryUsage;
  utilization: Utilization;
  temperatureC: number | null;
  powerW: number | null;
  /** The 1 s average (`average_power_draw`, R570+; `power_draw` before, which is that average on Ampere and newer). */
  powerAverageW: number | null;
  powerLimitW: number | null;
  clocks: { smMHz: number | null; memMHz: number | null };
  migMode: MigMode;
  /** null when the element is missing; 'unsupported' when it says N/A. */
  pendingMigMode: MigMode | null;
  migDevices: SmiXmlMigDevice[];
  /** 'None' | 'Pass-Through' | 'Host VGPU' | 'VGPU' ...; null when not reported. */
  virtualizationMode: string | null;
  hostVgpuMode: VgpuHostMode;
  processes: SmiXmlProcess[];
  /** Sum of the volatile uncorrectable ECC counters that are reported; null when none is. */
  eccUncorrectedVolatile: number | null;
}

export interface SmiXmlLog {
  timestamp: string | null;
  driverVersion: string | null;
  cudaVersion: string | null;
  attachedGpus: number | null;
  gpus: SmiXmlGpu[];
}

export interface SmiXmlOptions {
  /** Refuse inputs longer than this many UTF-16 code units. Default 64 MiB. */
  maxChars?: number;
  /** Drop the elements this parser does not read before parsing (default true). */
  prefilter?: boolean;
}

export const SMI_XML_SOURCE = 'nvidia-smi -q -x';
const DEFAULT_MAX_CHARS = 64 * 1024 * 1024;
const ROOT_OPEN = '<nvidia_smi_log';
const ROOT_CLOSE = '</nvidia_smi_log>';

// ---------------------------------------------------------------------------------------------
// Prefilter: keep only the elements this parser reads. Everything else (supported clocks, clock
// event reasons, inforom, fabric, ... and whatever future drivers add) is cut out before parsing,
// with the whitespace between elements. The tests parse every fixture with and without the
// prefilter and require equal results, so reading a new element without listing it here fails them.

const READ_ELEMENTS = new Set([
  // document
  'nvidia_smi_log',
  'timestamp',
  'driver_version',
  'cuda_version',
  'attached_gpus',
  'gpu',
  // identity
  'product_name',
  'uuid',
  'serial',
  'minor_number',
  'pci',
  'pci_bus_id',
  // memory, utilization, temperature, clocks
  'fb_memory_usage',
  'total',
  'used',
  'utilization',
  'gpu_util',
  'memory_util',
  'encoder_util',
  'decoder_util',
  'temperature',
  'gpu_temp',
  'clocks',
  'sm_clock',
  'mem_clock',
  // power (all DTD generations)
  'gpu_power_readings',
  'power_readings',
  'instant_power_draw',
  'power_draw',
  'average_power_draw',
  'current_power_limit',
  'enforced_power_limit',
  'power_limit',
  // MIG
  'mig_mode',
  'current_mig',
  'pending_mig',
  'mig_devices',
  'mig_device',
  'index',
  'gpu_instance_id',
  'compute_instance_id',
  'device_attributes',
  'shared',
  'multiprocessor_count',
  // virtualization
  'gpu_virtualization_mode',
  'virtualization_mode',
  'host_vgpu_mode',
  // processes
  'processes',
  'process_info',
  'pid',
  'type',
  'process_name',
  'used_memory',
  // ECC (plus every *uncorrectable* counter, see isRead)
  'ecc_errors',
  'volatile',
  'double_bit',
]);

function isRead(name: string): boolean {
  return READ_ELEMENTS.has(name) || name.includes('uncorrectable');
}

function isNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x3a
  );
}

/**
 * Removes every element this parser does not read, and whitespace between tags. One pass: each
 * unread element is skipped to its first end tag (nvidia-smi never nests an element in one of the
 * same name). If an end tag is missing the rest is left as it is, for the parser to judge; the scan
 * never goes back, so hostile input cannot make it quadratic.
 */
export function keepReadElements(xml: string): string {
  const parts: string[] = [];
  let pos = 0;
  let i = xml.indexOf('<');
  while (i >= 0 && i + 1 < xml.length) {
    const c = xml.charCodeAt(i + 1);
    // End tags, <?...?>, <!DOCTYPE ...>, <!ENTITY ...>, comments: left to the parser.
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x21 /* ! */) {
      i = xml.indexOf('<', i + 2);
      continue;
    }
    let j = i + 1;
    while (j < xml.length && isNameChar(xml.charCodeAt(j))) j++;
    const name = xml.slice(i + 1, j);
    if (name === '' || isRead(name)) {
      i = xml.indexOf('<', j);
      continue;
    }
    const gt = xml.indexOf('>', j);
    if (gt < 0) break;
    let end: number;
    if (xml.charCodeAt(gt - 1) === 0x2f /* / */) {
      end = gt + 1;
    } else {
      const close = xml.indexOf(`</${name}>`, gt + 1);
      if (close < 0) break;
      end = close + name.length + 3;
    }
    parts.push(xml.slice(pos, i));
    pos = end;
    i = xml.indexOf('<', end);
  }
  parts.push(xml.slice(pos));
  return parts.join('').replace(/>\s+</g, '><');
}

// ---------------------------------------------------------------------------------------------
// Access to fast-xml-parser's output: strings for leaves (parseTagValue false), objects for
// elements with children, arrays for repeated elements. Hostile input can put any shape anywhere.

type XmlObject = { [key: string]: unknown };

/** Elements that are arrays even when there is one. */
export function isArrayElement(name: string): boolean {
  return name === 'gpu' || name === 'mig_device' || name === 'process_info';
}

const parser = new XMLParser({
  // Only `<gpu id="...">` carries an attribute we use (fallback for the bus id).
  ignoreAttributes: (name: string) => name !== 'id',
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: isArrayElement,
  // Callbacks get a matcher instead of a path string: cheaper, and only tag names are used here.
  jPath: false,
});

/** fast-xml-parser's tree with the options above: the reference keptXml.ts must match. */
export function fastXmlTree(xml: string): XmlObject {
  return parser.parse(xml) as XmlObject;
}

function obj(v: unknown): XmlObject | undefined {
  if (Array.isArray(v)) return obj(v[0]);
  return v !== null && typeof v === 'object' ? (v as XmlObject) : undefined;
}

function list(v: unknown): unknown[] {
  if (v === undefined || v === null || v === '') return [];
  return Array.isArray(v) ? v : [v];
}

const XML_ENTITY = /&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the predefined XML entities and character references, once (no recursive expansion). */
function decodeXmlText(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(XML_ENTITY, (whole, e: string) => {
    if (e.startsWith('#')) {
      const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED[e] ?? whole;
  });
}

/** The text of a leaf element (or of an element's text node), decoded; undefined otherwise. */
function text(v: unknown): string | undefined {
  if (typeof v === 'string') return decodeXmlText(v);
  if (Array.isArray(v)) return text(v[0]);
  const o = obj(v);
  if (o && typeof o['#text'] === 'string') return decodeXmlText(o['#text']);
  return undefined;
}

/** Walks a path of element names; undefined as soon as a step is missing. */
function at(v: unknown, ...path: string[]): unknown {
  let cur: unknown = v;
  for (const step of path) {
    const o = obj(cur);
    if (!o) return undefined;
    cur = o[step];
  }
  return cur;
}

function firstNonNull<T>(...values: (T | null)[]): T | null {
  for (const v of values) if (v !== null) return v;
  return null;
}

// ---------------------------------------------------------------------------------------------

/** Parses the output of `nvidia-smi -q -x`. Throws ParseError when it is not a usable document. */
export function parseNvidiaSmiXml(xml: string, options: SmiXmlOptions = {}): SmiXmlLog {
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  if (typeof xml !== 'string') throw new ParseError(SMI_XML_SOURCE, 'output is not text');
  if (xml.length > maxChars) {
    throw new ParseError(
      SMI_XML_SOURCE,
      `output is too large (${(xml.length / 1048576).toFixed(1)} MiB, limit ${(maxChars / 1048576).toFixed(1)} MiB)`
    );
  }
  // \s also skips a byte-order mark.
  const start = xml.search(/\S/);
  if (start < 0) throw new ParseError(SMI_XML_SOURCE, 'output is empty');
  if (xml.charCodeAt(start) !== 0x3c /* < */) {
    throw new ParseError(SMI_XML_SOURCE, `output is not XML (starts with '${quoteOutput(xml.slice(start))}')`);
  }
  const rootAt = xml.indexOf(ROOT_OPEN);
  if (rootAt < 0) {
    throw new ParseError(
      SMI_XML_SOURCE,
      `output has no <nvidia_smi_log> root element (starts with '${quoteOutput(xml.slice(start))}')`
    );
  }
  const closeAt = xml.lastIndexOf(ROOT_CLOSE);
  if (closeAt < rootAt) {
    throw new ParseError(
      SMI_XML_SOURCE,
      `output is truncated: no closing </nvidia_smi_log> after ${xml.length} characters (ends with '${quoteOutput(xml.slice(-60))}')`
    );
  }
  if (xml.indexOf(ROOT_OPEN, rootAt + ROOT_OPEN.length) >= 0 || xml.indexOf(ROOT_CLOSE) !== closeAt) {
    throw new ParseError(
      SMI_XML_SOURCE,
      'output holds more than one <nvidia_smi_log> document (split a -lms stream with splitSmiLogStream first)'
    );
  }

  // Text after the root's end tag (a stray warning line) is not part of the document.
  let doc = xml.slice(0, closeAt + ROOT_CLOSE.length);
  if (options.prefilter !== false) doc = keepReadElements(doc);

  // The prefiltered text of a plain document goes through our own builder; anything it does not
  // handle (and every text when the prefilter is off) through fast-xml-parser.
  let parsed: unknown = options.prefilter !== false ? buildKeptXml(doc, isRead, isArrayElement) : null;
  if (parsed === null) {
    try {
      parsed = parser.parse(doc);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ParseError(SMI_XML_SOURCE, `malformed XML: ${quoteOutput(why)}`, { cause: err });
    }
  }
  const rootValue = obj(parsed)?.['nvidia_smi_log'];
  if (rootValue === undefined) {
    throw new ParseError(SMI_XML_SOURCE, 'output has no <nvidia_smi_log> root element');
  }
  const root = obj(rootValue) ?? {};

  const gpus: SmiXmlGpu[] = [];
  for (const g of list(root['gpu'])) {
    const gpu = toGpu(g);
    if (gpu) gpus.push(gpu);
  }
  return {
    timestamp: naToNull(text(root['timestamp'])),
    driverVersion: naToNull(text(root['driver_version'])),
    cudaVersion: naToNull(text(root['cuda_version'])),
    attachedGpus: parseIntOrNull(text(root['attached_gpus'])),
    gpus,
  };
}

function toGpu(v: unknown): SmiXmlGpu | null {
  const g = obj(v);
  if (!g) return null;
  const uuid = naToNull(text(g['uuid']));
  // Without a UUID the GPU cannot be joined with anything (index, engines, history): skip it.
  if (uuid === null) return null;

  const power = obj(g['gpu_power_readings']) ?? obj(g['power_readings']);
  const util = g['utilization'];
  const fb = g['fb_memory_usage'];
  return {
    pciBusId: naToNull(text(at(g, 'pci', 'pci_bus_id'))) ?? naToNull(text(g['@_id'])) ?? '',
    uuid,
    name: naToNull(text(g['product_name'])) ?? '',
    minorNumber: parseIntOrNull(text(g['minor_number'])),
    serial: naToNull(text(g['serial'])),
    memory: {
      totalBytes: parseMiB(text(at(fb, 'total'))),
      usedBytes: parseMiB(text(at(fb, 'used'))),
    },
    utilization: {
      gpu: parsePercent(text(at(util, 'gpu_util'))),
      memory: parsePercent(text(at(util, 'memory_util'))),
      encoder: parsePercent(text(at(util, 'encoder_util'))),
      decoder: parsePercent(text(at(util, 'decoder_util'))),
    },
    temperatureC: parseCelsius(text(at(g, 'temperature', 'gpu_temp'))),
    powerW: firstNonNull(
      parseWatts(text(power?.['instant_power_draw'])),
      parseWatts(text(power?.['power_draw'])),
      parseWatts(text(power?.['average_power_draw']))
    ),
    powerAverageW: firstNonNull(parseWatts(text(power?.['average_power_draw'])), parseWatts(text(power?.['power_draw']))),
    powerLimitW: firstNonNull(
      parseWatts(text(power?.['current_power_limit'])),
      parseWatts(text(power?.['enforced_power_limit'])),
      parseWatts(text(power?.['power_limit']))
    ),
    clocks: {
      smMHz: parseMHz(text(at(g, 'clocks', 'sm_clock'))),
      memMHz: parseMHz(text(at(g, 'clocks', 'mem_clock'))),
    },
    migMode: migMode(text(at(g, 'mig_mode', 'current_mig'))) ?? 'unsupported',
    pendingMigMode: migMode(text(at(g, 'mig_mode', 'pending_mig'))),
    migDevices: list(at(g, 'mig_devices', 'mig_device'))
      .map(toMigDevice)
      .filter((d): d is SmiXmlMigDevice => d !== null),
    virtualizationMode: naToNull(text(at(g, 'gpu_virtualization_mode', 'virtualization_mode'))),
    hostVgpuMode: hostVgpuMode(text(at(g, 'gpu_virtualization_mode', 'host_vgpu_mode'))),
    processes: list(at(g, 'processes', 'process_info'))
      .map(toProcess)
      .filter((p): p is SmiXmlProcess => p !== null),
    eccUncorrectedVolatile: eccUncorrectedVolatile(at(g, 'ecc_errors', 'volatile')),
  };
}

/** 'Enabled' / 'Disabled' → that; anything else present (N/A) → 'unsupported'; missing → null. */
function migMode(v: string | undefined): MigMode | null {
  if (v === undefined) return null;
  const s = v.trim().toLowerCase();
  if (s === 'enabled') return 'enabled';
  if (s === 'disabled') return 'disabled';
  return 'unsupported';
}

function hostVgpuMode(v: string | undefined): VgpuHostMode {
  const s = (v ?? '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '');
  if (s === 'sriov') return 'sriov';
  if (s === 'nonsriov') return 'non-sriov';
  return 'none';
}

function toMigDevice(v: unknown): SmiXmlMigDevice | null {
  const d = obj(v);
  if (!d) return null;
  const index = parseIntOrNull(text(d['index']));
  const gi = parseIntOrNull(text(d['gpu_instance_id']));
  const ci = parseIntOrNull(text(d['compute_instance_id']));
  if (index === null || gi === null || ci === null) return null;
  return {
    index,
    gpuInstanceId: gi,
    computeInstanceId: ci,
    multiprocessorCount: parseIntOrNull(text(at(d, 'device_attributes', 'shared', 'multiprocessor_count'))),
    memory: {
      totalBytes: parseMiB(text(at(d, 'fb_memory_usage', 'total'))),
      usedBytes: parseMiB(text(at(d, 'fb_memory_usage', 'used'))),
    },
  };
}

function toProcess(v: unknown): SmiXmlProcess | null {
  const p = obj(v);
  if (!p) return null;
  const pid = parseIntOrNull(text(p['pid']));
  if (pid === null) return null;
  return {
    pid,
    name: text(p['process_name'])?.trim() ?? '',
    type: naToNull(text(p['type'])),
    usedMemoryBytes: parseMiB(text(p['used_memory'])),
    gpuInstanceId: parseIntOrNull(text(p['gpu_instance_id'])),
    computeInstanceId: parseIntOrNull(text(p['compute_instance_id'])),
  };
}

/**
 * Volatile uncorrectable ECC errors: R470+ split them into `sram_uncorrectable` and
 * `dram_uncorrectable` (R570+: `sram_uncorrectable_parity` + `sram_uncorrectable_secded`); older
 * DTDs have `double_bit/total`. Sums the counters that are numbers; null when none is.
 */
function eccUncorrectedVolatile(v: unknown): number | null {
  const vol = obj(v);
  if (!vol) return null;
  const doubleBit = obj(vol['double_bit']);
  if (doubleBit) return parseIntOrNull(text(doubleBit['total']));
  let sum: number | null = null;
  for (const [key, value] of Object.entries(vol)) {
    if (!key.includes('uncorrectable')) continue;
    const n = parseIntOrNull(text(value));
    if (n !== null) sum = (sum ?? 0) + n;
  }
  return sum;
}
