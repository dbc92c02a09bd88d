import { type GrafanaTheme2, type ThresholdsConfig, ThresholdsMode, getActiveThreshold } from '@grafana/data';

import { num } from './model';

export const DEFAULT_THRESHOLDS: ThresholdsConfig = {
  mode: ThresholdsMode.Absolute,
  steps: [
    { value: -Infinity, color: 'green' },
    { value: 60, color: 'orange' },
    { value: 85, color: 'red' },
  ],
};

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** IEC bytes with at most one decimal and no trailing ".0" ("9.5 GiB", "80 GiB"), as nvidia-smi users read them. */
export function formatBytes(v: unknown): string {
  const n = num(v);
  if (n === undefined) {
    return '—';
  }
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const rounded = Math.round(value * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded.toFixed(0) : rounded.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

export function formatPercent(v: number | undefined): string {
  return v === undefined ? '—' : `${Math.round(v)}%`;
}

export function formatNumber(v: unknown, unit = ''): string {
  const n = num(v);
  if (n === undefined) {
    return '—';
  }
  const text = Number.isInteger(n) ? String(n) : n.toFixed(1);
  return unit ? `${text} ${unit}` : text;
}

export function text(v: unknown): string {
  return v === null || v === undefined || v === '' ? '—' : String(v);
}

/** Thresholds as stored in JSON lose -Infinity (it becomes null); the first step is the base either way. */
export function normaliseThresholds(t: ThresholdsConfig | undefined): ThresholdsConfig {
  if (!t || !Array.isArray(t.steps) || t.steps.length === 0) {
    return DEFAULT_THRESHOLDS;
  }
  return {
    mode: t.mode ?? ThresholdsMode.Absolute,
    steps: t.steps.map((s, i) => ({ ...s, value: i === 0 || s.value === null ? -Infinity : s.value })),
  };
}

/** Colour for a percent figure; `undefined` (no data) gets a neutral colour, never the "good" one. */
export function colorForPercent(value: number | undefined, thresholds: ThresholdsConfig, theme: GrafanaTheme2): string {
  if (value === undefined) {
    return theme.colors.border.strong;
  }
  // Percentage-mode thresholds are percent of 0..100, which is the scale the figures already have.
  const step = getActiveThreshold(value, thresholds.steps);
  return theme.visualization.getColorByName(step.color);
}

/** Legend entries: "< 60%", "60–85%", "≥ 85%". */
export function legendItems(thresholds: ThresholdsConfig): Array<{ color: string; label: string }> {
  const steps = thresholds.steps;
  return steps.map((s, i) => {
    const next = steps[i + 1];
    const from = i === 0 ? undefined : s.value;
    if (from === undefined && next) {
      return { color: s.color, label: `< ${next.value}%` };
    }
    if (from !== undefined && next) {
      return { color: s.color, label: `${from}–${next.value}%` };
    }
    if (from !== undefined) {
      return { color: s.color, label: `≥ ${from}%` };
    }
    return { color: s.color, label: 'all' };
  });
}
