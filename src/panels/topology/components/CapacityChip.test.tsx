import React from 'react';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { EventBusSrv, LoadingState, type DataFrame, type PanelProps, dateTime } from '@grafana/data';

import { framesOf, loadFixture } from '../../../testing/fixtures';
import type { SidecarQueryResponse } from '../../../datasource/types';
import { readPanelInput } from '../source';
import {
  FLEET_REFIDS,
  HOST_REFIDS,
  type Sample,
  fleetAnswers,
  onlyHosts,
  pick,
  tableFrames,
} from '../testing/prometheus';
import { fleetTopology } from '../prometheus/topology';
import { DEFAULT_OPTIONS, type TopologyOptions } from '../types';
import { TopologyPanel } from './TopologyPanel';

// The capacity model's families as the fleet dashboard's `gpu_capacity` / `gpu_capacity_since` queries return
// them for one host: every state's series per GPU, the current one 1.
const HOST = 'sim-0002';
const SINCE = 1_764_699_000;
const STATES = ['free', 'idle-held', 'busy', 'unavailable'];

function capacityAnswers(current: Record<string, string>): Record<string, Sample[]> {
  const gpu = (uuid: string) => ({ host: HOST, gpu_uuid: uuid, gpu_index: uuid.split('-')[2] });
  return {
    gpu_capacity: Object.entries(current).flatMap(([uuid, state]) =>
      STATES.map((s) => ({
        metric: { __name__: 'gpufleet_gpu_capacity_state', ...gpu(uuid), state: s },
        value: s === state ? '1' : '0',
      }))
    ),
    gpu_capacity_since: Object.keys(current).map((uuid) => ({
      metric: { __name__: 'gpufleet_gpu_capacity_state_since_timestamp_seconds', ...gpu(uuid) },
      value: String(SINCE),
    })),
  };
}

// GPUs 0 and 1 carry a TP2 engine, 2 and 3 are free in the synthetic fleet; GPU 5 has no capacity series.
const CURRENT = { 'GPU-2-0': 'idle-held', 'GPU-2-1': 'busy', 'GPU-2-2': 'free', 'GPU-2-3': 'unavailable' };

function answers(): Record<string, Sample[]> {
  const fleet = onlyHosts(fleetAnswers({ hosts: 3 }), [HOST]);
  return { ...pick(fleet, [...FLEET_REFIDS, ...HOST_REFIDS]), ...capacityAnswers(CURRENT) };
}

function renderPanel(series: DataFrame[], replaceVariables = (s: string) => s.replace(/\$\{host(?::\w+)?\}|\$host/g, HOST)) {
  const to = dateTime('2026-12-02T18:00:00Z');
  const range = { from: dateTime('2026-12-02T17:00:00Z'), to, raw: { from: 'now-1h', to: 'now' } };
  const props = {
    id: 1,
    data: { state: LoadingState.Done, series, timeRange: range },
    timeRange: range,
    timeZone: 'utc',
    options: { ...DEFAULT_OPTIONS },
    transparent: false,
    width: 1400,
    height: 800,
    fieldConfig: { defaults: {}, overrides: [] },
    renderCounter: 0,
    title: 'Fleet',
    eventBus: new EventBusSrv(),
    onOptionsChange: jest.fn(),
    onFieldConfigChange: jest.fn(),
    // The host variable set to the one host: the panel opens it.
    replaceVariables,
    onChangeTimeRange: jest.fn(),
  } as unknown as PanelProps<TopologyOptions>;
  return render(<TopologyPanel {...props} />);
}

