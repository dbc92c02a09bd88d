import React from 'react';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  type DataFrame,
  type DataQueryError,
  EventBusSrv,
  LoadingState,
  type PanelProps,
  createTheme,
  dateTime,
} from '@grafana/data';
import { locationService } from '@grafana/runtime';

import { FLEET_REFIDS, HOST_REFIDS, fleetAnswers, onlyHosts, pick, tableFrames } from '../testing/prometheus';
import { DEFAULT_OPTIONS, type TopologyOptions } from '../types';
import { TopologyPanel } from './TopologyPanel';

const theme = createTheme();
const RED = theme.visualization.getColorByName('red');
const ORANGE = theme.visualization.getColorByName('orange');
const GREEN = theme.visualization.getColorByName('green');
const NO_DATA = theme.colors.border.strong;
const colour = (percent: number) => (percent >= 85 ? RED : percent >= 60 ? ORANGE : GREEN);

/** Grafana's interpolation of the dashboard variables given (All: text "All", raw "$__all"); others stay as written. */
function variables(values: Record<string, string>) {
  return (s: string) =>
    s.replace(/\$\{(\w+)(?::(\w+))?\}|\$(\w+)/g, (m, braced?: string, fmt?: string, bare?: string) => {
      const name = braced ?? bare ?? '';
      if (!(name in values)) {
        return m;
      }
      const v = values[name];
      return v === 'All' ? (fmt === 'text' ? 'All' : '$__all') : v;
    });
}

function panelProps(
  series: DataFrame[],
  {
    options = {},
    vars = {},
    errors,
    width = 1400,
  }: {
    options?: Partial<TopologyOptions>;
    vars?: Record<string, string>;
    errors?: DataQueryError[];
    width?: number;
  } = {}
) {
  const to = dateTime('2026-12-02T18:00:00Z');
  const props = {
    id: 1,
    data: {
      state: LoadingState.Done,
      series,
      errors,
      timeRange: { from: dateTime('2026-12-02T17:00:00Z'), to, raw: { from: 'now-1h', to: 'now' } },
    },
    timeRange: { from: dateTime('2026-12-02T17:00:00Z'), to, raw: { from: 'now-1h', to: 'now' } },
    timeZone: 'utc',
    options: { ...DEFAULT_OPTIONS, ...options },
    transparent: false,
    width,
    height: 800,
    fieldConfig: { defaults: {}, overrides: [] },
    renderCounter: 0,
    title: 'Fleet',
    eventBus: new EventBusSrv(),
    onOptionsChange: jest.fn(),
    onFieldConfigChange: jest.fn(),
    replaceVariables: variables(vars),
    onChangeTimeRange: jest.fn(),
  } as unknown as PanelProps<TopologyOptions>;
  return props;
}

function renderPanel(series: DataFrame[], opts: Parameters<typeof panelProps>[1] = {}) {
  return render(<TopologyPanel {...panelProps(series, opts)} />);
}

// 12 hosts: host 0 and 10 MIG (no utilization), 1 and 11 vGPU, the others TP2 engines; racks by host number.
const answers = fleetAnswers({
  hosts: 12,
  extra: (h) => ({
    cluster: h < 8 ? 'east' : 'west',
    rack: `r${h % 3}`,
    job: 'gpufleet',
    instance: `10.0.0.${h}:9400`,
  }),
});
const dashboard = tableFrames(pick(answers, [...FLEET_REFIDS, ...HOST_REFIDS]));
const figure = (refId: string, host: string) => Number(answers[refId].find((s) => s.metric.host === host)?.value);

