import React from 'react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import { VariableQueryEditor, variableDefinition } from './VariableQueryEditor';

describe('VariableQueryEditor', () => {
  it('offers every variable the sidecar serves and picks which values the variable lists', async () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor query={{ refId: 'v', name: 'hosts' }} onChange={onChange} />);
    for (const label of ['Hosts', 'GPUs', 'MIG instances', 'vGPU instances', 'VMs', 'Engines', 'Models', 'Metrics']) {
      expect(screen.getByRole('radio', { name: label })).toBeInTheDocument();
    }
    // One sidecar is one host: GPUs are not narrowed by anything.
    expect(screen.queryByRole('textbox')).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole('radio', { name: 'MIG instances' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'variable', name: 'migs', filters: {} });
  });

  it('edits the GPU filter of a stored text query ("vms?gpu=$gpu")', async () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor query="vms?gpu=$gpu" onChange={onChange} />);
    const gpu = screen.getByLabelText('Variable gpu filter');
    expect(gpu).toHaveValue('$gpu');
    await userEvent.clear(gpu);
    await userEvent.type(gpu, '3');
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'variable', name: 'vms', filters: { gpu: '3' } });
  });

  it('describes the query in the text form the data source also accepts', () => {
    expect(variableDefinition({ name: 'migs', filters: { gpu: '$gpu' } })).toBe('migs?gpu=$gpu');
    expect(variableDefinition({ name: 'metrics', filters: {} })).toBe('metrics');
  });
});
