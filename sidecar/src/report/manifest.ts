// MANIFEST.json: everything needed to trust or redo a report — the window, the selectors, the exact PromQL of
// every column, the server's build info, row counts, the artifacts' sha256 — and the warnings.
import type { Artifact } from './artifacts.js';
import type { ColumnKind, Level } from './catalogue.js';
import type { ReportWarning } from './warnings.js';
import { iso } from './window.js';

export interface ManifestColumn {
  name: string;
  kind: ColumnKind | 'label';
  description: string;
  /** The PromQL per row level, exactly as sent (evaluated at window.end). */
  promql: Partial<Record<Level, string>>;
}

export interface Manifest {
  tool: 'gpufleet-report';
  gpufleetVersion: string;
  createdAt: string;
  /** False when a query failed or hit a limit: some cells are empty for that reason (see warnings). */
  complete: boolean;
  prometheus: { url: string; buildInfo: Record<string, string> | null };
  window: { start: string; end: string; seconds: number; step: string; evaluatedAt: string; source: string };
  selectors: Record<string, string[]>;
  gpuRows: string;
  energy: { gpu: string; engine: string };
  rows: Record<string, number>;
  artifacts: Artifact[];
  columns: ManifestColumn[];
  checks: Array<{ name: string; promql: string }>;
  warnings: ReportWarning[];
}

export interface ManifestInput {
  version: string;
  nowMs: number;
  prometheusUrl: string;
  buildInfo: Record<string, string> | null;
  window: { startMs: number; endMs: number; step: string; source: string };
  selectors: Record<string, string[]>;
  gpusFollowEngines: boolean;
  energy: { gpu: string; engine: string };
  rows: Record<string, number>;
  artifacts: Artifact[];
  columns: ManifestColumn[];
  checks: Array<{ name: string; promql: string }>;
  warnings: ReportWarning[];
}

/** The URL without credentials or query (a token in a URL must not end up in a shared artifact). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(unparsable URL)';
  }
}

export function buildManifest(i: ManifestInput): Manifest {
  return {
    tool: 'gpufleet-report',
    gpufleetVersion: i.version,
    createdAt: iso(i.nowMs),
    complete: !i.warnings.some((w) => w.kind === 'query-limit' || w.kind === 'query-error'),
    prometheus: { url: redactUrl(i.prometheusUrl), buildInfo: i.buildInfo },
    window: {
      start: iso(i.window.startMs),
      end: iso(i.window.endMs),
      seconds: (i.window.endMs - i.window.startMs) / 1000,
      step: i.window.step,
      evaluatedAt: iso(i.window.endMs),
      source: i.window.source,
    },
    selectors: i.selectors,
    gpuRows: i.gpusFollowEngines ? 'the GPUs the selected engines ran on (gpufleet_engine_gpu)' : 'the GPUs matching --host/--gpu',
    energy: i.energy,
    rows: i.rows,
    artifacts: i.artifacts,
    columns: i.columns,
    checks: i.checks,
    warnings: i.warnings,
  };
}
