import React, { useEffect, useRef } from 'react';
import { css, cx } from '@emotion/css';
import type { GrafanaTheme2, ThresholdsConfig } from '@grafana/data';
import { Badge, IconButton, LinkButton, useStyles2, useTheme2 } from '@grafana/ui';

import { Bar as MeterLine } from './Bar';
import { colorForPercent, formatBytes, formatNumber, formatPercent, text } from '../format';
import { type Topology, type TopoNode, bool, num, ratioPercent } from '../model';

interface Props {
  topo: Topology;
  gpu: TopoNode;
  /** An instance to highlight (the chip that was clicked). */
  focusId?: string;
  thresholds: ThresholdsConfig;
  /** The "GPU link" for this GPU; none when the option is empty. */
  gpuHref?: string;
  /** The "Engine link" for an engine; undefined when the option is empty. */
  engineHref: (engine: TopoNode) => string | undefined;
  onClose: () => void;
}

/** Engines (and their ranks) running on this GPU or on one of its instances. */
function enginesOn(topo: Topology, gpu: TopoNode): Array<{ engine: TopoNode; rank?: string; on: TopoNode }> {
  const targets = [gpu, ...(topo.instancesByGpu.get(gpu.id) ?? [])];
  const out: Array<{ engine: TopoNode; rank?: string; on: TopoNode }> = [];
  for (const t of targets) {
    for (const src of topo.incoming.get(t.id) ?? []) {
      const s = topo.nodes.get(src);
      if (s?.kind === 'engine') {
        out.push({ engine: s, on: t });
      } else if (s?.kind === 'worker') {
        for (const e of topo.incoming.get(s.id) ?? []) {
          const engine = topo.nodes.get(e);
          if (engine?.kind === 'engine') {
            out.push({ engine, rank: text(s.detail.rank ?? s.title), on: t });
          }
        }
      }
    }
  }
  return out;
}

/**
 * One GPU in detail: its figures, the engines on it, and every MIG and vGPU instance (including
 * the ones the row had no room to draw), with memory / utilization / framebuffer bars.
 */
