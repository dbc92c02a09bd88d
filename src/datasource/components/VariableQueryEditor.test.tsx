import React from 'react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import { VariableQueryEditor, variableDefinition } from './VariableQueryEditor';

describe('VariableQueryEditor', () => {
  it('picks which values the variable lists and narrows them by a (variable) host', async () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor query={{ refId: 'v', name: 'hosts' }} onChange={onChange} />);
    await userEvent.click(screen.getByRole('radio', { name: 'MIG instances' }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'variable', name: 'migs', filters: {} });
  });

  it('edits the filters of a stored text query ("gpus?host=$host")', async () => {
    const onChange = jest.fn();
    render(<VariableQueryEditor query="gpus?host=$host" onChange={onChange} />);
    const host = screen.getByLabelText('Variable host filter');
    expect(host).toHaveValue('$host');
    await userEvent.clear(host);
    await userEvent.type(host, 'gpu-host-2');
    await userEvent.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'variable', name: 'gpus', filters: { host: 'gpu-host-2' } });
  });

  it('describes the query in the text form the data source also accepts', () => {
    expect(variableDefinition({ name: 'migs', filters: { host: '$host', gpu: '$gpu' } })).toBe(
      'migs?host=$host&gpu=$gpu'
    );
  });
});
