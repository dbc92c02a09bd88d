import React, { memo, useMemo } from 'react';
import { cx } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';

import { CAPACITY_TEXT, type CapacityState, capacityStateOf } from '../capacity';
import { formatPercent } from '../format';
import { type Box, type Layout, SIZES } from '../layout';
import { type TopoNode, ratioPercent } from '../model';
import type { getTopologyStyles } from './styles';

type Styles = ReturnType<typeof getTopologyStyles>;

interface NodeViewProps {
  node: TopoNode;
  box: Box;
  color: string;
  dimmed: boolean;
  className: string;
  styles: Styles;
  onHover: (id: string | null) => void;
  onSelect?: (id: string) => void;
}

/**
 * One drawn node. Memoised, and every prop is a string, a boolean or a stable object (no JSX children,
 * which would be new on every render): hovering re-renders only the nodes whose dimming changes.
 */
const NodeView = memo(function NodeView({
  node,
  box,
  color,
  dimmed,
  className,
  styles,
  onHover,
  onSelect,
}: NodeViewProps) {
  return (
    <div
      className={className}
      data-testid={`gpufleet-${node.kind}`}
      data-node-id={node.id}
      data-color={color}
      role={onSelect ? 'button' : undefined}
      tabIndex={onSelect ? 0 : undefined}
      aria-label={`${node.kind} ${node.title}`}
      style={{
        left: box.x,
        top: box.y,
        width: box.w,
        height: box.h,
        borderLeftColor: color,
        opacity: dimmed ? 0.3 : 1,
      }}
      onMouseEnter={() => onHover(node.id)}
      onMouseLeave={() => onHover(null)}
      onClick={
        onSelect
          ? (e) => {
              e.stopPropagation();
              onSelect(node.id);
            }
          : undefined
      }
      onKeyDown={
        onSelect
          ? (e) => {
              if (e.key === 'Enter' || e.key === ' ') {
                e.preventDefault();
                e.stopPropagation();
                onSelect(node.id);
              }
            }
          : undefined
      }
    >
      <NodeContent node={node} styles={styles} />
    </div>
  );
});

/** free / idle-held / busy / unavailable beside a GPU's title, when the capacity model said (Prometheus or the sidecar). */
function CapacityChip({ state, styles }: { state: CapacityState | undefined; styles: Styles }) {
  if (!state) {
    return null;
  }
  return (
    <span
      className={cx(styles.capacity, styles.capacityState[state])}
      title={CAPACITY_TEXT[state]}
      data-testid="gpufleet-capacity"
    >
      {state}
    </span>
  );
}

function NodeContent({ node, styles }: { node: TopoNode; styles: Styles }) {
  switch (node.kind) {
    case 'engine':
      return (
        <>
          <div className={styles.nodeTitle}>{node.title}</div>
          <div className={styles.nodeSub}>{[node.subtitle, node.mainstat].filter(Boolean).join(' · ')}</div>
        </>
      );
    case 'worker':
      return <div className={styles.nodeTitle}>{node.title}</div>;
    case 'gpu':
      return (
        <div className={styles.gpuHead}>
          <span className={styles.nodeTitle}>
            {node.title}
            <CapacityChip state={capacityStateOf(node)} styles={styles} />
            {node.subtitle && <span className={styles.gpuSubtitle}>{node.subtitle}</span>}
          </span>
          <span className={styles.nodeSub}>
            {[node.mainstat, node.secondarystat].filter(Boolean).join(' · ') ||
              formatPercent(ratioPercent(node.detail.memoryUsedBytes, node.detail.memoryTotalBytes))}
          </span>
        </div>
      );
    default:
      return <>{node.title}</>;
  }
}

interface GraphProps {
  layout: Layout;
  /** Node id → border colour. */
  colors: Map<string, string>;
  /** The hovered node and everything connected to it; undefined when nothing is hovered. */
  related: Set<string> | undefined;
  styles: Styles;
  theme: GrafanaTheme2;
  onHover: (id: string | null) => void;
  /** A GPU row, an instance chip or a row's "+N" was clicked. */
  onSelectGpu: (id: string) => void;
  /** An engine or a rank was clicked. */
  onSelectEngine: (id: string) => void;
}