describe('TopologyPanel on Prometheus: fleet level', () => {
  beforeEach(() => locationService.replace('/d/gpufleet-fleet'));

  it('one tile per host, grouped by cluster, with their counts and a colour by load', () => {
    renderPanel(dashboard);
    const east = screen.getByRole('region', { name: 'cluster east' });
    const west = screen.getByRole('region', { name: 'cluster west' });
    expect(within(east).getAllByTestId('gpufleet-host')).toHaveLength(8);
    expect(within(west).getAllByTestId('gpufleet-host')).toHaveLength(4);
    expect(east).toHaveTextContent('8 hosts · 64 GPUs · 24 free · 68 engines');
    // A TP2 host: 8 GPUs, 4 free, 2 engines; a MIG host: 56 slices, 56 engines; a vGPU host: 16 VMs.
    expect(screen.getByRole('button', { name: 'host sim-0002' })).toHaveTextContent(
      'sim-00028 GPUs · 4 free · 2 engines'
    );
    expect(screen.getByRole('button', { name: 'host sim-0000' })).toHaveTextContent(
      '8 GPUs · 0 free · 56 MIG · 56 engines'
    );
    expect(screen.getByRole('button', { name: 'host sim-0001' })).toHaveTextContent(
      '8 GPUs · 0 free · 16 vGPU · 0 engines'
    );
    // Load: mean utilization; a MIG host (none reported) by its memory use.
    expect(screen.getByRole('button', { name: 'host sim-0009' })).toHaveAttribute(
      'data-color',
      colour(figure('host_util', 'sim-0009') * 100)
    );
    expect(colour(figure('host_util', 'sim-0009') * 100)).toBe(ORANGE);
    expect(screen.getByRole('button', { name: 'host sim-0010' })).toHaveAttribute(
      'data-color',
      colour(figure('host_mem', 'sim-0010') * 100)
    );
    expect(screen.getByText('12 hosts by cluster')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('groups by the label the option (or its variable) names; colours by firing alerts', () => {
    renderPanel(dashboard, { options: { fleetGroupBy: '$group', tileColorBy: 'alerts' }, vars: { group: 'rack' } });
    expect(screen.getAllByRole('region').map((r) => r.getAttribute('aria-label'))).toEqual([
      'rack r0',
      'rack r1',
      'rack r2',
    ]);
    // sim-0005 has 2 firing alerts.
    expect(screen.getByRole('button', { name: 'host sim-0005' })).toHaveAttribute('data-color', RED);
    expect(screen.getByRole('button', { name: 'host sim-0005' })).toHaveTextContent('2 firing');
    expect(screen.getByRole('button', { name: 'host sim-0004' })).toHaveAttribute('data-color', GREEN);
  });

  it('a host whose counts are missing is "no data", not an idle host, and the panel says why', () => {
    const partial = pick(answers, FLEET_REFIDS);
    for (const r of FLEET_REFIDS.filter((x) => x !== 'hosts')) {
      partial[r] = partial[r].filter((s) => s.metric.host !== 'sim-0004');
    }
    renderPanel(tableFrames(partial));
    const tile = screen.getByRole('button', { name: 'host sim-0004' });
    expect(tile).toHaveAttribute('data-color', NO_DATA);
    expect(tile).toHaveTextContent('— GPUs · — free · — engines');
    expect(screen.getByRole('alert')).toHaveTextContent('1 host has no gpufleet:host_* counts (sim-0004)');
  });

  it('click a tile → that host\'s topology, the dashboard\'s host variable set; "All hosts" goes back', async () => {
    renderPanel(dashboard);
    await userEvent.click(screen.getByRole('button', { name: 'host sim-0000' }));
    expect(locationService.getSearchObject()['var-host']).toBe('sim-0000');
    // Host level: only sim-0000's GPUs, its MIG slices as chips, its 56 engines.
    expect(screen.getAllByTestId('gpufleet-gpu')).toHaveLength(8);
    expect(screen.getAllByTestId('gpufleet-engine')).toHaveLength(56);
    expect(screen.getByText('56 engines · 56 ranks · 8 GPUs · 56 instances')).toBeInTheDocument();
    // The same drill-down as from the sidecar: MIG instances, engines on them, the GPU link with host and UUID.
    await userEvent.click(screen.getByRole('button', { name: 'gpu GPU 2' }));
    const drill = screen.getByRole('dialog', { name: 'GPU GPU 2 details' });
    expect(within(drill).getAllByTestId('gpufleet-drill-mig')).toHaveLength(7);
    expect(within(drill).getByText('Utilization').nextSibling).toHaveTextContent('—');
    expect(within(drill).getByRole('region', { name: 'Engines on this GPU' })).toHaveTextContent(
      'model-0 · rank 0 · on 1g.10gb'
    );
    expect(within(drill).getByRole('link', { name: 'Open GPU dashboard' })).toHaveAttribute(
      'href',
      '/d/gpufleet-gpu/gpu-detail?var-host=sim-0000&var-gpu=GPU-0-2&${__url_time_range}'
    );
    await userEvent.click(screen.getByRole('button', { name: 'All hosts' }));
    expect(screen.getAllByTestId('gpufleet-host')).toHaveLength(12);
  });

  it('a click on the fleet-level answer waits for the host\'s own, then draws the host once', async () => {
    const fleetLevel = tableFrames(pick(answers, FLEET_REFIDS));
    const { rerender } = renderPanel(fleetLevel, { vars: { host: 'All' } });
    await userEvent.click(screen.getByRole('button', { name: 'host sim-0003' }));
    expect(locationService.getSearchObject()['var-host']).toBe('sim-0003');
    // The fleet-level rows hold no GPU or engine of any host: no empty host drawn from them.
    expect(screen.getByTestId('gpufleet-host-loading')).toHaveTextContent('Loading sim-0003…');
    expect(screen.queryByText(/Prometheus returned no GPUs/)).toBeNull();
    expect(screen.queryAllByTestId('gpufleet-gpu')).toHaveLength(0);
    // The run the variable started: still waiting while it loads, on whatever rows the panel has.
    const loading = panelProps(fleetLevel, { vars: { host: 'sim-0003' } });
    rerender(<TopologyPanel {...loading} data={{ ...loading.data, state: LoadingState.Loading }} />);
    expect(screen.getByTestId('gpufleet-host-loading')).toBeInTheDocument();
    const hostLevel = tableFrames(pick(onlyHosts(answers, ['sim-0003']), [...FLEET_REFIDS, ...HOST_REFIDS]));
    rerender(<TopologyPanel {...panelProps(hostLevel, { vars: { host: 'sim-0003' } })} />);
    expect(screen.queryByTestId('gpufleet-host-loading')).toBeNull();
    expect(screen.getAllByTestId('gpufleet-gpu')).toHaveLength(8);
  });

  it('the fleet level stays mounted, hidden, under a host; "All hosts" shows it at once while the fleet-level run loads', async () => {
    const fleetLevel = tableFrames(pick(answers, FLEET_REFIDS));
    const { rerender } = renderPanel(fleetLevel, { vars: { host: 'All' } });
    const tile = screen.getByRole('button', { name: 'host sim-0003' });
    await userEvent.click(tile);
    const hostLevel = tableFrames(pick(onlyHosts(answers, ['sim-0003']), [...FLEET_REFIDS, ...HOST_REFIDS]));
    rerender(<TopologyPanel {...panelProps(hostLevel, { vars: { host: 'sim-0003' } })} />);
    expect(screen.getAllByTestId('gpufleet-gpu')).toHaveLength(8);
    // The same element, kept, out of reach: no tile is a button anyone can find at the host level.
    expect(tile.isConnected).toBe(true);
    expect(tile.closest('[aria-hidden="true"]')).not.toBeNull();
    expect(screen.queryAllByRole('button', { name: /^host / })).toHaveLength(0);
    await userEvent.click(screen.getByRole('button', { name: 'All hosts' }));
    expect(locationService.getSearchObject()['var-host']).toBe('$__all');
    // The run the variable started loads, on the host's rows (one tile): the fleet level as it was, at once.
    const back = panelProps(hostLevel, { vars: { host: 'All' } });
    rerender(<TopologyPanel {...back} data={{ ...back.data, state: LoadingState.Loading }} />);
    expect(screen.getAllByRole('button', { name: /^host / })).toHaveLength(12);
    expect(screen.getByRole('button', { name: 'host sim-0003' })).toBe(tile);
    expect(screen.queryByTestId('gpufleet-topology')).toBeNull();
    // A tile clicked meanwhile opens its host, named from the fleet level on screen.
    await userEvent.click(screen.getByRole('button', { name: 'host sim-0005' }));
    expect(locationService.getSearchObject()['var-host']).toBe('sim-0005');
    const next = panelProps(hostLevel, { vars: { host: 'sim-0005' } });
    rerender(<TopologyPanel {...next} data={{ ...next.data, state: LoadingState.Loading }} />);
    expect(screen.getByTestId('gpufleet-host-loading')).toHaveTextContent('Loading sim-0005…');
    await userEvent.click(screen.getByRole('button', { name: 'All hosts' }));
    // The fleet level's answer: read anew.
    const two = tableFrames(pick(onlyHosts(answers, ['sim-0001', 'sim-0002']), FLEET_REFIDS));
    rerender(<TopologyPanel {...panelProps(two, { vars: { host: 'All' } })} />);
    expect(screen.getAllByRole('button', { name: /^host / })).toHaveLength(2);
  });

  it('"All hosts" from a host the variable opened: the rows on hand until the fleet level answers', async () => {
    const hostLevel = tableFrames(pick(onlyHosts(answers, ['sim-0002']), [...FLEET_REFIDS, ...HOST_REFIDS]));
    const { rerender } = renderPanel(hostLevel, { vars: { host: 'sim-0002' } });
    await userEvent.click(screen.getByRole('button', { name: 'All hosts' }));
    const back = panelProps(hostLevel, { vars: { host: 'All' } });
    rerender(<TopologyPanel {...back} data={{ ...back.data, state: LoadingState.Loading }} />);
    expect(screen.getAllByRole('button', { name: /^host / }).map((b) => b.textContent)).toEqual([
      expect.stringContaining('sim-0002'),
    ]);
    rerender(<TopologyPanel {...panelProps(dashboard, { vars: { host: 'All' } })} />);
    expect(screen.getAllByRole('button', { name: /^host / })).toHaveLength(12);
  });

  it('while a run loads, the panel keeps what it read from the last answer, and reads the next when it is done', () => {
    const { rerender } = renderPanel(dashboard);
    expect(screen.getAllByTestId('gpufleet-host')).toHaveLength(12);
    const two = tableFrames(pick(onlyHosts(answers, ['sim-0001', 'sim-0002']), FLEET_REFIDS));
    const loading = panelProps(two);
    rerender(<TopologyPanel {...loading} data={{ ...loading.data, state: LoadingState.Loading }} />);
    expect(screen.getAllByTestId('gpufleet-host')).toHaveLength(12);
    rerender(<TopologyPanel {...panelProps(two)} />);
    expect(screen.getAllByTestId('gpufleet-host')).toHaveLength(2);
  });

  it('a host whose own answer has nothing below its tile is drawn empty, not left loading', async () => {
    const fleetLevel = tableFrames(pick(answers, FLEET_REFIDS));
    const { rerender } = renderPanel(fleetLevel, { vars: { host: 'All' } });
    await userEvent.click(screen.getByRole('button', { name: 'host sim-0003' }));
    rerender(<TopologyPanel {...panelProps(tableFrames(pick(answers, FLEET_REFIDS)), { vars: { host: 'sim-0003' } })} />);
    expect(screen.queryByTestId('gpufleet-host-loading')).toBeNull();
    expect(screen.getByText('Prometheus returned no GPUs and no engines for sim-0003.')).toBeInTheDocument();
  });

  it('the host variable set to one host opens it; the dashboard narrowed its queries to it', () => {
    renderPanel(tableFrames(pick(onlyHosts(answers, ['sim-0002']), [...FLEET_REFIDS, ...HOST_REFIDS])), {
      vars: { host: 'sim-0002' },
    });
    expect(screen.getAllByTestId('gpufleet-gpu')).toHaveLength(8);
    expect(screen.getAllByTestId('gpufleet-engine').map((e) => e.getAttribute('data-node-id'))).toEqual([
      'engine:sim-0002/sim-0002:9000',
      'engine:sim-0002/sim-0002:9004',
    ]);
    expect(screen.getByText('sim-0002', { selector: 'span' })).toBeInTheDocument();
  });

  it('a model filter set: the engines → GPUs graph across hosts, capped, saying what it left out and what to do', () => {
    renderPanel(dashboard, { vars: { model: 'model-0', host: 'All' }, options: { nodeCap: 120 } });
    expect(screen.queryAllByTestId('gpufleet-host')).toHaveLength(0);
    const drawn = screen.getAllByTestId('gpufleet-gpu').length;
    expect(drawn).toBeGreaterThan(0);
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent(
      /more not drawn — narrow the filter \(a host, a model or an engine\) or raise the node cap \(120\)\. Not drawn: /
    );
    expect(alert).toHaveTextContent('sim-0001: 8 GPUs, 16 instances;');
    expect(alert).toHaveTextContent(/; and 7 more hosts\.$/);
    expect(screen.getByRole('button', { name: 'All hosts' })).toBeInTheDocument();
  });

  it('failed queries are named over the graph; the rest is still drawn', async () => {
    renderPanel(tableFrames(pick(answers, [...FLEET_REFIDS, 'gpus', 'gpu_mem_used', 'gpu_mem_total'])), {
      vars: { host: 'sim-0003' },
      errors: [
        { refId: 'gpu_util', message: 'context deadline exceeded' },
        { refId: 'mig', message: 'query processing would load too many samples into memory in query execution' },
      ],
    });
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent('Query gpu_util failed: context deadline exceeded. Prometheus ran out of time');
    expect(alert).toHaveTextContent('Query mig failed: query processing would load too many samples');
    expect(screen.getAllByTestId('gpufleet-gpu')).toHaveLength(8);
    // No utilization answered: no data, not 0 %.
    await userEvent.hover(screen.getByRole('button', { name: 'gpu GPU 0' }));
    expect(within(screen.getByRole('tooltip')).getByText('Utilization').nextSibling).toHaveTextContent('—');
    expect(screen.getByRole('button', { name: 'gpu GPU 0' })).toHaveAttribute(
      'data-color',
      colour((figure('gpu_mem_used', 'sim-0003') / figure('gpu_mem_total', 'sim-0003')) * 100)
    );
  });

  it('frames the panel cannot read: it says so and what it reads', () => {
    renderPanel(tableFrames({ A: [{ metric: { job: 'node', instance: 'x' }, value: '1' }] }));
    expect(screen.getByRole('status')).toHaveTextContent('not a topology');
    expect(screen.getByRole('status')).toHaveTextContent('Query A: 1 row without a host label');
  });
});
