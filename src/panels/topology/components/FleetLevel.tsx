import React, { memo } from 'react';
import type { ThresholdsConfig } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';

import { FleetTiles } from './FleetTiles';
import { getTopologyStyles } from './styles';
import type { Tile } from '../prometheus/tiles';
import type { TileColorBy } from '../types';

interface Props {
  groups: Array<{ group: string; tiles: Tile[] }>;
  groupLabel: string;
  colorBy: TileColorBy;
  thresholds: ThresholdsConfig;
  messages: string[];
  onSelect: (key: string) => void;
  width: number;
  height: number;
  /** Kept mounted under another level: drawn as nothing, out of the tab order and the accessibility tree. */
  hidden: boolean;
}

/**
 * The fleet level: a legend, the notices, the tiles. Memoised, so that while it is hidden under a host its
 * thousand tiles are neither rendered again nor unmounted; shown again, only this element's style changes.
 */
export const FleetLevel = memo(function FleetLevel({
  groups,
  groupLabel,
  colorBy,
  thresholds,
  messages,
  onSelect,
  width,
  height,
  hidden,
}: Props) {
  const styles = useStyles2(getTopologyStyles);
  const hostCount = groups.reduce((n, g) => n + g.tiles.length, 0);
  return (
    // The wrapper hides; the level inside keeps its class and size, so showing it again lays nothing out anew.
    <div className={hidden ? styles.hiddenLevel : undefined} aria-hidden={hidden || undefined}>
      <div className={styles.root} style={{ width, height }} data-testid="gpufleet-fleet">
        <div className={styles.legend}>
          <span className={styles.legendTitle}>
            {hostCount} host{hostCount === 1 ? '' : 's'}
            {groupLabel && groups.some((g) => g.group) ? ` by ${groupLabel}` : ''}
          </span>
          <span>click a host for its topology</span>
        </div>
        {messages.length > 0 && (
          <div className={styles.notices} role="alert">
            {messages.map((m) => (
              <div key={m}>{m}</div>
            ))}
          </div>
        )}
        <div className={styles.scroll}>
          <FleetTiles
            groups={groups}
            groupLabel={groupLabel}
            colorBy={colorBy}
            thresholds={thresholds}
            onSelect={onSelect}
          />
        </div>
      </div>
    </div>
  );
});
