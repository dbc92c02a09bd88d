// Writing the report's files: CSV and JSON renderings of the rows (pure), and an atomic write that leaves
// either the whole new file or nothing under the final name (a temporary name in the same directory, then
// rename), with the sha256 the manifest lists.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Row } from './rows.js';

/** RFC 4180: quoted when it holds a comma, quote, CR or LF; numbers as JavaScript prints them (round-trips). */
export function csvCell(v: Row[string]): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : v;
  // A cell starting with = + - @ is a formula to spreadsheet programs; label values are untrusted text.
  const safe = typeof v === 'string' && /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(header: readonly string[], rows: readonly Row[]): string {
  const lines = [header.join(','), ...rows.map((r) => header.map((h) => csvCell(r[h] ?? null)).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

export function toJson(header: readonly string[], rows: readonly Row[]): string {
  return `${JSON.stringify({ columns: header, rows: rows.map((r) => Object.fromEntries(header.map((h) => [h, r[h] ?? null]))) }, null, 2)}\n`;
}

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface Artifact {
  file: string;
  bytes: number;
  sha256: string;
}

export function writeAtomic(path: string, text: string): Artifact {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const buf = Buffer.from(text);
  return { file: basename(path), bytes: buf.length, sha256: sha256(buf) };
}
