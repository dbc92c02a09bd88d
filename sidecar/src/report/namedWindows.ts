// Named windows (`gpufleet-report window start|stop|list`): a small JSON state file, written atomically, that
// records when each benchmark window started and stopped and, where one was made, its Grafana annotation.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeAtomic } from './artifacts.js';
import { usageError } from './errors.js';
import type { NamedWindowTimes } from './window.js';

export interface NamedWindow extends NamedWindowTimes {
  /** The Grafana annotation marking it, when one was made. */
  grafanaAnnotationId?: number;
  grafanaUrl?: string;
}

export interface WindowState {
  version: 1;
  windows: NamedWindow[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkName(name: string): string {
  if (!NAME.test(name)) throw usageError(`window name "${name}": letters, digits, '.', '_', ':' and '-', starting with a letter or digit, at most 128`);
  return name;
}

/** $XDG_STATE_HOME/gpufleet/report-windows.json, else ~/.local/state/gpufleet/report-windows.json. */
export function defaultStateFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'gpufleet', 'report-windows.json');
}

export function parseState(text: string, file: string): WindowState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw usageError(`${file}: not JSON (${(err as Error).message}); fix or remove it`);
  }
  const o = raw as Partial<WindowState>;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.windows)) throw usageError(`${file}: not a gpufleet-report state file (no "windows" list)`);
  const windows = o.windows.filter(
    (w): w is NamedWindow =>
      typeof w === 'object' && w !== null && typeof w.name === 'string' && Number.isFinite(w.startMs) && (w.endMs === null || Number.isFinite(w.endMs)),
  );
  return { version: 1, windows };
}

export function readState(file: string): WindowState {
  if (!existsSync(file)) return { version: 1, windows: [] };
  return parseState(readFileSync(file, 'utf8'), file);
}

export function writeState(file: string, state: WindowState): void {
  writeAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
}

export function startWindow(state: WindowState, name: string, nowMs: number): { state: WindowState; window: NamedWindow } {
  checkName(name);
  const existing = state.windows.find((w) => w.name === name);
  if (existing) {
    throw usageError(
      existing.endMs === null
        ? `window "${name}" is already open (since ${new Date(existing.startMs).toISOString()})`
        : `window "${name}" exists already (${new Date(existing.startMs).toISOString()} – ${new Date(existing.endMs).toISOString()}); pick another name or window delete it`,
    );
  }
  const window: NamedWindow = { name, startMs: nowMs, endMs: null };
  return { state: { ...state, windows: [...state.windows, window] }, window };
}

export function stopWindow(state: WindowState, name: string, nowMs: number): { state: WindowState; window: NamedWindow } {
  const existing = state.windows.find((w) => w.name === name);
  if (!existing) throw usageError(`no window named "${name}" (window list shows them)`);
  if (existing.endMs !== null) throw usageError(`window "${name}" was stopped already at ${new Date(existing.endMs).toISOString()}`);
  const window = { ...existing, endMs: Math.max(nowMs, existing.startMs + 1) };
  return { state: { ...state, windows: state.windows.map((w) => (w.name === name ? window : w)) }, window };
}

export function deleteWindow(state: WindowState, name: string): WindowState {
  if (!state.windows.some((w) => w.name === name)) throw usageError(`no window named "${name}"`);
  return { ...state, windows: state.windows.filter((w) => w.name !== name) };
}

export function setAnnotation(state: WindowState, name: string, id: number, grafanaUrl: string): WindowState {
  return { ...state, windows: state.windows.map((w) => (w.name === name ? { ...w, grafanaAnnotationId: id, grafanaUrl } : w)) };
}

/** `window list`: one line per window, oldest first. */
export function formatList(state: WindowState): string {
  if (state.windows.length === 0) return 'no named windows\n';
  const lines = [...state.windows]
    .sort((a, b) => a.startMs - b.startMs)
    .map((w) => {
      const end = w.endMs === null ? 'open' : new Date(w.endMs).toISOString();
      const len = w.endMs === null ? '' : `  ${Math.round((w.endMs - w.startMs) / 1000)}s`;
      return `${w.name}\t${new Date(w.startMs).toISOString()}\t${end}${len}${w.grafanaAnnotationId !== undefined ? `\tgrafana annotation ${w.grafanaAnnotationId}` : ''}`;
    });
  return `${lines.join('\n')}\n`;
}
