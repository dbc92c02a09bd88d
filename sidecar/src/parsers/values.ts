// Value helpers shared by the nvidia-smi parsers. nvidia-smi prints numbers with units ("19968 MiB",
// "67.03 W", "27 C", "12 %") and marks missing values in many ways that changed across drivers
// ("N/A", "[N/A]", "[Not Supported]", "Requested functionality has been deprecated", ...).
// Everything missing, unparsable or physically absurd becomes null, never 0.

/** Markers nvidia-smi prints instead of a value (compared case-insensitively, after trimming). */
const MISSING_MARKERS = new Set([
  'n/a',
  'not supported',
  'unknown error',
  'insufficient permissions',
  'requested functionality has been deprecated',
  // vGPU hosts print "CUDA Version : Not Found" (no CUDA driver in the hypervisor).
  'not found',
]);

/**
 * The trimmed text, or null when it is one of nvidia-smi's "no value" markers: empty, N/A,
 * Not Supported, Unknown Error, Insufficient Permissions, "Requested functionality has been
 * deprecated", Not Found, or anything in square brackets ("[N/A]", "[Not Supported]",
 * "[GPU requires reset]", ...). Non-strings give null.
 */
export function naToNull(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  if (v === '') return null;
  if (v.startsWith('[') && v.endsWith(']')) return null;
  if (v.length <= 48 && MISSING_MARKERS.has(v.toLowerCase())) return null;
  return v;
}

// A plain decimal number, optionally followed by a unit. No sign (negative readings are absurd for
// every quantity parsed here), no exponent, no hex: nvidia-smi never prints those for these fields.
const NUMBER_WITH_UNIT = /^(\d{1,20}(?:\.\d{1,20})?)\s*([A-Za-z%°]*)$/;

function numberAndUnit(value: unknown): { n: number; unit: string } | null {
  const v = naToNull(value);
  if (v === null || v.length > 64) return null;
  const m = NUMBER_WITH_UNIT.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  if (!Number.isFinite(n) || n < 0) return null;
  return { n, unit: (m[2] ?? '').toLowerCase() };
}

function within(n: number, max: number): number | null {
  return Number.isFinite(n) && n >= 0 && n <= max ? n : null;
}

const BYTES_PER_UNIT: Record<string, number> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/**
 * Bytes from an nvidia-smi memory size: "19968 MiB" → 20937965568. Accepts B, KiB, MiB, GiB, TiB
 * (and a bare number, read as MiB, the unit nvidia-smi uses for memory everywhere). Results above
 * Number.MAX_SAFE_INTEGER bytes (8 PiB) are absurd for one GPU and give null.
 */
export function parseMiB(value: unknown): number | null {
  const r = numberAndUnit(value);
  if (!r) return null;
  const factor = r.unit === '' ? BYTES_PER_UNIT.mib : BYTES_PER_UNIT[r.unit];
  if (factor === undefined) return null;
  return within(Math.round(r.n * factor), Number.MAX_SAFE_INTEGER);
}

/** Percent 0..100 from "12 %", "12%" or "12"; anything above 100 is absurd and gives null. */
export function parsePercent(value: unknown): number | null {
  const r = numberAndUnit(value);
  if (!r || (r.unit !== '%' && r.unit !== '')) return null;
  return within(r.n, 100);
}

/** Watts from "67.03 W" (or a bare number). Above 100 kW per GPU is absurd: null. */
export function parseWatts(value: unknown): number | null {
  const r = numberAndUnit(value);
  if (!r || (r.unit !== 'w' && r.unit !== '')) return null;
  return within(r.n, 100_000);
}

/**
 * Degrees Celsius from "27 C" (or "27°C", or a bare number). Negative and above 300 °C give null.
 * Note: nvidia-smi's relative "T.Limit" temperatures can be negative; this is for absolute readings.
 */
export function parseCelsius(value: unknown): number | null {
  const r = numberAndUnit(value);
  if (!r || (r.unit !== 'c' && r.unit !== '°c' && r.unit !== '')) return null;
  return within(r.n, 300);
}

/** Megahertz from "1275 MHz" (or a bare number). Above 100 GHz is absurd: null. */
export function parseMHz(value: unknown): number | null {
  const r = numberAndUnit(value);
  if (!r || (r.unit !== 'mhz' && r.unit !== '')) return null;
  return within(r.n, 100_000);
}

/** A non-negative integer ("42"), or null. Signs, fractions, units and unsafe integers give null. */
export function parseIntOrNull(value: unknown): number | null {
  const v = naToNull(value);
  if (v === null || v.length > 16 || !/^\d+$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * A PCI bus id in one comparable form: lower case, domain as 8 hex digits.
 * "00000001:C8:00.0" and "0001:c8:00.0" both give "00000001:c8:00.0". Text that is not a bus id
 * is returned trimmed and lower-cased, so that equal strings still compare equal.
 */
export function normalizePciBusId(id: string): string {
  const v = id.trim().toLowerCase();
  const m = /^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/.exec(v);
  if (!m) return v;
  const [, domain = '0', bus = '', device = '', fn = ''] = m;
  return `${domain.padStart(8, '0')}:${bus.padStart(2, '0')}:${device.padStart(2, '0')}.${fn}`;
}
