import React, { useState } from 'react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import type { GpufleetDataSource } from '../datasource';
import type { GpufleetQuery } from '../types';
import { QueryEditor } from './QueryEditor';

function Harness({
  initial,
  onChange,
  onRunQuery,
}: {
  initial: GpufleetQuery;
  onChange: jest.Mock;
  onRunQuery: jest.Mock;
}) {
  const [query, setQuery] = useState(initial);
  return (
    <QueryEditor
      datasource={{} as GpufleetDataSource}
      query={query}
      onChange={(q) => {
        setQuery(q);
        onChange(q);
      }}
      onRunQuery={onRunQuery}
    />
  );
}

function setup(initial: GpufleetQuery) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<Harness initial={initial} onChange={onChange} onRunQuery={onRunQuery} />);
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
    const { onChange, onRunQuery } = setup({ refId: 'A', kind: 'topology', filters: {} });
    await userEvent.type(screen.getByLabelText('Host filter'), '$host');
    expect(onRunQuery).not.toHaveBeenCalled();
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'topology', filters: { host: '$host' } });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('removes a filter that is cleared', async () => {
    const { onChange } = setup({ refId: 'A', kind: 'engines', filters: { model: '$model', host: 'gpu-host-1' } });
    await userEvent.clear(screen.getByLabelText('Model filter'));
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'engines', filters: { host: 'gpu-host-1' } });
  });

  it('shows only the filters that apply to the kind', () => {
    setup({ refId: 'A', kind: 'gpus' });
    expect(screen.getByLabelText('Host filter')).toBeInTheDocument();
    expect(screen.getByLabelText('GPU filter')).toBeInTheDocument();
    expect(screen.queryByLabelText('Model filter')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Metric')).not.toBeInTheDocument();
  });

  it('asks for a metric only for time series, defaulting to GPU utilization', async () => {
    const { onChange } = setup({ refId: 'A', kind: 'gpus' });
    await userEvent.click(screen.getByRole('radio', { name: 'Time series' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization' });
    expect(screen.getByRole('combobox', { name: 'Metric' })).toHaveValue('gpu.utilization');
  });

  it('changes the metric from the list', async () => {
    const { onChange, onRunQuery } = setup({ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization' });
    const metric = screen.getByRole('combobox', { name: 'Metric' });
    const current = (metric as HTMLInputElement).value;
    // Typing over the selected value, as after focusing the field in a browser.
    await userEvent.type(metric, 'kvCache', { initialSelectionStart: 0, initialSelectionEnd: current.length });
    await userEvent.click(await screen.findByRole('option', { name: /engine\.kvCacheUsage/ }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'timeseries', metric: 'engine.kvCacheUsage' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('flags a gpu query without a GPU', () => {
    setup({ refId: 'A', kind: 'gpu', filters: {} });
    expect(screen.getByText('The gpu kind needs a GPU')).toBeInTheDocument();
  });
});
