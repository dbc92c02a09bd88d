import React from 'react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';

import { DEFAULT_GPU_LINK } from '../links';
import { LinkTemplateEditor } from './LinkTemplateEditor';

function renderEditor(value: string | undefined) {
  const onChange = jest.fn();
  render(
    <LinkTemplateEditor
      value={value as string}
      onChange={onChange}
      id="gpuLink"
      item={{ id: 'gpuLink', name: 'GPU link', settings: { placeholder: 'No link' } }}
      context={{ data: [] }}
    />
  );
  return { onChange, input: screen.getByRole('textbox') };
}

describe('LinkTemplateEditor (the "GPU link" / "Engine link" option inputs)', () => {
  it('shows the template; clearing it stores "" (no link), not undefined (which Grafana would turn back into the default)', async () => {
    const { onChange, input } = renderEditor(DEFAULT_GPU_LINK);
    expect(input).toHaveValue(DEFAULT_GPU_LINK);
    await userEvent.clear(input);
    await userEvent.tab();
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenCalledWith('');
    expect(input).toHaveAttribute('placeholder', 'No link');
  });

  it('commits a new template on Enter and on blur, trimmed; an unchanged blur commits nothing', async () => {
    const { onChange, input } = renderEditor('');
    await userEvent.click(input);
    await userEvent.tab();
    expect(onChange).not.toHaveBeenCalled();
    await userEvent.click(input);
    // userEvent.type reads { as a key descriptor; {{ types one.
    await userEvent.type(input, '  /d/mine/x?var-gpu=${{gpu}  {Enter}');
    expect(onChange).toHaveBeenLastCalledWith('/d/mine/x?var-gpu=${gpu}');
  });
});
