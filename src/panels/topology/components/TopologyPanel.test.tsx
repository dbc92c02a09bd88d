import React from 'react';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  type DataFrame,
  EventBusSrv,
  FieldType,
  createDataFrame,
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

function renderPanel(
  data: PanelData,
  options: Partial<TopologyOptions> = {},
  width = 1200,
  height = 700,
  replaceVariables: (s: string) => string = (s) => s
) {
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
    replaceVariables,
    onChangeTimeRange: jest.fn(),
  } as unknown as PanelProps<TopologyOptions>;
  return render(<TopologyPanel {...props} />);
}

const gpuRow = (title: string) => screen.getByRole('button', { name: `gpu ${title}` });
const GiB = 1024 ** 3;

/** The default thresholds (green < 60 %, orange < 85 %, red), written out independently of the panel's code. */
function thresholdColour(percent: number): string {
  return percent >= 85 ? RED : percent >= 60 ? ORANGE : GREEN;
}

/** "877 MiB", "35.2 GiB", "20 GiB": bytes as the panel prints them (IEC units, one decimal, no trailing .0). */
function gib(bytes: unknown): string {
  let v = bytes as number;
  let unit = 0;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  const r = Math.round(v * 10) / 10;
  return `${Number.isInteger(r) ? r.toFixed(0) : r.toFixed(1)} ${units[unit]}`;
}

/** The nodes frame as one record per row. */
function nodeRows(series: DataFrame[]): Array<Record<string, unknown>> {
  const nodes = series.find((f) => f.name === 'nodes')!;
  return Array.from({ length: nodes.length }, (_, i) =>
    Object.fromEntries(nodes.fields.map((f) => [f.name, f.values[i]]))
  );
}

