import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';

interface Props {
  /** 0..100, or undefined when unknown (drawn empty and labelled "no data"). */
  percent: number | undefined;
  color: string;
  label: string;
  /** Text beside the bar, e.g. "3.1 GiB / 10 GiB". */
  valueText: string;
}

/** A horizontal meter; role="meter" so tests and screen readers read the figure, not the pixels. */
export function Bar({ percent, color, label, valueText }: Props) {
  const styles = useStyles2(getStyles);
  const clamped = percent === undefined ? 0 : Math.max(0, Math.min(100, percent));
  return (
    <div className={styles.wrap}>
      <div
        className={styles.track}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent === undefined ? undefined : Math.round(clamped)}
        aria-valuetext={percent === undefined ? `${label}: no data` : `${label}: ${valueText}`}
      >
        <div className={styles.fill} style={{ width: `${clamped}%`, background: color }} />
      </div>
      <span className={styles.value}>{valueText}</span>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  // The figure wraps under the bar when the cell is narrow: a drill-down table of five columns fits a
  // 720 px pane instead of running past the panel's edge.
  wrap: css({
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    columnGap: theme.spacing(1),
    rowGap: 2,
    minWidth: 90,
  }),
  track: css({
    flex: '1 1 80px',
    minWidth: 60,
    height: 8,
    borderRadius: 4,
    background: theme.colors.background.canvas,
    border: `1px solid ${theme.colors.border.weak}`,
    overflow: 'hidden',
  }),
  fill: css({ height: '100%' }),
  value: css({
    whiteSpace: 'nowrap',
    fontSize: theme.typography.bodySmall.fontSize,
    color: theme.colors.text.secondary,
  }),
});
