import React, { memo, useCallback, useMemo, useState } from 'react';
import { css, cx } from '@emotion/css';
import { type GrafanaTheme2, LoadingState, type PanelProps, type ThresholdsConfig } from '@grafana/data';
import { Alert, LoadingPlaceholder, useStyles2, useTheme2 } from '@grafana/ui';

import { DrillDown } from './DrillDown';
import {
  colorForPercent,
  formatBytes,
  formatNumber,
  formatPercent,
  legendItems,
  normaliseThresholds,
  text,
} from '../format';
import { type Box, type Layout, SIZES, computeLayout } from '../layout';
import { type NodeKind, type Topology, type TopoNode, figureOf, gpusOf, parseTopology, ratioPercent } from '../model';
import { COLOR_BY_TEXT, DEFAULT_OPTIONS, type TopologyOptions } from '../types';

type Props = PanelProps<TopologyOptions>;

const KIND_COLOR: Record<NodeKind, string> = {
  engine: 'blue',
  worker: 'purple',
  gpu: 'green',
  mig: 'yellow',
  vgpu: 'orange',
};

/** Everything connected to a node through the drawn edges, plus a GPU's own instances. */
function relatedTo(topo: Topology, id: string): Set<string> {
  const seen = new Set<string>([id]);
  const start = [id, ...(topo.instancesByGpu.get(id) ?? []).map((n) => n.id)];
  start.forEach((s) => seen.add(s));
  const walk = (from: string[], next: Map<string, string[]>) => {
    const queue = [...from];
    while (queue.length) {
      const cur = queue.pop()!;
      for (const n of next.get(cur) ?? []) {
        if (!seen.has(n)) {
          seen.add(n);
          queue.push(n);
        }
      }
    }
  };
  walk(start, topo.incoming);
  walk(start, topo.outgoing);
  // An engine or worker that runs on an instance lights up the GPU row holding it.
  for (const n of Array.from(seen)) {
    const p = topo.parentGpu.get(n);
    if (p) {
      seen.add(p);
    }
  }
  return seen;
}

interface NodeViewProps {
  node: TopoNode;
  box: Box;
  color: string;
  dimmed: boolean;
  onHover: (id: string | null) => void;
  onSelect?: (id: string) => void;
  className: string;
  children?: React.ReactNode;
}

/** One drawn node. Memoised: hovering re-renders only the nodes whose dimming changes. */
const NodeView = memo(function NodeView({
  node,
  box,
  color,
  dimmed,
  onHover,
  onSelect,
  className,
  children,
}: NodeViewProps) {
  const clickable = Boolean(onSelect);
  return (
    <div
      className={className}
      data-testid={`gpufleet-${node.kind}`}
      data-node-id={node.id}
      data-color={color}
      role={clickable ? 'button' : undefined}
      tabIndex={clickable ? 0 : undefined}
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
      onKeyDown={onSelect ? (e) => (e.key === 'Enter' || e.key === ' ') && onSelect(node.id) : undefined}
    >
      {children}
    </div>
  );
});

function tooltipLines(topo: Topology, node: TopoNode): Array<[string, string]> {
  const d = node.detail;
  switch (node.kind) {
    case 'engine':
      return [
        ['Model', text(d.model)],
        ['Endpoint', text(d.endpoint)],
        ['Health', text(d.health)],
        [
          'KV cache',
          d.kvCacheUsage === undefined || d.kvCacheUsage === null ? '—' : formatPercent(Number(d.kvCacheUsage) * 100),
        ],
        ['Running / waiting', `${formatNumber(d.running)} / ${formatNumber(d.waiting)}`],
        ['GPUs', String(gpusOf(topo, node.id).length)],
      ];
    case 'worker':
      return [
        ['Rank', text(d.rank)],
        ['PID', text(d.pid)],
        ['Runs on', (topo.outgoing.get(node.id) ?? []).map((t) => topo.nodes.get(t)?.title ?? t).join(', ') || '—'],
      ];
    case 'gpu':
      return [
        ['Utilization', formatPercent(typeof d.utilizationGpu === 'number' ? d.utilizationGpu : undefined)],
        ['Memory', `${formatBytes(d.memoryUsedBytes)} / ${formatBytes(d.memoryTotalBytes)}`],
        ['Temperature', formatNumber(d.temperatureC, '°C')],
        ['Power', formatNumber(d.powerW, 'W')],
        ['MIG / vGPU', `${text(d.migMode)} / ${text(d.vgpuHostMode)}`],
        ['Instances', String((topo.instancesByGpu.get(node.id) ?? []).length)],
      ];
    case 'mig':
      return [
        ['Profile', text(d.profile)],
        ['Memory', `${formatBytes(d.memoryUsedBytes)} / ${formatBytes(d.memoryTotalBytes)}`],
        ['GI / CI', `${text(d.gpuInstanceId)} / ${text(d.computeInstanceId)}`],
      ];
    case 'vgpu':
      return [
        ['Type', text(d.type)],
        ['VM', `${text(d.vmName)} (${text(d.vmId)})`],
        ['Utilization', formatPercent(typeof d.utilizationGpu === 'number' ? d.utilizationGpu : undefined)],
        ['Framebuffer', `${formatBytes(d.framebufferUsedBytes)} / ${formatBytes(d.framebufferTotalBytes)}`],
      ];
  }
}