export function DrillDown({ topo, gpu, focusId, thresholds, gpuHref, engineHref, onClose }: Props) {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    // Focus (for the keyboard: Escape, Tab to the link) after the drill-down's first paint and without
    // scrolling: a synchronous focus() forces style and layout inside the click.
    const t = requestAnimationFrame(() => closeRef.current?.focus({ preventScroll: true }));
    return () => cancelAnimationFrame(t);
  }, [gpu.id]);

  const d = gpu.detail;
  const instances = topo.instancesByGpu.get(gpu.id) ?? [];
  const migs = instances.filter((n) => n.kind === 'mig');
  const vgpus = instances.filter((n) => n.kind === 'vgpu');
  const util = num(d.utilizationGpu);
  const mem = ratioPercent(d.memoryUsedBytes, d.memoryTotalBytes);
  const engines = enginesOn(topo, gpu);
  const color = (v: number | undefined) => colorForPercent(v, thresholds, theme);

  return (
    <aside
      className={styles.pane}
      role="dialog"
      aria-label={`GPU ${gpu.title} details`}
      onKeyDown={(e) => e.key === 'Escape' && onClose()}
    >
      <header className={styles.header}>
        <div>
          <div className={styles.title}>{gpu.title}</div>
          <div className={styles.sub}>{[gpu.subtitle, text(d.host)].filter((s) => s && s !== '—').join(' · ')}</div>
        </div>
        <div className={styles.actions}>
          {gpuHref && (
            <LinkButton href={gpuHref} size="sm" variant="secondary" icon="apps">
              Open GPU dashboard
            </LinkButton>
          )}
          {/* aria-label, not tooltip: IconButton's tooltip mounts a floating-ui Tooltip whose position
              updates re-render it several times in the frames after the click. */}
          <IconButton ref={closeRef} name="times" aria-label="Close GPU details" onClick={onClose} />
        </div>
      </header>

      <dl className={styles.figures}>
        <dt>Utilization</dt>
        <dd>
          <MeterLine percent={util} color={color(util)} label="GPU utilization" valueText={formatPercent(util)} />
        </dd>
        <dt>Memory</dt>
        <dd>
          <MeterLine
            percent={mem}
            color={color(mem)}
            label="GPU memory"
            valueText={`${formatBytes(d.memoryUsedBytes)} / ${formatBytes(d.memoryTotalBytes)}`}
          />
        </dd>
        <dt>Temperature</dt>
        <dd>{formatNumber(d.temperatureC, '°C')}</dd>
        <dt>Power</dt>
        <dd>{formatNumber(d.powerW, 'W')}</dd>
        <dt>MIG mode</dt>
        <dd>{text(d.migMode)}</dd>
        <dt>vGPU host mode</dt>
        <dd>{text(d.vgpuHostMode)}</dd>
        <dt>UUID</dt>
        <dd className={styles.uuid}>{text(d.uuid ?? gpu.id)}</dd>
      </dl>

      <section aria-label="Engines on this GPU">
        <h4 className={styles.h}>Engines on this GPU ({engines.length})</h4>
        {engines.length === 0 ? (
          <div className={styles.muted}>No engine runs here.</div>
        ) : (
          <ul className={styles.list}>
            {engines.map(({ engine, rank, on }) => {
              const href = engineHref(engine);
              return (
                <li key={`${engine.id}-${rank}-${on.id}`}>
                  {href ? (
                    <a href={href} className={styles.link} title="Open engine dashboard">
                      {engine.title}
                    </a>
                  ) : (
                    engine.title
                  )}
                  {rank !== undefined ? ` · rank ${rank}` : ''}
                  {on.kind !== 'gpu' ? ` · on ${on.title}` : ''}
                </li>
              );
            })}
          </ul>
        )}
      </section>

      <section aria-label="MIG instances">
        <h4 className={styles.h}>MIG instances ({migs.length})</h4>
        {migs.length === 0 ? (
          <div className={styles.muted}>
            {d.migMode === 'enabled' ? 'MIG is enabled but no instance exists.' : 'No MIG instances.'}
          </div>
        ) : (
          <table className={styles.table}>
            <thead>
              <tr>
                <th>Profile</th>
                <th>GI / CI</th>
                <th>Memory</th>
              </tr>
            </thead>
            <tbody>
              {migs.map((m) => {
                const p = ratioPercent(m.detail.memoryUsedBytes, m.detail.memoryTotalBytes);
                return (
                  <tr key={m.id} data-testid="gpufleet-drill-mig" className={cx(m.id === focusId && styles.focus)}>
                    <td>{text(m.detail.profile ?? m.title)}</td>
                    <td>
                      {text(m.detail.gpuInstanceId)} / {text(m.detail.computeInstanceId)}
                    </td>
                    <td>
                      <MeterLine
                        percent={p}
                        color={color(p)}
                        label={`${text(m.detail.profile ?? m.title)} memory`}
                        valueText={`${formatBytes(m.detail.memoryUsedBytes)} / ${formatBytes(m.detail.memoryTotalBytes)}`}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>

      <section aria-label="vGPU instances">
        <h4 className={styles.h}>vGPU instances ({vgpus.length})</h4>
        {vgpus.length === 0 ? (
          <div className={styles.muted}>No vGPU instances.</div>
        ) : (
          <table className={styles.table}>
            <thead>
              <tr>
                <th>Type</th>
                <th>VM</th>
                <th>Utilization</th>
                <th>Framebuffer</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {vgpus.map((v) => {
                const u = num(v.detail.utilizationGpu);
                const fb = ratioPercent(v.detail.framebufferUsedBytes, v.detail.framebufferTotalBytes);
                const active = bool(v.detail.active);
                const licensed = bool(v.detail.licensed);
                const vm = text(v.detail.vmName);
                return (
                  <tr key={v.id} data-testid="gpufleet-drill-vgpu" className={cx(v.id === focusId && styles.focus)}>
                    <td className={styles.type}>{text(v.detail.type ?? v.title)}</td>
                    <td>
                      <div>{vm}</div>
                      <div className={cx(styles.muted, styles.vmId)} title={text(v.detail.vmId)}>
                        VM id {text(v.detail.vmId)}
                      </div>
                    </td>
                    <td>
                      <MeterLine
                        percent={u}
                        color={color(u)}
                        label={`${vm} utilization`}
                        valueText={formatPercent(u)}
                      />
                    </td>
                    <td>
                      <MeterLine
                        percent={fb}
                        color={color(fb)}
                        label={`${vm} framebuffer`}
                        valueText={`${formatBytes(v.detail.framebufferUsedBytes)} / ${formatBytes(v.detail.framebufferTotalBytes)}`}
                      />
                    </td>
                    <td className={styles.badges}>
                      <Badge
                        text={active === undefined ? 'active ?' : active ? 'active' : 'inactive'}
                        color={active ? 'green' : active === false ? 'red' : 'orange'}
                      />
                      <Badge
                        text={licensed === undefined ? 'licence ?' : licensed ? 'licensed' : 'unlicensed'}
                        color={licensed ? 'green' : licensed === false ? 'red' : 'orange'}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </aside>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  pane: css({
    position: 'absolute',
    top: 0,
    right: 0,
    bottom: 0,
    width: 'min(720px, 92%)',
    overflowY: 'auto',
    background: theme.colors.background.primary,
    borderLeft: `1px solid ${theme.colors.border.medium}`,
    boxShadow: theme.shadows.z3,
    padding: theme.spacing(1.5),
    zIndex: 3,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  header: css({
    display: 'flex',
    justifyContent: 'space-between',
    alignItems: 'flex-start',
    marginBottom: theme.spacing(1),
  }),
  title: css({ fontSize: theme.typography.h5.fontSize, fontWeight: theme.typography.fontWeightMedium }),
  actions: css({ display: 'flex', alignItems: 'center', gap: theme.spacing(1), flexShrink: 0 }),
  link: css({ color: theme.colors.text.link, '&:hover': { textDecoration: 'underline' } }),
  sub: css({ color: theme.colors.text.secondary }),
  figures: css({
    display: 'grid',
    gridTemplateColumns: 'max-content 1fr',
    gap: `${theme.spacing(0.5)} ${theme.spacing(2)}`,
    margin: `0 0 ${theme.spacing(1.5)}`,
    dt: { color: theme.colors.text.secondary },
    dd: { margin: 0 },
  }),
  // The panel's font, not the monospace one: on a dashboard that has not used that web font yet, the
  // first drill-down would fetch it, and Chromium relays out every label of the graph when it arrives.
  uuid: css({ wordBreak: 'break-all', fontVariantNumeric: 'tabular-nums' }),
  h: css({ fontSize: theme.typography.body.fontSize, margin: `${theme.spacing(1.5)} 0 ${theme.spacing(0.5)}` }),
  muted: css({ color: theme.colors.text.secondary }),
  list: css({ margin: 0, paddingLeft: theme.spacing(2) }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    'th, td': {
      textAlign: 'left',
      padding: `${theme.spacing(0.5)} ${theme.spacing(0.75)}`,
      borderBottom: `1px solid ${theme.colors.border.weak}`,
      verticalAlign: 'middle',
    },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium },
  }),
  focus: css({ background: theme.colors.action.selected }),
  // "NVIDIA H100XM-20C" may break at its space: the table has to fit the pane.
  type: css({ minWidth: 72, overflowWrap: 'anywhere' }),
  // VM ids are often UUIDs: one line, cut with an ellipsis (the whole id is in the title and the text).
  vmId: css({ maxWidth: 140, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }),
  badges: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(0.5), alignItems: 'flex-start' }),
});
