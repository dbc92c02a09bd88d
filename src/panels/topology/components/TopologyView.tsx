import React, { memo, useCallback, useMemo, useState } from 'react';
import type { GrafanaTheme2, InterpolateFunction, ThresholdsConfig } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';

import { DrillDown } from './DrillDown';
import { Graph } from './Graph';
import { EngineCard, NodeTooltip } from './NodeCard';
import { getTopologyStyles } from './styles';
import { colorForPercent, legendItems } from '../format';
import { type Layout, computeLayout } from '../layout';
import { buildLink, engineLinkFields, engineOf, gpuLinkFields } from '../links';
import { type NodeKind, type Topology, type TopoNode, figureOf } from '../model';
import { type ColorBy, COLOR_BY_TEXT, type TopologyOptions } from '../types';

type Styles = ReturnType<typeof getTopologyStyles>;

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

/** Every node's border colour, computed once per topology and colour settings (not per render). */
function nodeColors(
  topo: Topology,
  colorBy: ColorBy,
  thresholds: ThresholdsConfig,
  theme: GrafanaTheme2
): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of topo.nodes.values()) {
    out.set(
      n.id,
      colorBy === 'none'
        ? theme.visualization.getColorByName(KIND_COLOR[n.kind])
        : colorForPercent(figureOf(topo, n, colorBy), thresholds, theme)
    );
  }
  return out;
}

interface LegendProps {
  topo: Topology;
  colorBy: ColorBy;
  thresholds: ThresholdsConfig;
  theme: GrafanaTheme2;
  styles: Styles;
}

const Legend = memo(function Legend({ topo, colorBy, thresholds, theme, styles }: LegendProps) {
  return (
    <div className={styles.legend} style={{ height: 26 }} aria-label="Legend">
      {colorBy === 'none' ? (
        (Object.keys(KIND_COLOR) as NodeKind[]).map((k) => (
          <span key={k} className={styles.legendItem}>
            <i className={styles.swatch} style={{ background: theme.visualization.getColorByName(KIND_COLOR[k]) }} />
            {k}
          </span>
        ))
      ) : (
        <>
          <span className={styles.legendTitle} title={COLOR_BY_TEXT[colorBy]}>
            {colorBy === 'load' ? 'Load' : 'Memory'}
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
  );
});

interface ViewProps {
  topo: Topology;
  width: number;
  opts: TopologyOptions;
  thresholds: ThresholdsConfig;
  replaceVariables: InterpolateFunction;
  /** Warnings and errors to show above the graph. */
  messages: string[];
  /** What to say when there is nothing to draw. */
  emptyText: string;
}

/** The topology as layered columns with its tooltips, engine card and GPU drill-down: the same for every source and level. */
export function TopologyView({ topo, width, opts, thresholds, replaceVariables, messages, emptyText }: ViewProps) {
  const styles = useStyles2(getTopologyStyles);
  const theme = useTheme2();
  const layout: Layout = useMemo(
    () => computeLayout(topo, { groupBy: opts.groupBy, showWorkers: opts.showWorkers, width: width - 2 }),
    [topo, opts.groupBy, opts.showWorkers, width]
  );
  const colors = useMemo(
    () => nodeColors(topo, opts.colorBy, thresholds, theme),
    [topo, opts.colorBy, thresholds, theme]
  );
  const [hovered, setHovered] = useState<string | null>(null);
  const [selected, setSelected] = useState<{ gpu: string; focus?: string } | null>(null);
  const [pinnedEngine, setPinnedEngine] = useState<string | null>(null);

  const related = useMemo(() => (hovered ? relatedTo(topo, hovered) : undefined), [topo, hovered]);
  const onSelectGpu = useCallback(
    (id: string) => {
      const gpu = topo.parentGpu.get(id) ?? id;
      setSelected({ gpu, focus: gpu === id ? undefined : id });
    },
    [topo]
  );
  const onSelectEngine = useCallback(
    (id: string) => {
      const engine = engineOf(topo, id);
      setPinnedEngine((cur) => (engine && cur !== engine.id ? engine.id : null));
    },
    [topo]
  );
  const closeDrillDown = useCallback(() => setSelected(null), []);
  const closeEngine = useCallback(() => setPinnedEngine(null), []);
  const clearAll = useCallback(() => {
    setSelected(null);
    setPinnedEngine(null);
  }, []);

  const { engineLink, gpuLink } = opts;
  const engineHref = useCallback(
    (engine: TopoNode) => buildLink(engineLink, engineLinkFields(engine), replaceVariables),
    [engineLink, replaceVariables]
  );

  const selectedGpu = selected ? topo.nodes.get(selected.gpu) : undefined;
  const selectedBox = selected ? layout.boxes.get(selected.gpu) : undefined;
  const notices = topo.notices.filter((n) => n.severity !== 'info');
  const engine = pinnedEngine ? topo.nodes.get(pinnedEngine) : undefined;
  const engineBox = pinnedEngine ? layout.boxes.get(pinnedEngine) : undefined;
  // The pinned engine shows its card, not also its tooltip.
  const hoveredNode = hovered && hovered !== pinnedEngine ? topo.nodes.get(hovered) : undefined;
  const hoveredBox = hoveredNode ? layout.boxes.get(hoveredNode.id) : undefined;
  const hoveredIsEngine = hoveredNode?.kind === 'engine' || hoveredNode?.kind === 'worker';

  return (
    <>
      <Legend topo={topo} colorBy={opts.colorBy} thresholds={thresholds} theme={theme} styles={styles} />

      {(notices.length > 0 || messages.length > 0) && (
        <div className={styles.notices} role="alert">
          {messages.map((m, i) => (
            <div key={`m${i}`}>{m}</div>
          ))}
          {notices.map((n, i) => (
            <div key={i}>{n.text}</div>
          ))}
        </div>
      )}

      {topo.nodes.size === 0 ? (
        <div className={styles.empty} role="status">
          {emptyText}
        </div>
      ) : (
        <div className={styles.scroll} onClick={clearAll}>
          <div className={styles.canvas} style={{ width: layout.width, height: layout.height }}>
            <Graph
              layout={layout}
              colors={colors}
              related={related}
              styles={styles}
              theme={theme}
              onHover={setHovered}
              onSelectGpu={onSelectGpu}
              onSelectEngine={onSelectEngine}
            />
            {/* Always there, moved and shown: a click changes one element's style, inserts nothing. */}
            <div
              className={styles.selection}
              aria-hidden="true"
              style={
                selectedBox
                  ? { left: selectedBox.x, top: selectedBox.y, width: selectedBox.w, height: selectedBox.h }
                  : { left: 0, top: 0, width: 0, height: 0, visibility: 'hidden' }
              }
            />
            {hoveredNode && hoveredBox && (
              <NodeTooltip
                topo={topo}
                node={hoveredNode}
                box={hoveredBox}
                canvasWidth={layout.width}
                styles={styles}
                hint={hoveredIsEngine && engineLink.trim() ? 'Click for the engine dashboard link' : undefined}
              />
            )}
            {engine && engineBox && (
              <EngineCard
                topo={topo}
                engine={engine}
                box={engineBox}
                canvasWidth={layout.width}
                styles={styles}
                href={engineHref(engine)}
                onClose={closeEngine}
              />
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
          gpuHref={buildLink(
            gpuLink,
            gpuLinkFields(selectedGpu, selected?.focus ? topo.nodes.get(selected.focus) : undefined),
            replaceVariables
          )}
          engineHref={engineHref}
          onClose={closeDrillDown}
        />
      )}
    </>
  );
}
