import React from 'react';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  type DataFrame,
  EventBusSrv,
  LoadingState,
  type PanelData,
  type PanelProps,
  createTheme,
  dateTime,
} from '@grafana/data';

import { framesOf } from '../../../testing/fixtures';
import { syntheticTopology } from '../testing/synthetic';
import { DEFAULT_OPTIONS, type TopologyOptions } from '../types';
import { TopologyPanel } from './TopologyPanel';

const theme = createTheme();
const RED = theme.visualization.getColorByName('red');
const ORANGE = theme.visualization.getColorByName('orange');
const GREEN = theme.visualization.getColorByName('green');

function panelData(series: DataFrame[], extra: Partial<PanelData> = {}): PanelData {
  const to = dateTime('2026-11-23T21:00:00Z');
  return {
    state: LoadingState.Done,
    series,
    timeRange: { from: dateTime('2026-11-23T20:00:00Z'), to, raw: { from: 'now-1h', to: 'now' } },
    ...extra,
  };
}

function renderPanel(data: PanelData, options: Partial<TopologyOptions> = {}, width = 1200, height = 700) {
  const props = {
    id: 1,
    data,
    timeRange: data.timeRange,
    timeZone: 'utc',
    options: { ...DEFAULT_OPTIONS, ...options },
    transparent: false,
    width,
    height,
    fieldConfig: { defaults: {}, overrides: [] },
    renderCounter: 0,
    title: 'Topology',
    eventBus: new EventBusSrv(),
    onOptionsChange: jest.fn(),
    onFieldConfigChange: jest.fn(),
    replaceVariables: (s: string) => s,
    onChangeTimeRange: jest.fn(),
  } as unknown as PanelProps<TopologyOptions>;
  return render(<TopologyPanel {...props} />);
}

const gpuRow = (title: string) => screen.getByRole('button', { name: `gpu ${title}` });