describe('capacity chips on GPU nodes (Prometheus path)', () => {
  it('reads the state of the series that is 1, and its since timestamp; the 0 series are no duplicates', () => {
    const input = readPanelInput(tableFrames(answers()), 'cluster');
    if (input.source !== 'prometheus') {
      throw new Error('not read as Prometheus');
    }
    expect(input.fleet.warnings).toEqual([]);
    const topo = fleetTopology(input.fleet, [HOST], []);
    const byUuid = new Map(topo.gpus.map((g) => [g.detail.uuid, g.detail]));
    for (const [uuid, state] of Object.entries(CURRENT)) {
      expect({ uuid, state: byUuid.get(uuid)?.capacityState, since: byUuid.get(uuid)?.capacitySince }).toEqual({
        uuid,
        state,
        // The family's seconds, held as ms since the epoch (the sidecar frames' unit): one model for both.
        since: SINCE * 1000,
      });
    }
    // No capacity series: no state, never a guessed one.
    expect(byUuid.get('GPU-2-5')?.capacityState).toBeUndefined();
  });

  it('draws a chip with the state beside each GPU that has one, and the state with its start in the tooltip', async () => {
    renderPanel(tableFrames(answers()));
    const gpu = (i: number) => screen.getByRole('button', { name: `gpu GPU ${i}` });
    expect(within(gpu(0)).getByText('idle-held')).toHaveAttribute('title', expect.stringMatching(/^Idle-held: /));
    expect(within(gpu(1)).getByText('busy')).toBeInTheDocument();
    expect(within(gpu(2)).getByText('free')).toBeInTheDocument();
    expect(within(gpu(3)).getByText('unavailable')).toBeInTheDocument();
    for (const state of STATES) {
      expect(within(gpu(5)).queryByText(state)).toBeNull();
    }
    await userEvent.hover(gpu(0));
    expect(within(screen.getByRole('tooltip')).getByText('Capacity').nextSibling).toHaveTextContent(
      `idle-held since ${new Date(SINCE * 1000).toLocaleString()}`
    );
  });

  it('an unknown state draws no chip (a label value from Prometheus is untrusted)', () => {
    const a = answers();
    a.gpu_capacity = a.gpu_capacity.map((s) =>
      s.metric.gpu_uuid === 'GPU-2-0' && s.value === '1' ? { ...s, metric: { ...s.metric, state: '<b>hacked</b>' } } : s
    );
    renderPanel(tableFrames(a));
    expect(within(screen.getByRole('button', { name: 'gpu GPU 0' })).queryByText(/hacked/)).toBeNull();
    expect(within(screen.getByRole('button', { name: 'gpu GPU 2' })).getByText('free')).toBeInTheDocument();
  });
});

/**
 * The sidecar's own topology frames (RECORDED from the demo host, tests/fixtures/sidecar-api): each GPU node
 * carries the tick's capacity state, so a single host without Prometheus shows the same chips. The expected
 * states are read from the recorded JSON itself, not through the panel's reader.
 */
describe('capacity chips on GPU nodes (the sidecar\'s frames)', () => {
  function recorded(): Array<{ title: string; uuid: string; state: string; since: number; reason: string | null }> {
    const frame = loadFixture<SidecarQueryResponse>('query-topology.json').results.A?.frames?.[0];
    if (!frame?.schema || !frame.data) {
      throw new Error('query-topology.json has no nodes frame');
    }
    const { schema, data } = frame;
    const col = (name: string) => data.values[schema.fields.findIndex((f) => f.name === name)] as unknown[];
    return col('id').flatMap((id, i) =>
      col('kind')[i] === 'gpu'
        ? [
            {
              title: String(col('title')[i]),
              uuid: String(col('detail__uuid')[i]),
              state: String(col('detail__capacityState')[i]),
              since: Number(col('detail__capacitySince')[i]),
              reason: (col('detail__capacityReason')[i] as string | null) ?? null,
            },
          ]
        : []
    );
  }

  it('the recorded demo host has free and busy GPUs, each with a since time', () => {
    const gpus = recorded();
    expect(gpus).toHaveLength(8);
    expect(new Set(gpus.map((g) => g.state))).toEqual(new Set(['free', 'busy']));
    for (const g of gpus) {
      expect(g.since).toBeGreaterThan(Date.parse('2026-01-01T00:00:00Z'));
    }
  });

  it('reads state, since (ms) and reason into the same model as the Prometheus path', () => {
    const input = readPanelInput(framesOf('query-topology.json'), 'cluster');
    if (input.source !== 'sidecar') {
      throw new Error('not read as the sidecar\'s frames');
    }
    const byUuid = new Map(input.topo.gpus.map((g) => [g.detail.uuid, g.detail]));
    for (const g of recorded()) {
      const d = byUuid.get(g.uuid);
      expect({ uuid: g.uuid, state: d?.capacityState, since: d?.capacitySince, reason: d?.capacityReason ?? null }).toEqual({
        uuid: g.uuid,
        state: g.state,
        since: g.since,
        reason: g.reason,
      });
    }
  });

  it('draws the chip beside every GPU, with its start and reason in the tooltip', async () => {
    renderPanel(framesOf('query-topology.json'), (s) => s);
    for (const g of recorded()) {
      expect(within(screen.getByRole('button', { name: `gpu ${g.title}` })).getByText(g.state)).toHaveAttribute(
        'title',
        expect.stringMatching(g.state === 'free' ? /^Free: / : /^Busy: /)
      );
    }
    const busy = recorded().find((g) => g.state === 'busy' && g.reason)!;
    await userEvent.hover(screen.getByRole('button', { name: `gpu ${busy.title}` }));
    const tip = within(screen.getByRole('tooltip'));
    expect(tip.getByText('Capacity').nextSibling).toHaveTextContent(`busy since ${new Date(busy.since).toLocaleString()}`);
    expect(tip.getByText('Why').nextSibling).toHaveTextContent(busy.reason!);
  });
});