export function TopologyPanel({ data, width, height, options, fieldConfig }: Props) {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  const opts = { ...DEFAULT_OPTIONS, ...options };
  const thresholds: ThresholdsConfig = useMemo(
    () => normaliseThresholds(fieldConfig?.defaults?.thresholds),
    [fieldConfig?.defaults?.thresholds]
  );
  const topo = useMemo(() => parseTopology(data.series), [data.series]);
  const legendHeight = 26;
  const layout: Layout | undefined = useMemo(
    () =>
      topo
        ? computeLayout(topo, { groupBy: opts.groupBy, showWorkers: opts.showWorkers, width: width - 2 })
        : undefined,
    [topo, opts.groupBy, opts.showWorkers, width]
  );
  const [hovered, setHovered] = useState<string | null>(null);
  const [selected, setSelected] = useState<{ gpu: string; focus?: string } | null>(null);

  const colorOf = useCallback(
    (n: TopoNode): string =>
      opts.colorBy === 'none'
        ? theme.visualization.getColorByName(KIND_COLOR[n.kind])
        : topo
          ? colorForPercent(figureOf(topo, n, opts.colorBy), thresholds, theme)
          : theme.colors.border.strong,
    [opts.colorBy, topo, thresholds, theme]
  );
  const related = useMemo(() => (topo && hovered ? relatedTo(topo, hovered) : undefined), [topo, hovered]);
  const onSelect = useCallback(
    (id: string) => {
      const gpu = topo?.parentGpu.get(id) ?? id;
      setSelected({ gpu, focus: gpu === id ? undefined : id });
    },
    [topo]
  );

  const errors = data.errors ?? [];
  const errorText = errors.map((e) => e.message ?? e.data?.message ?? 'Query failed').join(' · ');

  if (!topo) {
    if (data.state === LoadingState.Loading) {
      return (
        <div className={styles.center} style={{ width, height }}>
          <LoadingPlaceholder text="Loading topology…" />
        </div>
      );
    }
    if (errorText) {
      return (
        <div className={styles.center} style={{ width, height }}>
          <Alert severity="error" title="The topology query failed">
            {errorText}
          </Alert>
        </div>
      );
    }
    return (
      <div className={styles.center} style={{ width, height }}>
        <div className={styles.empty} role="status">
          {data.series.length === 0
            ? 'No topology data. Query the gpufleet sidecar data source with the query kind "Topology".'
            : 'These results are not a topology (no nodes frame). Set the query kind to "Topology".'}
        </div>
      </div>
    );
  }

  const selectedGpu = selected ? topo.nodes.get(selected.gpu) : undefined;
  const notices = topo.notices.filter((n) => n.severity !== 'info');
  const hoveredNode = hovered ? topo.nodes.get(hovered) : undefined;
  const hoveredBox = hovered && layout ? layout.boxes.get(hovered) : undefined;
  const dim = (id: string) => Boolean(related && !related.has(id));

  return (
    <div className={styles.root} style={{ width, height }} data-testid="gpufleet-topology">
      <div className={styles.legend} style={{ height: legendHeight }} aria-label="Legend">
        {opts.colorBy === 'none' ? (
          (Object.keys(KIND_COLOR) as NodeKind[]).map((k) => (
            <span key={k} className={styles.legendItem}>
              <i className={styles.swatch} style={{ background: theme.visualization.getColorByName(KIND_COLOR[k]) }} />
              {k}
            </span>
          ))
        ) : (
          <>
            <span className={styles.legendTitle} title={COLOR_BY_TEXT[opts.colorBy]}>
              {opts.colorBy === 'load' ? 'Load' : 'Memory'}
            </span>
            {legendItems(thresholds).map((item) => (
              <span key={item.label} className={styles.legendItem}>
                <i className={styles.swatch} style={{ background: theme.visualization.getColorByName(item.color) }} />
                {item.label}
              </span>
            ))}
            <span className={styles.legendItem}>
              <i className={styles.swatch} style={{ background: theme.colors.border.strong }} />
              no data
            </span>
          </>
        )}
        <span className={styles.counts}>
          {topo.engines.length} engines · {topo.workers.length} ranks · {topo.gpus.length} GPUs ·{' '}
          {topo.nodes.size - topo.engines.length - topo.workers.length - topo.gpus.length} instances
        </span>
      </div>

      {(notices.length > 0 || errorText) && (
        <div className={styles.notices} role="alert">
          {errorText && <div>{errorText}</div>}
          {notices.map((n, i) => (
            <div key={i}>{n.text}</div>
          ))}
        </div>
      )}

      {topo.nodes.size === 0 || !layout ? (
        <div className={styles.empty} role="status">
          The sidecar reports no GPUs and no engines.
        </div>
      ) : (
        <div className={styles.scroll} onClick={() => setSelected(null)}>
          <div className={styles.canvas} style={{ width: layout.width, height: layout.height }}>
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
            {layout.engines.map(({ node, box }) => (
              <NodeView
                key={node.id}
                node={node}
                box={box}
                color={colorOf(node)}
                dimmed={dim(node.id)}
                onHover={setHovered}
                className={styles.node}
              >
                <div className={styles.nodeTitle}>{node.title}</div>
                <div className={styles.nodeSub}>{[node.subtitle, node.mainstat].filter(Boolean).join(' · ')}</div>
              </NodeView>
            ))}
            {layout.workers.map(({ node, box }) => (
              <NodeView
                key={node.id}
                node={node}
                box={box}
                color={colorOf(node)}
                dimmed={dim(node.id)}
                onHover={setHovered}
                className={cx(styles.node, styles.worker)}
              >
                <div className={styles.nodeTitle}>{node.title}</div>
              </NodeView>
            ))}
            {layout.gpuRows.map((row) => (
              <NodeView
                key={row.node.id}
                node={row.node}
                box={row.box}
                color={colorOf(row.node)}
                dimmed={dim(row.node.id)}
                onHover={setHovered}
                onSelect={onSelect}
                className={cx(styles.node, styles.gpu, selected?.gpu === row.node.id && styles.selected)}
              >
                <div className={styles.gpuHead}>
                  <span className={styles.nodeTitle}>
                    {row.node.title}
                    {row.node.subtitle && <span className={styles.gpuSubtitle}>{row.node.subtitle}</span>}
                  </span>
                  <span className={styles.nodeSub}>
                    {[row.node.mainstat, row.node.secondarystat].filter(Boolean).join(' · ') ||
                      formatPercent(ratioPercent(row.node.detail.memoryUsedBytes, row.node.detail.memoryTotalBytes))}
                  </span>
                </div>
              </NodeView>
            ))}
            {layout.gpuRows.flatMap((row) => [
              ...row.chips.map(({ node, box }) => (
                <NodeView
                  key={node.id}
                  node={node}
                  box={box}
                  color={colorOf(node)}
                  dimmed={dim(node.id)}
                  onHover={setHovered}
                  onSelect={onSelect}
                  className={cx(styles.chip, node.kind === 'vgpu' && styles.vgpuChip)}
                >
                  {node.title}
                </NodeView>
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
                    onSelect(row.node.id);
                  }}
                >
                  +{row.hiddenChips}
                </button>
              ) : null,
            ])}
            {hoveredNode && hoveredBox && (
              <div
                className={styles.tooltip}
                role="tooltip"
                style={{
                  top: hoveredBox.y,
                  left:
                    hoveredBox.x + hoveredBox.w + 240 < layout.width
                      ? hoveredBox.x + hoveredBox.w + 8
                      : Math.max(4, hoveredBox.x - 236),
                }}
              >
                <div className={styles.nodeTitle}>{hoveredNode.title}</div>
                {hoveredNode.subtitle && <div className={styles.nodeSub}>{hoveredNode.subtitle}</div>}
                <table>
                  <tbody>
                    {tooltipLines(topo, hoveredNode).map(([k, v]) => (
                      <tr key={k}>
                        <th>{k}</th>
                        <td>{v}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        </div>
      )}
      {selectedGpu && (
        <DrillDown
          topo={topo}
          gpu={selectedGpu}
          focusId={selected?.focus}
          thresholds={thresholds}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({ position: 'relative', display: 'flex', flexDirection: 'column', overflow: 'hidden' }),
  center: css({ display: 'flex', alignItems: 'center', justifyContent: 'center', padding: theme.spacing(1) }),
  empty: css({ color: theme.colors.text.secondary, padding: theme.spacing(2), textAlign: 'center' }),
  legend: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(1.5),
    flex: '0 0 auto',
    fontSize: theme.typography.bodySmall.fontSize,
    color: theme.colors.text.secondary,
    padding: `0 ${theme.spacing(1)}`,
    whiteSpace: 'nowrap',
    overflow: 'hidden',
  }),
  legendTitle: css({ fontWeight: theme.typography.fontWeightMedium, color: theme.colors.text.primary }),
  legendItem: css({ display: 'inline-flex', alignItems: 'center', gap: 4 }),
  swatch: css({ display: 'inline-block', width: 10, height: 10, borderRadius: 2 }),
  counts: css({ marginLeft: 'auto' }),
  notices: css({
    flex: '0 0 auto',
    margin: `0 ${theme.spacing(1)} ${theme.spacing(0.5)}`,
    padding: theme.spacing(0.5, 1),
    borderLeft: `3px solid ${theme.colors.warning.main}`,
    background: theme.colors.warning.transparent,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  scroll: css({ flex: '1 1 auto', overflow: 'auto', position: 'relative' }),
  canvas: css({ position: 'relative' }),
  colHead: css({
    position: 'absolute',
    top: -2,
    fontSize: 10,
    textTransform: 'uppercase',
    letterSpacing: '0.04em',
    color: theme.colors.text.disabled,
  }),
  band: css({
    position: 'absolute',
    fontSize: theme.typography.bodySmall.fontSize,
    fontWeight: theme.typography.fontWeightMedium,
    color: theme.colors.text.secondary,
    borderBottom: `1px solid ${theme.colors.border.weak}`,
    lineHeight: '20px',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    whiteSpace: 'nowrap',
  }),
  edges: css({ position: 'absolute', left: 0, top: 0, pointerEvents: 'none' }),
  node: css({
    position: 'absolute',
    boxSizing: 'border-box',
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.medium}`,
    borderLeftWidth: 5,
    borderRadius: theme.shape.radius.default,
    padding: '3px 6px',
    overflow: 'hidden',
    fontSize: theme.typography.bodySmall.fontSize,
    transition: 'opacity 80ms',
  }),
  worker: css({ display: 'flex', alignItems: 'center' }),
  gpu: css({ cursor: 'pointer', '&:hover, &:focus-visible': { borderColor: theme.colors.primary.border } }),
  selected: css({ outline: `2px solid ${theme.colors.primary.main}` }),
  gpuHead: css({ display: 'flex', justifyContent: 'space-between', gap: theme.spacing(1) }),
  nodeTitle: css({
    fontWeight: theme.typography.fontWeightMedium,
    color: theme.colors.text.primary,
    whiteSpace: 'nowrap',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
  }),
  gpuSubtitle: css({
    marginLeft: theme.spacing(1),
    fontWeight: theme.typography.fontWeightRegular,
    color: theme.colors.text.secondary,
  }),
  nodeSub: css({
    color: theme.colors.text.secondary,
    whiteSpace: 'nowrap',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
  }),
  chip: css({
    position: 'absolute',
    boxSizing: 'border-box',
    borderRadius: 3,
    border: `1px solid ${theme.colors.border.medium}`,
    borderLeftWidth: 4,
    background: theme.colors.background.primary,
    fontSize: 10,
    lineHeight: '16px',
    padding: '0 3px',
    whiteSpace: 'nowrap',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    cursor: 'pointer',
    zIndex: 1,
  }),
  vgpuChip: css({ borderStyle: 'dashed', borderLeftStyle: 'solid' }),
  more: css({
    position: 'absolute',
    zIndex: 1,
    fontSize: 10,
    padding: '0 6px',
    borderRadius: 3,
    border: `1px solid ${theme.colors.border.medium}`,
    background: theme.colors.background.canvas,
    color: theme.colors.text.primary,
    cursor: 'pointer',
  }),
  tooltip: css({
    position: 'absolute',
    zIndex: 4,
    width: 228,
    padding: theme.spacing(1),
    background: theme.colors.background.elevated ?? theme.colors.background.primary,
    border: `1px solid ${theme.colors.border.medium}`,
    borderRadius: theme.shape.radius.default,
    boxShadow: theme.shadows.z2,
    fontSize: theme.typography.bodySmall.fontSize,
    pointerEvents: 'none',
    th: { textAlign: 'left', color: theme.colors.text.secondary, fontWeight: 'normal', paddingRight: theme.spacing(1) },
  }),
});