/**
 * Column heads, group bands, edges and nodes. Memoised on its props, none of which depends on the
 * selection: a click that opens the drill-down (or an engine's card) does not re-render the graph,
 * which at fleet scale is 600+ nodes (the selected GPU's outline is drawn by the panel on top).
 */
export const Graph = memo(function Graph({
  layout,
  colors,
  related,
  styles,
  theme,
  onHover,
  onSelectGpu,
  onSelectEngine,
}: GraphProps) {
  // Class names joined once, not per node and render (cx of emotion classes serialises and hashes).
  const classes = useMemo(
    () => ({
      engine: cx(styles.node, styles.engine),
      worker: cx(styles.node, styles.worker, styles.engine),
      gpu: cx(styles.node, styles.gpu),
      mig: styles.chip,
      vgpu: cx(styles.chip, styles.vgpuChip),
    }),
    [styles]
  );
  const dim = (id: string) => Boolean(related && !related.has(id));
  const colorOf = (id: string) => colors.get(id) ?? theme.colors.border.strong;

  return (
    <>
      {layout.columns.engine.w > 0 && (
        <div className={styles.colHead} style={{ left: layout.columns.engine.x, width: layout.columns.engine.w }}>
          Engines
        </div>
      )}
      {layout.columns.worker && (
        <div className={styles.colHead} style={{ left: layout.columns.worker.x, width: layout.columns.worker.w }}>
          Ranks
        </div>
      )}
      <div className={styles.colHead} style={{ left: layout.columns.gpu.x, width: layout.columns.gpu.w }}>
        GPUs · MIG / vGPU instances
      </div>
      {layout.bands.map((b) => (
        <div
          key={`${b.label}-${b.y}`}
          className={styles.band}
          style={{ top: b.y, left: layout.columns.gpu.x, width: layout.columns.gpu.w, height: b.h }}
        >
          {b.label}
        </div>
      ))}
      <svg className={styles.edges} width={layout.width} height={layout.height} aria-hidden="true">
        {layout.edges.map((e) => {
          const lit = related ? related.has(e.source) && related.has(e.target) : false;
          return (
            <path
              key={e.id}
              data-testid="gpufleet-edge"
              d={e.d}
              fill="none"
              stroke={lit ? theme.colors.primary.main : theme.colors.border.strong}
              strokeWidth={lit ? 2 : 1.2}
              opacity={related && !lit ? 0.15 : 0.9}
            />
          );
        })}
      </svg>
      {/* Engines and their ranks: both open the engine's card. */}
      {[
        ...layout.engines.map((placed) => ({ placed, className: classes.engine })),
        ...layout.workers.map((placed) => ({ placed, className: classes.worker })),
      ].map(({ placed: { node, box }, className }) => (
        <NodeView
          key={node.id}
          node={node}
          box={box}
          color={colorOf(node.id)}
          dimmed={dim(node.id)}
          className={className}
          styles={styles}
          onHover={onHover}
          onSelect={onSelectEngine}
        />
      ))}
      {layout.gpuRows.map((row) => (
        <NodeView
          key={row.node.id}
          node={row.node}
          box={row.box}
          color={colorOf(row.node.id)}
          dimmed={dim(row.node.id)}
          className={classes.gpu}
          styles={styles}
          onHover={onHover}
          onSelect={onSelectGpu}
        />
      ))}
      {layout.gpuRows.flatMap((row) => [
        ...row.chips.map(({ node, box }) => (
          <NodeView
            key={node.id}
            node={node}
            box={box}
            color={colorOf(node.id)}
            dimmed={dim(node.id)}
            className={node.kind === 'vgpu' ? classes.vgpu : classes.mig}
            styles={styles}
            onHover={onHover}
            onSelect={onSelectGpu}
          />
        )),
        row.hiddenChips > 0 ? (
          <button
            key={`${row.node.id}-more`}
            type="button"
            className={styles.more}
            style={{
              left: row.box.x + 6 + row.chips.length * (SIZES.chipWidth + SIZES.chipGap),
              top: row.box.y + SIZES.gpuRow - SIZES.chipHeight - 6,
              height: SIZES.chipHeight,
            }}
            aria-label={`${row.hiddenChips} more instances of ${row.node.title}`}
            onClick={(e) => {
              e.stopPropagation();
              onSelectGpu(row.node.id);
            }}
          >
            +{row.hiddenChips}
          </button>
        ) : null,
      ])}
    </>
  );
});
