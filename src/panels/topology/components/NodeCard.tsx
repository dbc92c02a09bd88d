import React, { useEffect, useRef } from 'react';
import { cx } from '@emotion/css';
import { IconButton, LinkButton } from '@grafana/ui';

import { formatBytes, formatNumber, formatPercent, text } from '../format';
import type { Box } from '../layout';
import { type Topology, type TopoNode, gpusOf } from '../model';
import type { getTopologyStyles } from './styles';

type Styles = ReturnType<typeof getTopologyStyles>;

export function tooltipLines(topo: Topology, node: TopoNode): Array<[string, string]> {
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
        ...(d.capacityState
          ? ([['Capacity', capacityLine(d.capacityState, d.capacitySince)]] as Array<[string, string]>)
          : []),
        ...(d.capacityState && typeof d.capacityReason === 'string' && d.capacityReason
          ? ([['Why', d.capacityReason]] as Array<[string, string]>)
          : []),
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

/** "idle-held since 14:02" (the since timestamp is ms since the epoch, as times in frames are). */
function capacityLine(state: unknown, since: unknown): string {
  const s = typeof since === 'number' && since > 0 ? new Date(since) : undefined;
  return s ? `${text(state)} since ${s.toLocaleString()}` : text(state);
}

/** Beside the node when there is room on its right, else on its left. */
function placeBeside(box: Box, canvasWidth: number, width: number): { top: number; left: number; width: number } {
  return {
    top: box.y,
    left: box.x + box.w + width + 12 < canvasWidth ? box.x + box.w + 8 : Math.max(4, box.x - width - 8),
    width,
  };
}

interface TooltipProps {
  topo: Topology;
  node: TopoNode;
  box: Box;
  canvasWidth: number;
  styles: Styles;
  /** A hint under the figures (e.g. that a click opens the engine's card). */
  hint?: string;
}

/** The hover tooltip: the node's key figures. */
export function NodeTooltip({ topo, node, box, canvasWidth, styles, hint }: TooltipProps) {
  return (
    <div className={styles.tooltip} role="tooltip" style={placeBeside(box, canvasWidth, 228)}>
      <NodeFigures topo={topo} node={node} styles={styles} />
      {hint && <div className={styles.hint}>{hint}</div>}
    </div>
  );
}

function NodeFigures({ topo, node, styles }: { topo: Topology; node: TopoNode; styles: Styles }) {
  return (
    <>
      <div className={styles.nodeTitle}>{node.title}</div>
      {node.subtitle && <div className={styles.nodeSub}>{node.subtitle}</div>}
      <table>
        <tbody>
          {tooltipLines(topo, node).map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

interface EngineCardProps {
  topo: Topology;
  engine: TopoNode;
  box: Box;
  canvasWidth: number;
  styles: Styles;
  /** The engine dashboard link; none when the "Engine link" option is empty. */
  href?: string;
  onClose: () => void;
}

/**
 * A clicked engine (or rank): its figures, pinned, with the link to its dashboard. The hover tooltip
 * cannot hold a link (it follows the pointer and lets clicks through), hence a card that stays until
 * closed.
 */
export function EngineCard({ topo, engine, box, canvasWidth, styles, href, onClose }: EngineCardProps) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // After the paint, and without scrolling: focusing synchronously would force a layout of the
    // whole graph inside the click.
    const t = requestAnimationFrame(() =>
      ref.current?.querySelector<HTMLElement>('a, button')?.focus({ preventScroll: true })
    );
    return () => cancelAnimationFrame(t);
  }, [engine.id]);
  return (
    <div
      ref={ref}
      className={cx(styles.tooltip, styles.card)}
      role="dialog"
      tabIndex={-1}
      aria-label={`Engine ${engine.title}`}
      style={placeBeside(box, canvasWidth, 300)}
      onClick={(e) => e.stopPropagation()}
      onKeyDown={(e) => e.key === 'Escape' && onClose()}
    >
      <IconButton
        name="times"
        size="sm"
        aria-label="Close engine details"
        className={styles.cardClose}
        onClick={onClose}
      />
      <NodeFigures topo={topo} node={engine} styles={styles} />
      {href && (
        <LinkButton href={href} size="sm" variant="secondary" icon="apps" className={styles.cardLink}>
          Open engine dashboard
        </LinkButton>
      )}
    </div>
  );
}
