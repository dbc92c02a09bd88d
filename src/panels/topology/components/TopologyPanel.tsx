import React, { useCallback, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { LoadingState, type PanelProps, type ThresholdsConfig } from '@grafana/data';
import { locationService } from '@grafana/runtime';
import { Alert, Button, LoadingPlaceholder, useStyles2 } from '@grafana/ui';

import { FleetLevel } from './FleetLevel';
import { getTopologyStyles } from './styles';
import { TopologyView } from './TopologyView';
import { type Capped, capTopology, omittedText } from '../cap';
import { normaliseThresholds } from '../format';
import type { Topology } from '../model';
import type { Fleet, FleetHost } from '../prometheus/fleet';
import { type Tile, tileGroups, fleetWarnings } from '../prometheus/tiles';
import { fleetTopology, fleetTopologyCapped, missingFamilies } from '../prometheus/topology';
import { MEANINGS } from '../prometheus/contract';
import { errorMessages, filterIsSet, hasVariable, readPanelInput, singleValue } from '../source';
import { type TopologyOptions, withDefaults } from '../types';

type Props = PanelProps<TopologyOptions>;

/** The fleet level as drawn: the fleet it was read from, its tiles, its notices. */
interface FleetShown {
  fleet: Fleet;
  groups: Array<{ group: string; tiles: Tile[] }>;
  messages: string[];
}

const NO_MESSAGES: string[] = [];

/**
 * The panel: picks the level of detail and hands one Topology to one view.
 * - sidecar frames: that host's topology;
 * - Prometheus frames: a host chosen (tile click, or the host variable holding one host) → that host;
 *   else host tiles when the recording-rule frames are there and no filter variable is set;
 *   else the topology across the hosts the queries returned. Every topology goes through the node cap.
 */
export function TopologyPanel({ data, width, height, options, fieldConfig, replaceVariables }: Props) {
  const styles = useStyles2(getTopologyStyles);
  const opts = useMemo(() => withDefaults(options), [options]);
  const thresholds: ThresholdsConfig = useMemo(
    () => normaliseThresholds(fieldConfig?.defaults?.thresholds),
    [fieldConfig?.defaults?.thresholds]
  );
  // On the grouping label's value, not on replaceVariables: a host may pass a new function on every render,
  // and reading 10,000 rows again for each would cost the next render (a click's) a frame or more.
  const groupBy = replaceVariables(opts.fleetGroupBy ?? '');
  // While a run loads, Grafana hands the previous answer's frames again (field config applied anew: new
  // arrays, the same rows); what was read from them still holds, and reading them again would delay the
  // frame that shows the run started (a click's host placeholder). `settled`: the last answer not loading.
  const [settled, setSettled] = useState(data.series);
  const loading = data.state === LoadingState.Loading;
  if (!loading && settled !== data.series) {
    setSettled(data.series);
  }
  const readSeries = loading && settled.length > 0 ? settled : data.series;
  const input = useMemo(() => readPanelInput(readSeries, groupBy), [readSeries, groupBy]);
  const varHost = singleValue(replaceVariables, opts.hostVariable);
  const filterSet = filterIsSet(replaceVariables, opts.filterVariables);
  // A host picked on a tile holds while the host variable stays as it was then, or names that host; a
  // host picked in the variable's own dropdown replaces it. `series`: the answer the pick was made on.
  const [pickedAt, setPickedAt] = useState<{
    key: string;
    varHost: string | undefined;
    series: PanelProps['data']['series'];
  } | null>(null);

  const fleet = input.source === 'prometheus' ? input.fleet : undefined;
  const groups = useMemo(() => (fleet ? tileGroups(fleet) : []), [fleet]);
  const hostKey = useMemo(() => {
    if (!fleet) {
      return undefined;
    }
    const picked = pickedAt ? fleet.hosts.get(pickedAt.key) : undefined;
    if (picked && (pickedAt!.varHost === varHost || picked.host === varHost)) {
      return picked.key;
    }
    if (varHost) {
      const keys = Array.from(fleet.hosts.values())
        .filter((h) => h.host === varHost)
        .map((h) => h.key)
        .sort();
      return keys[0] ?? varHost;
    }
    return undefined;
  }, [fleet, pickedAt, varHost]);
  const level: 'topology' | 'fleet' | 'host' =
    input.source !== 'prometheus'
      ? 'topology'
      : hostKey
        ? 'host'
        : groups.length > 0 && !filterSet
          ? 'fleet'
          : 'topology';

  const errors = useMemo(() => errorMessages(data.errors), [data.errors]);

  // The fleet level stays mounted, hidden, under a host or a filter: a click on a tile unmounts none of
  // its thousand tiles (React's deletions, the browser's style and paint of the removed subtree), and
  // "All hosts" shows it again at once, from the answer it was drawn from, while the fleet-level run loads.
  const fleetMessages = useMemo(
    () =>
      level === 'fleet' && fleet && input.source === 'prometheus'
        ? [...errors, ...fleet.warnings, ...fleetWarnings(fleet), ...input.notices.map((n) => n.text)]
        : NO_MESSAGES,
    [level, fleet, input, errors]
  );
  const [fleetShown, setFleetShown] = useState<FleetShown | null>(null);
  // Back from a host: until the fleet-level run answers, the rows on hand are the host's (one tile).
  const [backFrom, setBackFrom] = useState<PanelProps['data']['series'] | null>(null);
  const awaitingFleet = backFrom !== null && (loading || data.series === backFrom);
  if (backFrom !== null && !awaitingFleet) {
    setBackFrom(null);
  }
  if (level === 'fleet' && fleet && !awaitingFleet && fleetShown?.fleet !== fleet) {
    setFleetShown({ fleet, groups, messages: fleetMessages });
  }
  const fleetVisible = level === 'fleet';

  // The host's own answer is on its way (a pick made on the fleet-level answer, whose rows name no GPU or
  // engine of it, or a run in progress): the host level waits for it instead of drawing the host once from
  // rows that cannot hold it and again when they come.
  const awaitingHost =
    level === 'host' &&
    input.source === 'prometheus' &&
    !hasDetail(input.fleet.hosts.get(hostKey!)) &&
    (data.state === LoadingState.Loading ||
      (pickedAt !== null && pickedAt.series === data.series && hasVariable(replaceVariables, opts.hostVariable)));

  const view = useMemo((): { topo: Topology; messages: string[] } | undefined => {
    if (input.source === 'sidecar') {
      return withCap(input.topo, opts.nodeCap, errors);
    }
    if (input.source !== 'prometheus' || level === 'fleet' || awaitingHost) {
      return undefined;
    }
    const f = input.fleet;
    const messages = [...errors, ...f.warnings];
    if (hostKey) {
      const host = f.hosts.get(hostKey);
      if (!host) {
        messages.push(`No rows for host ${hostKey}: check that its sidecar is scraped, or pick another host.`);
      } else {
        for (const refId of missingFamilies(f, host)) {
          const m = MEANINGS.get(refId)!;
          messages.push(
            `${host.key}: no ${m.what} (${m.metric}) while other hosts have it: its sidecar may be older than theirs, or its scrape failed.`
          );
        }
      }
    }
    if (hostKey) {
      return withCap(fleetTopology(f, [hostKey], input.notices), opts.nodeCap, messages);
    }
    return capMessage(fleetTopologyCapped(f, opts.nodeCap, input.notices), opts.nodeCap, messages);
  }, [input, level, hostKey, opts.nodeCap, errors, awaitingHost]);

  const selectHost = useCallback(
    (key: string) => {
      setPickedAt({ key, varHost, series: data.series });
      const host = (fleetShown?.fleet ?? fleet)?.hosts.get(key)?.host;
      // The dashboard's hook: its queries can narrow to {host="$host"}.
      if (host && opts.hostVariable.trim()) {
        locationService.partial({ [`var-${opts.hostVariable.trim().replace(/^\$/, '')}`]: host });
      }
    },
    [fleet, fleetShown, opts.hostVariable, varHost, data.series]
  );
  // The tiles get one function for the panel's life: a new one would render all of them again, hidden or not.
  const selectRef = useRef(selectHost);
  useLayoutEffect(() => {
    selectRef.current = selectHost;
  });
  const onSelectTile = useCallback((key: string) => selectRef.current(key), []);
  const backToFleet = useCallback(() => {
    setPickedAt(null);
    if (hasVariable(replaceVariables, opts.hostVariable)) {
      setBackFrom(data.series);
      locationService.partial({ [`var-${opts.hostVariable.trim().replace(/^\$/, '')}`]: '$__all' });
    }
  }, [replaceVariables, opts.hostVariable, data.series]);

  if (input.source === 'none' || (input.source === 'prometheus' && !view && level !== 'fleet' && !awaitingHost)) {
    if (data.state === LoadingState.Loading) {
      return (
        <div className={styles.center} style={{ width, height }}>
          <LoadingPlaceholder text="Loading topology…" />
        </div>
      );
    }
    if (errors.length > 0) {
      return (
        <div className={styles.center} style={{ width, height }}>
          <Alert severity="error" title="The topology query failed">
            {errors.map((e) => (
              <div key={e}>{e}</div>
            ))}
          </Alert>
        </div>
      );
    }
    return (
      <div className={styles.center} style={{ width, height }}>
        <div className={styles.empty} role="status">
          {data.series.length === 0
            ? 'No topology data. Query the gpufleet sidecar data source with the query kind "Topology", or Prometheus with the instant table queries of the README ("Topology panel on Prometheus").'
            : 'These results are not a topology: no nodes frame (set the query kind to "Topology") and no Prometheus rows the panel reads (README, "Topology panel on Prometheus").'}
          {input.source === 'none' &&
            input.warnings.map((w) => (
              <div key={w} className={styles.hint}>
                {w}
              </div>
            ))}
        </div>
      </div>
    );
  }

  const crumbs =
    input.source === 'prometheus' && (level === 'host' || (level === 'topology' && groups.length > 0)) ? (
      <div className={styles.crumbs}>
        <Button size="sm" variant="secondary" fill="text" icon="arrow-left" onClick={backToFleet}>
          All hosts
        </Button>
        <span>{level === 'host' ? hostKey : 'Topology across the hosts the filter returned'}</span>
      </div>
    ) : null;

  // Back from a host, the tiles as last drawn; else (and when none were drawn yet) the current answer's.
  const shown =
    fleetVisible && fleet && !(awaitingFleet && fleetShown) ? { fleet, groups, messages: fleetMessages } : fleetShown;
  const fleetLevel = shown ? (
    <FleetLevel
      groups={shown.groups}
      groupLabel={shown.fleet.groupLabel}
      colorBy={opts.tileColorBy}
      thresholds={thresholds}
      messages={fleetVisible ? shown.messages : NO_MESSAGES}
      onSelect={onSelectTile}
      width={width}
      height={height}
      hidden={!fleetVisible}
    />
  ) : null;
  if (fleetVisible) {
    return <>{fleetLevel}</>;
  }

  return (
    <>
      {fleetLevel}
      <div className={styles.root} style={{ width, height }} data-testid="gpufleet-topology">
        {crumbs}
        {awaitingHost && (
          <div className={styles.center} data-testid="gpufleet-host-loading">
            <LoadingPlaceholder text={`Loading ${hostKey}…`} />
          </div>
        )}
        {view && (
          <TopologyView
            // A new level or host starts with nothing selected.
            key={level === 'host' ? `host:${hostKey}` : level}
            topo={view.topo}
            width={width}
            opts={opts}
            thresholds={thresholds}
            replaceVariables={replaceVariables}
            messages={view.messages}
            emptyText={
              input.source === 'sidecar'
                ? 'The sidecar reports no GPUs and no engines.'
                : level === 'host'
                  ? `Prometheus returned no GPUs and no engines for ${hostKey}.`
                  : 'Prometheus returned no GPUs and no engines for this filter.'
            }
          />
        )}
      </div>
    </>
  );
}

/** Whether the rows hold anything of the host below its tile: a GPU, MIG or vGPU instance, an engine, an edge. */
function hasDetail(host: FleetHost | undefined): boolean {
  return Boolean(host && Object.values(host.detail).some((m: Map<string, unknown>) => m.size > 0));
}

/** The topology under the node cap, and what the cap left out, in words. */
function withCap(topo: Topology, cap: number, messages: string[]): { topo: Topology; messages: string[] } {
  return capMessage(capTopology(topo, cap), cap, messages);
}

function capMessage(capped: Capped, cap: number, messages: string[]): { topo: Topology; messages: string[] } {
  if (!capped.omitted) {
    return { topo: capped.topo, messages };
  }
  const o = capped.omitted;
  return {
    topo: capped.topo,
    messages: [
      ...messages,
      `${o.total} more not drawn — narrow the filter (a host, a model or an engine) or raise the node cap (${cap}). Not drawn: ${omittedText(o)}.`,
    ],
  };
}
