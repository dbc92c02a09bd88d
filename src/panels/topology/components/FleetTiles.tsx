import React, { memo } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2, ThresholdsConfig } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';

import { colorForPercent, formatPercent } from '../format';
import { type Tile, tileFigure } from '../prometheus/tiles';
import type { TileColorBy } from '../types';

interface Props {
  groups: Array<{ group: string; tiles: Tile[] }>;
  groupLabel: string;
  colorBy: TileColorBy;
  thresholds: ThresholdsConfig;
  onSelect: (key: string) => void;
}

const count = (v: number | undefined) => (v === undefined ? '—' : String(v));

function sum(tiles: Tile[], k: keyof Tile): number | undefined {
  let total: number | undefined;
  for (const t of tiles) {
    const v = t[k];
    if (typeof v === 'number') {
      total = (total ?? 0) + v;
    }
  }
  return total;
}

/** "8 GPUs · 2 free · 7 MIG · 3 engines": the counts a tile shows, "—" where no series answered. */
export function tileCounts(t: Tile): string {
  const parts = [`${count(t.gpus)} GPU${t.gpus === 1 ? '' : 's'}`, `${count(t.gpusFree)} free`];
  if (t.mig) {
    parts.push(`${t.mig} MIG`);
  }
  if (t.vgpu) {
    parts.push(`${t.vgpu} vGPU`);
  }
  parts.push(`${count(t.engines)} engine${t.engines === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

function tileTitle(t: Tile): string {
  return [
    `${t.host}${t.group ? ` (${t.group})` : ''}`,
    `GPUs ${count(t.gpus)}, free ${count(t.gpusFree)}`,
    `MIG instances ${count(t.mig)}, free ${count(t.migFree)}`,
    `vGPU instances ${count(t.vgpu)}`,
    `Engines ${count(t.engines)}, up ${count(t.enginesUp)}, busy ${count(t.enginesBusy)}`,
    `GPU utilization ${formatPercent(t.util === undefined ? undefined : t.util * 100)}`,
    `GPU memory ${formatPercent(t.mem === undefined ? undefined : t.mem * 100)}`,
    `Firing alerts ${count(t.alerts)}`,
    t.version ? `Sidecar ${t.version}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

const TileView = memo(function TileView({
  tile,
  color,
  styles,
  onSelect,
}: {
  tile: Tile;
  color: string;
  styles: ReturnType<typeof getStyles>;
  onSelect: (key: string) => void;
}) {
  return (
    <button
      type="button"
      className={styles.tile}
      style={{ borderLeftColor: color }}
      data-testid="gpufleet-host"
      data-color={color}
      aria-label={`host ${tile.key}`}
      title={tileTitle(tile)}
      onClick={() => onSelect(tile.key)}
    >
      <span className={styles.name}>
        {tile.host}
        {tile.alerts ? <span className={styles.alerts}>{`${tile.alerts} firing`}</span> : null}
      </span>
      <span className={styles.counts}>{tileCounts(tile)}</span>
    </button>
  );
});

/**
 * The fleet level: one tile per host, in groups by the grouping label; a click opens the host. Memoised: the
 * level around it renders again when it is hidden or shown, the tiles need not.
 */
export const FleetTiles = memo(function FleetTiles({ groups, groupLabel, colorBy, thresholds, onSelect }: Props) {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  return (
    <div className={styles.wrap} aria-label="Hosts">
      {groups.map(({ group, tiles }) => (
        <section key={group} className={styles.group} aria-label={group ? `${groupLabel} ${group}` : 'Hosts'}>
          <h4 className={styles.groupHead}>
            {group ? `${groupLabel} ${group}` : groupLabel ? `no ${groupLabel} label` : 'Hosts'}
            <span className={styles.groupCounts}>
              {tiles.length} host{tiles.length === 1 ? '' : 's'} · {count(sum(tiles, 'gpus'))} GPUs ·{' '}
              {count(sum(tiles, 'gpusFree'))} free · {count(sum(tiles, 'engines'))} engines
            </span>
          </h4>
          <div className={styles.grid}>
            {tiles.map((t) => (
              <TileView
                key={t.key}
                tile={t}
                color={colorForPercent(tileFigure(t, colorBy), thresholds, theme)}
                styles={styles}
                onSelect={onSelect}
              />
            ))}
          </div>
        </section>
      ))}
    </div>
  );
});

const getStyles = (theme: GrafanaTheme2) => ({
  wrap: css({ padding: theme.spacing(0, 1, 1) }),
  group: css({ marginBottom: theme.spacing(1) }),
  groupHead: css({
    fontSize: theme.typography.bodySmall.fontSize,
    fontWeight: theme.typography.fontWeightMedium,
    margin: theme.spacing(0.5, 0),
    display: 'flex',
    gap: theme.spacing(1),
  }),
  groupCounts: css({ color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightRegular }),
  grid: css({ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(150px, 1fr))', gap: 4 }),
  tile: css({
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'flex-start',
    minWidth: 0,
    textAlign: 'left',
    padding: '2px 6px',
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.medium}`,
    borderLeftWidth: 5,
    borderRadius: theme.shape.radius.default,
    color: theme.colors.text.primary,
    fontSize: theme.typography.bodySmall.fontSize,
    cursor: 'pointer',
    '&:hover, &:focus-visible': { borderColor: theme.colors.primary.border },
    // A thousand tiles, a few hundred in view: the browser lays out and paints a tile's text only when it
    // scrolls near the viewport (the first paint and the click that leaves the fleet level do a fraction of
    // the work). The remembered size, else about two lines of small text, keeps the scrollbar steady.
    contentVisibility: 'auto',
    containIntrinsicSize: 'auto 150px auto 40px',
  }),
  name: css({
    fontWeight: theme.typography.fontWeightMedium,
    maxWidth: '100%',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    whiteSpace: 'nowrap',
  }),
  alerts: css({ marginLeft: theme.spacing(0.5), color: theme.colors.error.text }),
  counts: css({
    color: theme.colors.text.secondary,
    maxWidth: '100%',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    whiteSpace: 'nowrap',
  }),
});