describe('TopologyPanel with the recorded demo-host answer', () => {
  const series = framesOf('query-topology.json');

  it('draws engines, ranks, GPUs and their MIG / vGPU instances, with the edges between them', () => {
    renderPanel(panelData(series));
    expect(screen.getAllByTestId('gpufleet-engine').map((e) => e.textContent)).toEqual([
      expect.stringContaining('meta-llama/Llama-3.1-70B-Instruct'),
      expect.stringContaining('microsoft/Phi-3-mini-4k-instruct'),
      expect.stringContaining('mistralai/Mistral-7B-Instruct-v0.3'),
      expect.stringContaining('Qwen/Qwen2.5-7B-Instruct'),
    ]);
    expect(screen.getAllByTestId('gpufleet-worker')).toHaveLength(4);
    expect(screen.getAllByTestId('gpufleet-gpu').map((g) => g.getAttribute('data-node-id'))).toHaveLength(4);
    expect(screen.getAllByTestId('gpufleet-mig').map((c) => c.textContent)).toEqual([
      '3g.40gb',
      '2g.20gb',
      '1g.10gb',
      '1g.10gb',
    ]);
    expect(screen.getAllByTestId('gpufleet-vgpu').map((c) => c.textContent)).toEqual(['24Q', '48Q', '24Q']);
    // 8 engine→rank→GPU/MIG edges; GPU→instance containment is drawn as chips, not lines.
    expect(screen.getAllByTestId('gpufleet-edge')).toHaveLength(8);
    expect(screen.getByText('4 engines · 4 ranks · 4 GPUs · 7 instances')).toBeInTheDocument();
    // Grouped by host: one band.
    expect(screen.getByText('gpu-host-1')).toBeInTheDocument();
  });

  it('colours by load against the thresholds and explains the colours in a legend', () => {
    renderPanel(panelData(series));
    const legend = screen.getByLabelText('Legend');
    for (const label of ['Load', '< 60%', '60–85%', '≥ 85%', 'no data']) {
      expect(within(legend).getByText(label)).toBeInTheDocument();
    }
    expect(gpuRow('GPU 1 · A100-SXM4-80GB')).toHaveAttribute('data-color', RED); // 87 %
    expect(gpuRow('GPU 0 · A100-SXM4-80GB')).toHaveAttribute('data-color', GREEN); // 41 %
    expect(screen.getByLabelText('engine microsoft/Phi-3-mini-4k-instruct')).toHaveAttribute('data-color', RED); // KV 93 %
    expect(screen.getByLabelText('engine meta-llama/Llama-3.1-70B-Instruct')).toHaveAttribute('data-color', ORANGE); // KV 62 %
    // The down engine has no KV figure: neutral, not "green = fine".
    expect(screen.getByLabelText('engine mistralai/Mistral-7B-Instruct-v0.3')).toHaveAttribute(
      'data-color',
      theme.colors.border.strong
    );
  });

  it('colours by memory when asked', () => {
    renderPanel(panelData(series), { colorBy: 'memory' });
    // GPU 0: 52 of 80 GiB = 65 % → orange (it is green by utilization).
    expect(gpuRow('GPU 0 · A100-SXM4-80GB')).toHaveAttribute('data-color', ORANGE);
  });

  it('shows the key figures in a tooltip on hover', async () => {
    renderPanel(panelData(series));
    await userEvent.hover(gpuRow('GPU 1 · A100-SXM4-80GB'));
    const tip = screen.getByRole('tooltip');
    expect(within(tip).getByText('Utilization').nextSibling).toHaveTextContent('87%');
    expect(within(tip).getByText('Memory').nextSibling).toHaveTextContent('71 GiB / 80 GiB');
    expect(within(tip).getByText('Temperature').nextSibling).toHaveTextContent('71 °C');
    await userEvent.unhover(gpuRow('GPU 1 · A100-SXM4-80GB'));
    expect(screen.queryByRole('tooltip')).not.toBeInTheDocument();
  });

  it('click on a MIG GPU → drill-down lists its MIG instances with profile and memory bars, and the engines on it', async () => {
    renderPanel(panelData(series));
    await userEvent.click(gpuRow('GPU 0 · A100-SXM4-80GB'));
    const drill = screen.getByRole('dialog', { name: 'GPU GPU 0 · A100-SXM4-80GB details' });
    const rows = within(drill).getAllByTestId('gpufleet-drill-mig');
    expect(rows.map((r) => r.firstChild?.textContent)).toEqual(['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb']);
    expect(within(rows[0]).getByRole('meter')).toHaveAttribute('aria-valuetext', '3g.40gb memory: 30 GiB / 40 GiB');
    expect(within(rows[0]).getByRole('meter')).toHaveAttribute('aria-valuenow', '75');
    // Memory use unknown (null) is "no data", not an empty-but-fine bar.
    expect(within(rows[3]).getByRole('meter')).toHaveAttribute('aria-valuetext', '1g.10gb memory: no data');
    const engines = within(drill).getByRole('region', { name: 'Engines on this GPU' });
    expect(engines).toHaveTextContent('Qwen/Qwen2.5-7B-Instruct · rank 0 · on 3g.40gb');
    expect(engines).toHaveTextContent('microsoft/Phi-3-mini-4k-instruct · rank 0 · on 1g.10gb');
    expect(within(drill).getByText('No vGPU instances.')).toBeInTheDocument();
  });

  it('click on a vGPU host GPU → drill-down lists VMs with type, VM id and name, bars and active/licensed', async () => {
    renderPanel(panelData(series));
    await userEvent.click(gpuRow('GPU 3 · RTX PRO 6000 Blackwell'));
    const drill = screen.getByRole('dialog', { name: /GPU 3/ });
    const rows = within(drill).getAllByTestId('gpufleet-drill-vgpu');
    expect(rows).toHaveLength(3);
    const cells = (r: HTMLElement) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent);
    expect(cells(rows[0])).toEqual([
      'RTX PRO 6000-24Q',
      'render-ws-01VM id vm-101',
      '22%',
      '9 GiB / 24 GiB',
      'activelicensed',
    ]);
    expect(cells(rows[1])).toEqual([
      'RTX PRO 6000-48Q',
      'cad-ws-02VM id vm-102',
      '61%',
      '30 GiB / 48 GiB',
      'activeunlicensed',
    ]);
    expect(cells(rows[2])[4]).toBe('inactivelicensed');
    expect(within(rows[1]).getByRole('meter', { name: 'cad-ws-02 framebuffer' })).toHaveAttribute(
      'aria-valuenow',
      '63'
    );
    expect(within(rows[2]).getByRole('meter', { name: 'idle-ws-03 utilization' })).toHaveAttribute(
      'aria-valuetext',
      'idle-ws-03 utilization: no data'
    );
    expect(within(drill).getByText('No MIG instances.')).toBeInTheDocument();
    expect(within(drill).getByText('Temperature').nextSibling).toHaveTextContent('—');
  });

  it('click on an instance chip opens its GPU with the instance highlighted; Escape / close closes', async () => {
    renderPanel(panelData(series));
    await userEvent.click(screen.getAllByTestId('gpufleet-vgpu')[1]);
    const drill = screen.getByRole('dialog', { name: /GPU 3/ });
    const focused = within(drill).getAllByTestId('gpufleet-drill-vgpu')[1];
    expect(focused.className).not.toBe(within(drill).getAllByTestId('gpufleet-drill-vgpu')[0].className);
    fireEvent.keyDown(drill, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    await userEvent.click(gpuRow('GPU 1 · A100-SXM4-80GB'));
    await userEvent.click(screen.getByRole('button', { name: 'Close GPU details' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('names a failed source from the frame notices above the graph', () => {
    const withNotice = series.map((f) =>
      f.name === 'nodes'
        ? {
            ...f,
            meta: {
              ...f.meta,
              notices: [
                { severity: 'warning' as const, text: 'engines source failed: connect ECONNREFUSED 127.0.0.1:8003' },
              ],
            },
          }
        : f
    );
    renderPanel(panelData(withNotice));
    expect(screen.getByRole('alert')).toHaveTextContent('engines source failed: connect ECONNREFUSED 127.0.0.1:8003');
  });

  it('can hide the ranks column and group by engine', () => {
    renderPanel(panelData(series), { showWorkers: false, groupBy: 'engine' });
    expect(screen.queryAllByTestId('gpufleet-worker')).toHaveLength(0);
    // Engines connect straight to what their ranks run on: Llama → GPU 1, GPU 2; Qwen, Phi → their MIG instances.
    expect(screen.getAllByTestId('gpufleet-edge')).toHaveLength(4);
    const bands = ['meta-llama/Llama-3.1-70B-Instruct', 'microsoft/Phi-3-mini-4k-instruct', 'No engine'];
    for (const b of bands) {
      expect(screen.getAllByText(b).length).toBeGreaterThan(0);
    }
  });
});

describe('TopologyPanel states', () => {
  it('loading', () => {
    renderPanel(panelData([], { state: LoadingState.Loading }));
    expect(screen.getByText('Loading topology…')).toBeInTheDocument();
  });

  it('error: shows the data source message', () => {
    renderPanel(
      panelData([], {
        state: LoadingState.Error,
        errors: [{ refId: 'A', message: 'Grafana could not reach the sidecar (502 Bad Gateway).' }],
      })
    );
    expect(screen.getByText('The topology query failed')).toBeInTheDocument();
    expect(screen.getByText('Grafana could not reach the sidecar (502 Bad Gateway).')).toBeInTheDocument();
  });

  it('no data / wrong query kind / empty host', () => {
    const { unmount } = renderPanel(panelData([]));
    expect(screen.getByRole('status')).toHaveTextContent(
      'Query the gpufleet sidecar data source with the query kind "Topology"'
    );
    unmount();
    const { unmount: u2 } = renderPanel(panelData(framesOf('query-gpus.json', 'B')));
    expect(screen.getByRole('status')).toHaveTextContent('not a topology');
    u2();
    const empty = framesOf('query-topology.json').map((f) => ({
      ...f,
      length: 0,
      fields: f.fields.map((x) => ({ ...x, values: [] })),
    }));
    renderPanel(panelData(empty));
    expect(screen.getByRole('status')).toHaveTextContent('The sidecar reports no GPUs and no engines.');
  });
});

describe('TopologyPanel at fleet scale (64 GPUs / 448 MIG / 32 engines)', () => {
  it('draws every GPU row and engine, keeps all 448 instances reachable, and draws no node on top of another', async () => {
    const series = syntheticTopology();
    const t0 = performance.now();
    renderPanel(panelData(series), {}, 1400, 800);
    const ms = performance.now() - t0;
    const gpus = screen.getAllByTestId('gpufleet-gpu');
    expect(gpus).toHaveLength(64);
    expect(screen.getAllByTestId('gpufleet-engine')).toHaveLength(32);
    expect(screen.getAllByTestId('gpufleet-worker')).toHaveLength(64);
    const chips = screen.getAllByTestId('gpufleet-mig').length;
    const more = screen
      .queryAllByRole('button', { name: /more instances of/ })
      .reduce((n, b) => n + Number(b.textContent!.slice(1)), 0);
    expect(chips + more).toBe(448);
    expect(screen.getAllByTestId('gpufleet-edge')).toHaveLength(32 * 2 * 2);
    // Eight host bands.
    for (let h = 0; h < 8; h++) {
      expect(screen.getByText(`host-0${h}`)).toBeInTheDocument();
    }
    for (const kind of ['engine', 'worker', 'gpu']) {
      const tops = screen
        .getAllByTestId(`gpufleet-${kind}`)
        .map((el) => ({ top: parseFloat(el.style.top), h: parseFloat(el.style.height) }))
        .sort((a, b) => a.top - b.top);
      for (let i = 1; i < tops.length; i++) {
        expect(tops[i].top).toBeGreaterThanOrEqual(tops[i - 1].top + tops[i - 1].h);
      }
    }
    // jsdom on 2 shared cores is far slower than a browser; this only catches a pathological layout
    // (quadratic or worse). The browser bench measures the real first-render time.
    expect(ms).toBeLessThan(8000);

    // The drill-down of a GPU lists all 7 instances even if the row shows fewer chips.
    await act(async () => {
      await userEvent.click(gpus[5]);
    });
    expect(within(screen.getByRole('dialog')).getAllByTestId('gpufleet-drill-mig')).toHaveLength(7);
  }, 30000);
});
