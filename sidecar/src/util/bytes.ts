// Sizes on the command line read like Prometheus' ("512MB", "2GiB", "64KiB"): KB/MB/GB are powers of
// 1024 as there; a bare number is bytes.
const UNIT: Record<string, number> = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3, tb: 1024 ** 4, tib: 1024 ** 4 };

export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = UNIT[(m?.[2] || 'b').toLowerCase()];
  if (!m || unit === undefined) throw new Error(`"${text}" is not a size (use e.g. 256MB, 1GiB)`);
  return Math.round(Number(m[1]) * unit);
}

export function formatBytes(n: number): string {
  for (const [u, f] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= f) return `${(n / f).toFixed(n / f >= 100 ? 0 : 1)} ${u}`;
  }
  return `${n} B`;
}