describe('TopologyPanel with the recorded demo-host answer (8 H100s: MIG on 1 and 2, vGPU VMs on 3 and 4)', () => {
  const series = framesOf('query-topology.json');
  // The recorded rows, to read the figures from (they move when the demo scenario is re-recorded).
  const recorded = nodeRows(series);

  it('draws every GPU with its MIG and vGPU instances as chips in its row', () => {
    renderPanel(panelData(series));
    const rows = screen.getAllByTestId('gpufleet-gpu');
    expect(rows.map((r) => r.getAttribute('aria-label'))).toEqual(Array.from({ length: 8 }, (_, i) => `gpu GPU ${i}`));
    // Title, capacity chip (a vGPU host with running VMs is held and working: busy), subtitle.
    expect(rows[3]).toHaveTextContent('GPU 3busyNVIDIA H100 80GB HBM3 · vGPU sriov');
    expect(screen.getAllByTestId('gpufleet-mig').map((c) => c.textContent)).toEqual([
      '3g.40gb',
      '2g.20gb',
      '1g.10gb',
      '1g.10gb',
      ...Array(7).fill('1g.10gb'),
    ]);
    expect(screen.getAllByTestId('gpufleet-vgpu').map((c) => c.textContent)).toEqual([
      'tenant-a-win11',
      'tenant-b-linux',
      'tenant-c-linux',
      'tenant-d-ci',
      'research-ws-01',
      'research-ws-02',
      'staging-vm',
    ]);
    // No engine on this host: no engine column, no lines (containment is drawn as chips).
    expect(screen.queryAllByTestId('gpufleet-engine')).toHaveLength(0);
    expect(screen.queryAllByTestId('gpufleet-edge')).toHaveLength(0);
    expect(screen.queryByText('Engines')).not.toBeInTheDocument();
    expect(screen.getByText('0 engines · 0 ranks · 8 GPUs · 18 instances')).toBeInTheDocument();
    expect(screen.getByText('sim-demo')).toBeInTheDocument();
  });

  it('colours by load against the thresholds and explains the colours in a legend', () => {
    renderPanel(panelData(series));
    const legend = screen.getByLabelText('Legend');
    for (const label of ['Load', '< 60%', '60–85%', '≥ 85%', 'no data']) {
      expect(within(legend).getByText(label)).toBeInTheDocument();
    }
    // Every GPU: its utilization, or for a MIG-mode GPU (nvidia-smi reports none) the sidecar's load.
    const gpus = recorded.filter((n) => n.kind === 'gpu');
    const colours = gpus.map((g) => {
      const figure = (g.detail__utilizationGpu as number | null) ?? (g.load as number) * 100;
      expect(gpuRow(String(g.title))).toHaveAttribute('data-color', thresholdColour(figure));
      return thresholdColour(figure);
    });
    // The recording spans the scale (vGPU hosts full, MIG GPUs partly used).
    expect(new Set(colours).size).toBeGreaterThan(1);
    expect(gpuRow('GPU 3')).toHaveAttribute('data-color', RED); // four VMs: more than the GPU
    const mig1 = recorded.find((n) => n.kind === 'gpu' && n.title === 'GPU 1')!;
    expect(mig1.detail__utilizationGpu).toBeNull();
    for (const vm of recorded.filter((n) => n.kind === 'vgpu')) {
      expect(screen.getByRole('button', { name: `vgpu ${vm.title}` })).toHaveAttribute(
        'data-color',
        thresholdColour(vm.detail__utilizationGpu as number)
      );
    }
    // MIG instances by memory use (no per-instance utilization exists).
    const chips = screen.getAllByTestId('gpufleet-mig');
    recorded
      .filter((n) => n.kind === 'mig')
      .forEach((m, i) =>
        expect(chips[i]).toHaveAttribute(
          'data-color',
          thresholdColour(((m.detail__memoryUsedBytes as number) / (m.detail__memoryTotalBytes as number)) * 100)
        )
      );
  });

  it('colours by memory when asked', () => {
    renderPanel(panelData(series), { colorBy: 'memory' });
    for (const g of recorded.filter((n) => n.kind === 'gpu')) {
      const percent = ((g.detail__memoryUsedBytes as number) / (g.detail__memoryTotalBytes as number)) * 100;
      expect(gpuRow(String(g.title))).toHaveAttribute('data-color', thresholdColour(percent));
    }
    // GPU 3 is red by load (its VMs ask for more than it has); by memory its framebuffers decide.
    expect(screen.getByLabelText('Legend')).toHaveTextContent('Memory');
  });

  it('shows the key figures in a tooltip on hover', async () => {
    renderPanel(panelData(series));
    const g7 = recorded.find((n) => n.kind === 'gpu' && n.title === 'GPU 7')!;
    await userEvent.hover(gpuRow('GPU 7'));
    const tip = screen.getByRole('tooltip');
    expect(within(tip).getByText('Utilization').nextSibling).toHaveTextContent(
      `${Math.round(g7.detail__utilizationGpu as number)}%`
    );
    expect(within(tip).getByText('Memory').nextSibling).toHaveTextContent(
      `${gib(g7.detail__memoryUsedBytes)} / ${gib(g7.detail__memoryTotalBytes)}`
    );
    expect(within(tip).getByText('Temperature').nextSibling).toHaveTextContent(`${g7.detail__temperatureC} °C`);
    expect(within(tip).getByText('Instances').nextSibling).toHaveTextContent('0');
    await userEvent.unhover(gpuRow('GPU 7'));
    expect(screen.queryByRole('tooltip')).not.toBeInTheDocument();
  });

  it('click on a MIG GPU → drill-down lists its MIG instances with profile, GI / CI and memory bars', async () => {
    renderPanel(panelData(series));
    await userEvent.click(gpuRow('GPU 1'));
    const drill = screen.getByRole('dialog', { name: 'GPU GPU 1 details' });
    const rows = within(drill).getAllByTestId('gpufleet-drill-mig');
    const cells = (r: HTMLElement) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent);
    // The layout of the capture_h100-mig host: GI 2, 3, 9, 10.
    expect(rows.map((r) => cells(r).slice(0, 2))).toEqual([
      ['3g.40gb', '2 / 0'],
      ['2g.20gb', '3 / 0'],
      ['1g.10gb', '9 / 0'],
      ['1g.10gb', '10 / 0'],
    ]);
    const m0 = recorded.find((n) => n.kind === 'mig' && n.title === '3g.40gb')!;
    const used = m0.detail__memoryUsedBytes as number;
    const total = m0.detail__memoryTotalBytes as number;
    expect(within(rows[0]).getByRole('meter')).toHaveAttribute(
      'aria-valuetext',
      `3g.40gb memory: ${gib(used)} / ${gib(total)}`
    );
    expect(within(rows[0]).getByRole('meter')).toHaveAttribute(
      'aria-valuenow',
      String(Math.round((used / total) * 100))
    );
    expect(within(drill).getByText('MIG mode').nextSibling).toHaveTextContent('enabled');
    expect(within(drill).getByText('No engine runs here.')).toBeInTheDocument();
    expect(within(drill).getByText('No vGPU instances.')).toBeInTheDocument();
  });

  it('click on a vGPU host GPU → drill-down lists VMs with type, VM id and name, bars and active/licensed', async () => {
    renderPanel(panelData(series));
    await userEvent.click(gpuRow('GPU 3'));
    const drill = screen.getByRole('dialog', { name: 'GPU GPU 3 details' });
    const rows = within(drill).getAllByTestId('gpufleet-drill-vgpu');
    const gpu3 = recorded.find((n) => n.kind === 'gpu' && n.title === 'GPU 3')!;
    const vms = recorded.filter((n) => n.kind === 'vgpu' && n.detail__gpuUuid === gpu3.detail__uuid);
    expect(vms.map((v) => v.detail__vmName)).toEqual([
      'tenant-a-win11',
      'tenant-b-linux',
      'tenant-c-linux',
      'tenant-d-ci',
    ]);
    expect(rows).toHaveLength(4);
    const cells = (r: HTMLElement) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent);
    vms.forEach((v, i) => {
      expect(cells(rows[i])).toEqual([
        'NVIDIA H100XM-20C',
        `${v.detail__vmName}VM id ${v.detail__vmId}`,
        `${v.detail__utilizationGpu}%`,
        `${gib(v.detail__framebufferUsedBytes)} / 20 GiB`,
        `${v.detail__active ? 'active' : 'inactive'}${v.detail__licensed ? 'licensed' : 'unlicensed'}`,
      ]);
    });
    // The demo's tenant-c-linux runs without a licence.
    expect(cells(rows[2])[4]).toBe('activeunlicensed');
    const b = vms[1];
    expect(within(rows[1]).getByRole('meter', { name: 'tenant-b-linux framebuffer' })).toHaveAttribute(
      'aria-valuenow',
      String(
        Math.round(((b.detail__framebufferUsedBytes as number) / (b.detail__framebufferTotalBytes as number)) * 100)
      )
    );
    expect(within(drill).getByText('No MIG instances.')).toBeInTheDocument();
    expect(within(drill).getByText('Temperature').nextSibling).toHaveTextContent(`${gpu3.detail__temperatureC} °C`);
  });

  it('a VM without a guest driver shows its licence as unknown, not as licensed', async () => {
    renderPanel(panelData(series));
    await userEvent.click(gpuRow('GPU 4'));
    const rows = within(screen.getByRole('dialog', { name: 'GPU GPU 4 details' })).getAllByTestId(
      'gpufleet-drill-vgpu'
    );
    const staging = rows.find((r) => r.textContent?.includes('staging-vm'))!;
    expect(staging.querySelectorAll('td')[4].textContent).toBe('activelicence ?');
  });

  it('click on an instance chip opens its GPU with the instance highlighted; Escape / close closes', async () => {
    renderPanel(panelData(series));
    await userEvent.click(screen.getByRole('button', { name: 'vgpu tenant-b-linux' }));
    const drill = screen.getByRole('dialog', { name: 'GPU GPU 3 details' });
    const [first, focused] = within(drill).getAllByTestId('gpufleet-drill-vgpu');
    expect(focused).toHaveTextContent('tenant-b-linux');
    expect(focused.className).not.toBe(first.className);
    fireEvent.keyDown(drill, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    await userEvent.click(gpuRow('GPU 1'));
    await userEvent.click(screen.getByRole('button', { name: 'Close GPU details' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('names a failed source from the frame notices above the graph (recorded with vgpu -q failing)', () => {
    renderPanel(panelData(framesOf('query-topology-degraded.json')));
    expect(screen.getByRole('alert')).toHaveTextContent(
      /^vgpu source failed: .*vgpu -q: exit code 255: Unable to determine the device handle for GPU0000:18:00\.0: Unknown Error; data is \d+ s old$/
    );
  });
});

/**
 * SYNTHETIC frame, built here: the recorded answers have no engines (recorded with the simulator's
 * engines off, see tests/fixtures/sidecar-api/README.md; the browser tests draw the demo's real
 * engines). Same field names and id shapes as the sidecar's topology frames: engine:<id>,
 * worker:<engineId>/<rank>, gpu:<uuid>, mig:<uuid>; mainstat strings, load 0..1.
 */
function engineTopology(): DataFrame[] {
  const rows: Array<Record<string, unknown>> = [
    {
      id: 'gpu:GPU-a',
      kind: 'gpu',
      title: 'GPU 0',
      subtitle: 'A100 · MIG',
      detail__index: 0,
      detail__host: 'h1',
      detail__uuid: 'GPU-a',
      detail__utilizationGpu: null,
      detail__memoryUsedBytes: 40 * GiB,
      detail__memoryTotalBytes: 80 * GiB,
      detail__migMode: 'enabled',
      load: 0.5,
    },
    {
      id: 'mig:MIG-q',
      kind: 'mig',
      title: '3g.40gb',
      detail__gpuUuid: 'GPU-a',
      detail__profile: '3g.40gb',
      detail__memoryUsedBytes: 30 * GiB,
      detail__memoryTotalBytes: 40 * GiB,
      load: 0.75,
    },
    {
      id: 'mig:MIG-p',
      kind: 'mig',
      title: '1g.10gb',
      detail__gpuUuid: 'GPU-a',
      detail__profile: '1g.10gb',
      detail__memoryUsedBytes: 9 * GiB,
      detail__memoryTotalBytes: 10 * GiB,
      load: 0.9,
    },
    {
      id: 'gpu:GPU-b',
      kind: 'gpu',
      title: 'GPU 1',
      subtitle: 'A100 · whole',
      detail__index: 1,
      detail__host: 'h1',
      detail__uuid: 'GPU-b',
      detail__utilizationGpu: 87,
      load: 0.87,
    },
    {
      id: 'gpu:GPU-c',
      kind: 'gpu',
      title: 'GPU 2',
      subtitle: 'A100 · whole',
      detail__index: 2,
      detail__host: 'h1',
      detail__uuid: 'GPU-c',
      detail__utilizationGpu: 41,
      load: 0.41,
    },
    {
      id: 'gpu:GPU-d',
      kind: 'gpu',
      title: 'GPU 3',
      subtitle: 'A100 · whole',
      detail__index: 3,
      detail__host: 'h1',
      detail__uuid: 'GPU-d',
      detail__utilizationGpu: 0,
      load: 0,
    },
    {
      id: 'engine:h1:8001',
      kind: 'engine',
      title: 'meta-llama/Llama-3.1-70B-Instruct',
      mainstat: 'KV 62 %',
      detail__host: 'h1',
      detail__engineId: 'h1:8001',
      detail__model: 'meta-llama/Llama-3.1-70B-Instruct',
      detail__kvCacheUsage: 0.62,
      detail__health: 'healthy',
      load: 0.62,
    },
    { id: 'worker:llama/0', kind: 'worker', title: 'rank 0', detail__rank: 0 },
    { id: 'worker:llama/1', kind: 'worker', title: 'rank 1', detail__rank: 1 },
    {
      id: 'engine:h1:8002',
      kind: 'engine',
      title: 'Qwen/Qwen2.5-7B-Instruct',
      detail__host: 'h1',
      detail__engineId: 'h1:8002',
      detail__kvCacheUsage: 0.3,
      load: 0.3,
    },
    { id: 'worker:qwen/0', kind: 'worker', title: 'rank 0', detail__rank: 0 },
    {
      id: 'engine:phi',
      kind: 'engine',
      title: 'microsoft/Phi-3-mini-4k-instruct',
      detail__kvCacheUsage: 0.93,
      load: 0.93,
    },
    { id: 'worker:phi/0', kind: 'worker', title: 'rank 0', detail__rank: 0 },
    // Down: no KV figure. The sidecar sends load 1 for a down engine; the panel colours engines by KV use.
    {
      id: 'engine:mistral',
      kind: 'engine',
      title: 'mistralai/Mistral-7B-Instruct-v0.3',
      detail__kvCacheUsage: null,
      detail__health: 'down',
      load: 1,
    },
  ];
  const edges: Array<[string, string]> = [
    ['gpu:GPU-a', 'mig:MIG-q'],
    ['gpu:GPU-a', 'mig:MIG-p'],
    ['engine:h1:8001', 'worker:llama/0'],
    ['engine:h1:8001', 'worker:llama/1'],
    ['worker:llama/0', 'gpu:GPU-b'],
    ['worker:llama/1', 'gpu:GPU-c'],
    ['engine:h1:8002', 'worker:qwen/0'],
    ['worker:qwen/0', 'mig:MIG-q'],
    ['engine:phi', 'worker:phi/0'],
    ['worker:phi/0', 'mig:MIG-p'],
  ];
  const names = Array.from(new Set(rows.flatMap((r) => Object.keys(r))));
  const type = (n: string) => (rows.some((r) => typeof r[n] === 'number') ? FieldType.number : FieldType.string);
  return [
    createDataFrame({
      name: 'nodes',
      fields: names.map((name) => ({ name, type: type(name), values: rows.map((r) => r[name] ?? null) })),
    }),
    createDataFrame({
      name: 'edges',
      fields: [
        { name: 'id', type: FieldType.string, values: edges.map(([a, b]) => `${a}->${b}`) },
        { name: 'source', type: FieldType.string, values: edges.map(([a]) => a) },
        { name: 'target', type: FieldType.string, values: edges.map(([, b]) => b) },
      ],
    }),
  ];
}

describe('TopologyPanel with engines (synthetic frame: the recorded answers have no engines)', () => {
  const series = engineTopology();

  it('draws engines and ranks with the edges engine → rank → GPU / MIG instance', () => {
    renderPanel(panelData(series));
    expect(screen.getAllByTestId('gpufleet-engine').map((e) => e.getAttribute('aria-label'))).toEqual([
      'engine meta-llama/Llama-3.1-70B-Instruct',
      'engine microsoft/Phi-3-mini-4k-instruct',
      'engine mistralai/Mistral-7B-Instruct-v0.3',
      'engine Qwen/Qwen2.5-7B-Instruct',
    ]);
    expect(screen.getAllByTestId('gpufleet-worker')).toHaveLength(4);
    // 4 engine → rank and 4 rank → GPU / instance edges; GPU → instance containment is drawn as chips.
    expect(screen.getAllByTestId('gpufleet-edge')).toHaveLength(8);
    expect(screen.getByText('Engines')).toBeInTheDocument();
    expect(screen.getByText('4 engines · 4 ranks · 4 GPUs · 2 instances')).toBeInTheDocument();
  });

  it('colours engines by KV-cache use; a down engine without a figure is neutral, not "fine"', () => {
    renderPanel(panelData(series));
    expect(screen.getByLabelText('engine microsoft/Phi-3-mini-4k-instruct')).toHaveAttribute('data-color', RED);
    expect(screen.getByLabelText('engine meta-llama/Llama-3.1-70B-Instruct')).toHaveAttribute('data-color', ORANGE);
    expect(screen.getByLabelText('engine mistralai/Mistral-7B-Instruct-v0.3')).toHaveAttribute(
      'data-color',
      theme.colors.border.strong
    );
  });

  it('the drill-down names the engines and ranks on a GPU and on its MIG instances', async () => {
    renderPanel(panelData(series));
    await userEvent.click(gpuRow('GPU 0'));
    const engines = within(screen.getByRole('dialog')).getByRole('region', { name: 'Engines on this GPU' });
    expect(engines).toHaveTextContent('Qwen/Qwen2.5-7B-Instruct · rank 0 · on 3g.40gb');
    expect(engines).toHaveTextContent('microsoft/Phi-3-mini-4k-instruct · rank 0 · on 1g.10gb');
  });

  it('can hide the ranks column and group by engine', () => {
    renderPanel(panelData(series), { showWorkers: false, groupBy: 'engine' });
    expect(screen.queryAllByTestId('gpufleet-worker')).toHaveLength(0);
    // Engines connect straight to what their ranks run on: Llama → GPU 1, GPU 2; Qwen, Phi → their MIG instances.
    expect(screen.getAllByTestId('gpufleet-edge')).toHaveLength(4);
    for (const band of ['meta-llama/Llama-3.1-70B-Instruct', 'microsoft/Phi-3-mini-4k-instruct', 'No engine']) {
      expect(screen.getAllByText(band).length).toBeGreaterThan(0);
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
    // Named per query: a Prometheus dashboard has a dozen of them.
    expect(
      screen.getByText('Query A failed: Grafana could not reach the sidecar (502 Bad Gateway).')
    ).toBeInTheDocument();
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

describe('TopologyPanel data links to the GPU and engine dashboards', () => {
  /** The panel's replaceVariables with one dashboard variable and the time-range macro, as Grafana fills them. */
  const replaceVariables = (s: string) =>
    s.replace(/\$\{__url_time_range\}/g, 'from=now-6h&to=now').replace(/\$\{?env\}?/g, 'prod');
  const demo = framesOf('query-topology.json');
  const recorded = nodeRows(demo);

  it('the GPU drill-down links to the GPU dashboard with the host and UUID of the clicked GPU', async () => {
    renderPanel(panelData(demo), {}, 1200, 700, replaceVariables);
    await userEvent.click(gpuRow('GPU 1'));
    const g1 = recorded.find((n) => n.kind === 'gpu' && n.title === 'GPU 1')!;
    const link = within(screen.getByRole('dialog', { name: 'GPU GPU 1 details' })).getByRole('link', {
      name: 'Open GPU dashboard',
    });
    expect(link).toHaveAttribute(
      'href',
      `/d/gpufleet-gpu/gpu-detail?var-host=sim-demo&var-gpu=${g1.detail__uuid}&from=now-6h&to=now`
    );
  });

  it('a GPU link option with ${mig} and a dashboard variable: a clicked MIG chip fills in its UUID', async () => {
    renderPanel(
      panelData(demo),
      { gpuLink: '/d/mine/x?var-env=$env&var-gpu=${gpu}&var-mig=${mig}&var-index=${gpuIndex}' },
      1200,
      700,
      replaceVariables
    );
    const mig = recorded.find((n) => n.kind === 'mig')!;
    const gpu = recorded.find((n) => n.kind === 'gpu' && n.detail__uuid === mig.detail__gpuUuid)!;
    await userEvent.click(screen.getAllByTestId('gpufleet-mig')[0]);
    expect(screen.getByRole('link', { name: 'Open GPU dashboard' })).toHaveAttribute(
      'href',
      `/d/mine/x?var-env=prod&var-gpu=${gpu.detail__uuid}&var-mig=${mig.detail__uuid}&var-index=${gpu.detail__index}`
    );
  });

  it('an empty GPU link option shows no link', async () => {
    renderPanel(panelData(demo), { gpuLink: '' });
    await userEvent.click(gpuRow('GPU 3'));
    expect(screen.getByRole('dialog', { name: 'GPU GPU 3 details' })).toBeInTheDocument();
    expect(screen.queryByRole('link')).not.toBeInTheDocument();
  });

  it('a click on an engine pins its card with the engine dashboard link; a rank opens its engine; Escape closes', async () => {
    renderPanel(panelData(engineTopology()), {}, 1200, 700, replaceVariables);
    const llama = screen.getByRole('button', { name: 'engine meta-llama/Llama-3.1-70B-Instruct' });
    await userEvent.hover(llama);
    expect(screen.getByRole('tooltip')).toHaveTextContent('Click for the engine dashboard link');
    await userEvent.click(llama);
    const card = screen.getByRole('dialog', { name: 'Engine meta-llama/Llama-3.1-70B-Instruct' });
    expect(within(card).getByText('KV cache').nextSibling).toHaveTextContent('62%');
    expect(within(card).getByRole('link', { name: 'Open engine dashboard' })).toHaveAttribute(
      'href',
      '/d/gpufleet-engine/engine-detail?var-host=h1&var-engine=h1%3A8001&from=now-6h&to=now'
    );
    fireEvent.keyDown(card, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    // Rank 0 of Qwen → Qwen's card; a second click on it closes the card.
    const qwenRank = screen
      .getAllByTestId('gpufleet-worker')
      .find((w) => w.getAttribute('data-node-id') === 'worker:qwen/0')!;
    await userEvent.click(qwenRank);
    expect(
      within(screen.getByRole('dialog', { name: 'Engine Qwen/Qwen2.5-7B-Instruct' })).getByRole('link')
    ).toHaveAttribute('href', '/d/gpufleet-engine/engine-detail?var-host=h1&var-engine=h1%3A8002&from=now-6h&to=now');
    await userEvent.click(qwenRank);
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('the GPU drill-down links each engine on the GPU to its dashboard', async () => {
    renderPanel(panelData(engineTopology()), {}, 1200, 700, replaceVariables);
    await userEvent.click(gpuRow('GPU 1'));
    const engines = within(screen.getByRole('dialog')).getByRole('region', { name: 'Engines on this GPU' });
    expect(within(engines).getByRole('link', { name: 'meta-llama/Llama-3.1-70B-Instruct' })).toHaveAttribute(
      'href',
      '/d/gpufleet-engine/engine-detail?var-host=h1&var-engine=h1%3A8001&from=now-6h&to=now'
    );
  });

  it('an empty engine link option: the card has no link, the drill-down names engines without links', async () => {
    renderPanel(panelData(engineTopology()), { engineLink: '' });
    const llama = screen.getByRole('button', { name: 'engine meta-llama/Llama-3.1-70B-Instruct' });
    await userEvent.hover(llama);
    expect(screen.getByRole('tooltip')).not.toHaveTextContent('Click for');
    await userEvent.click(llama);
    expect(screen.getByRole('dialog', { name: 'Engine meta-llama/Llama-3.1-70B-Instruct' })).toBeInTheDocument();
    expect(screen.queryByRole('link')).not.toBeInTheDocument();
    await userEvent.click(gpuRow('GPU 1'));
    const drill = screen.getByRole('dialog', { name: 'GPU GPU 1 details' });
    expect(within(drill).getByRole('region', { name: 'Engines on this GPU' })).toHaveTextContent(
      'meta-llama/Llama-3.1-70B-Instruct · rank 0'
    );
    expect(
      within(drill)
        .getAllByRole('link')
        .map((a) => a.textContent)
    ).toEqual(['Open GPU dashboard']);
  });
});

describe('TopologyPanel click cost at fleet scale', () => {
  /**
   * The committed NodeView fibers by node id (React internals: the root fiber hangs off the container).
   * A node that re-renders gets a new fiber object; one skipped under a memoised parent keeps its own.
   */
  function nodeFibers(container: HTMLElement): Map<string, unknown> {
    const key = Object.keys(container).find((k) => k.startsWith('__reactContainer$'))!;
    const out = new Map<string, unknown>();
    const walk = (fiber: any) => {
      for (let f = fiber; f; f = f.sibling) {
        if (f.type?.name === 'NodeView') {
          out.set(f.memoizedProps.node.id, f);
        }
        walk(f.child);
      }
    };
    walk((container as any)[key].stateNode.current);
    return out;
  }

  it('opening and closing a drill-down or an engine card re-renders none of the 600+ graph nodes', async () => {
    const { container } = renderPanel(panelData(syntheticTopology()), {}, 1400, 800);
    const before = nodeFibers(container);
    expect(before.size).toBe(32 + 64 + 64 + 448);
    const changed = () => Array.from(nodeFibers(container)).filter(([id, f]) => before.get(id) !== f).length;

    fireEvent.click(screen.getAllByTestId('gpufleet-gpu')[5]);
    expect(screen.getByRole('dialog')).toBeInTheDocument();
    expect(changed()).toBe(0);
    fireEvent.click(screen.getAllByTestId('gpufleet-mig')[20]);
    expect(changed()).toBe(0);
    fireEvent.keyDown(screen.getByRole('dialog'), { key: 'Escape' });
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    fireEvent.click(screen.getAllByTestId('gpufleet-engine')[3]);
    expect(screen.getByRole('dialog', { name: /^Engine / })).toBeInTheDocument();
    expect(changed()).toBe(0);
    // Hovering does re-render nodes (their dimming changes): the check above would see it.
    fireEvent.mouseEnter(screen.getAllByTestId('gpufleet-gpu')[0]);
    expect(changed()).toBeGreaterThan(0);
  }, 30000);
});
