import React, { useState } from 'react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import type { GpufleetDataSource } from '../datasource';
import type { GpufleetQuery } from '../types';
import { QueryEditor } from './QueryEditor';

/** The data source as far as the editor uses it: the sidecar's metric list (recorded names, or a failure). */
function fakeDatasource(metrics: string[] | Error): GpufleetDataSource {
  return {
    metricFindQuery: jest.fn(async (q: string) => {
      expect(q).toBe('metrics');
      if (metrics instanceof Error) {
        throw metrics;
      }
      return metrics.map((m) => ({ text: `${m} (unit)`, value: m }));
    }),
  } as unknown as GpufleetDataSource;
}

function Harness({
  initial,
  onChange,
  onRunQuery,
  datasource,
}: {
  initial: GpufleetQuery;
  onChange: jest.Mock;
  onRunQuery: jest.Mock;
  datasource: GpufleetDataSource;
}) {
  const [query, setQuery] = useState(initial);
  return (
    <QueryEditor
      datasource={datasource}
      query={query}
      onChange={(q) => {
        setQuery(q);
        onChange(q);
      }}
      onRunQuery={onRunQuery}
    />
  );
}

function setup(initial: GpufleetQuery, datasource = fakeDatasource(new Error('offline'))) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<Harness initial={initial} onChange={onChange} onRunQuery={onRunQuery} datasource={datasource} />);
  return { onChange, onRunQuery };
}

// The metric menu is a virtualised list (@tanstack/react-virtual), which sizes its window from the
// scroll element's clientHeight; jsdom has no layout (0), so it would render no option at all.
beforeAll(() => {
  jest.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockReturnValue(300);
  jest.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(300);
});

describe('QueryEditor', () => {
  it('offers the six query kinds and runs the query when one is picked', async () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', kind: 'topology' });
    for (const label of ['Topology', 'GPUs', 'GPU', 'Engines', 'Processes', 'Time series']) {
      expect(screen.getByRole('radio', { name: label })).toBeInTheDocument();
    }
    expect(screen.getByRole('radio', { name: 'Topology' })).toBeChecked();
    await userEvent.click(screen.getByRole('radio', { name: 'Engines' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'engines' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('accepts a dashboard variable in a filter and runs once the field is left, not per keystroke', async () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', kind: 'gpus', filters: {} });
    await userEvent.type(screen.getByLabelText('GPU filter'), '$gpu');
    expect(onRunQuery).not.toHaveBeenCalled();
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'gpus', filters: { gpu: '$gpu' } });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('removes a filter that is cleared', async () => {
    const { onChange } = setup({ refId: 'A', kind: 'engines', filters: { model: '$model', engine: 'e1' } });
    await userEvent.clear(screen.getByLabelText('Model filter'));
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'engines', filters: { engine: 'e1' } });
  });

  it('shows only the filters the sidecar applies to the kind', () => {
    setup({ refId: 'A', kind: 'gpus' });
    expect(screen.getByLabelText('Host filter')).toBeInTheDocument();
    expect(screen.getByLabelText('GPU filter')).toBeInTheDocument();
    expect(screen.queryByLabelText('Model filter')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Metric')).not.toBeInTheDocument();
  });

  it('offers vGPU and VM filters for time series, and says the topology takes none', async () => {
    setup({ refId: 'A', kind: 'timeseries', metric: 'vgpu.utilization' });
    expect(screen.getByLabelText('vGPU filter')).toBeInTheDocument();
    expect(screen.getByLabelText('VM filter')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('radio', { name: 'Topology' }));
    expect(screen.queryByRole('textbox', { name: /filter/ })).not.toBeInTheDocument();
    expect(screen.getByText(/whole host the sidecar runs on; it takes no filters/)).toBeInTheDocument();
  });

  it('asks for a metric only for time series, defaulting to GPU utilization', async () => {
    const { onChange } = setup({ refId: 'A', kind: 'gpus' });
    await userEvent.click(screen.getByRole('radio', { name: 'Time series' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization' });
    expect(screen.getByRole('combobox', { name: 'Metric' })).toHaveValue('gpu.utilization');
  });

  it("changes the metric from the sidecar's list", async () => {
    const datasource = fakeDatasource(['gpu.utilization', 'vgpu.framebuffer.used', 'engine.ttft.p95', 'future.metric']);
    const { onChange, onRunQuery } = setup({ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization' }, datasource);
    expect(datasource.metricFindQuery).toHaveBeenCalledWith('metrics');
    const metric = screen.getByRole('combobox', { name: 'Metric' });
    const current = (metric as HTMLInputElement).value;
    // Typing over the selected value, as after focusing the field in a browser.
    await userEvent.type(metric, 'future', { initialSelectionStart: 0, initialSelectionEnd: current.length });
    await userEvent.click(await screen.findByRole('option', { name: /^future\.metric/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'timeseries', metric: 'future.metric' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('falls back to the built-in metric list when the sidecar cannot say', async () => {
    const { onChange } = setup({ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization' });
    const metric = screen.getByRole('combobox', { name: 'Metric' });
    const current = (metric as HTMLInputElement).value;
    await userEvent.type(metric, 'framebuffer.used', { initialSelectionStart: 0, initialSelectionEnd: current.length });
    await userEvent.click(await screen.findByRole('option', { name: /^vgpu\.framebuffer\.used/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'timeseries', metric: 'vgpu.framebuffer.used' });
  });

  it('flags a gpu query without a GPU', () => {
    setup({ refId: 'A', kind: 'gpu', filters: {} });
    expect(screen.getByText('The gpu kind needs a GPU')).toBeInTheDocument();
  });
});
