import React, { useState } from 'react';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { DataSourceSettings } from '@grafana/data';

import type { GpufleetOptions, GpufleetSecureJsonData } from '../types';
import { ConfigEditor, validateUrl } from './ConfigEditor';

type Settings = DataSourceSettings<GpufleetOptions, GpufleetSecureJsonData>;

function settings(partial: Partial<Settings> = {}): Settings {
  return {
    id: 1,
    uid: 'gf',
    orgId: 1,
    name: 'gpufleet sidecar',
    type: 'gpufleet-sidecar-datasource',
    typeName: 'gpufleet sidecar',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData: {},
    secureJsonFields: {},
    readOnly: false,
    withCredentials: false,
    ...partial,
  } as Settings;
}

/** Holds the options like Grafana's settings page does, so typing accumulates. */
function Harness({ initial, onChange }: { initial: Settings; onChange: (s: Settings) => void }) {
  const [options, setOptions] = useState(initial);
  return (
    <ConfigEditor
      options={options}
      onOptionsChange={(o) => {
        setOptions(o);
        onChange(o);
      }}
    />
  );
}

describe('ConfigEditor', () => {
  it('stores the sidecar URL as the data source URL, accessed through the proxy', async () => {
    const onChange = jest.fn();
    render(<Harness initial={settings()} onChange={onChange} />);
    expect(screen.getByText('Where is the sidecar?')).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText('Sidecar URL'), 'http://gpu-host-1:9740');
    const last: Settings = onChange.mock.calls.at(-1)[0];
    expect(last.url).toBe('http://gpu-host-1:9740');
    expect(last.access).toBe('proxy');
    expect(screen.queryByText('Where is the sidecar?')).not.toBeInTheDocument();
  });

  it('says what is wrong with a bad URL', () => {
    render(<ConfigEditor options={settings({ url: 'gpu-host-1:9740/api' })} onOptionsChange={jest.fn()} />);
    expect(
      screen.getByText('The sidecar speaks HTTP: the URL must start with http:// or https://.')
    ).toBeInTheDocument();
    expect(validateUrl('http://gpu-host-1:9740/api/v1')).toBe(
      'Give the sidecar base URL without a path; the plugin adds /api/v1/… itself.'
    );
    expect(validateUrl('not a url')).toBe('Not a URL. Use the form http://gpu-host:9740.');
    expect(validateUrl('https://gpu-host-1:9740')).toBeUndefined();
  });

  it('puts the token in secureJsonData, never in jsonData', async () => {
    const onChange = jest.fn();
    render(<Harness initial={settings({ url: 'http://gpu-host-1:9740' })} onChange={onChange} />);
    await userEvent.type(screen.getByLabelText('Bearer token'), 's3cret');
    const last: Settings = onChange.mock.calls.at(-1)[0];
    expect(last.secureJsonData).toEqual({ token: 's3cret' });
    expect(JSON.stringify(last.jsonData)).not.toContain('s3cret');
  });

  it('shows a saved token as configured and can reset it', async () => {
    const onChange = jest.fn();
    render(
      <Harness
        initial={settings({ url: 'http://gpu-host-1:9740', secureJsonFields: { token: true } })}
        onChange={onChange}
      />
    );
    const token = screen.getByLabelText('Bearer token');
    expect(token).toBeDisabled();
    expect(token).toHaveValue('configured');
    await userEvent.click(screen.getByRole('button', { name: 'Reset' }));
    const last: Settings = onChange.mock.calls.at(-1)[0];
    expect(last.secureJsonFields.token).toBe(false);
    expect(last.secureJsonData).toEqual({ token: '' });
    expect(screen.getByLabelText('Bearer token')).not.toBeDisabled();
  });
});
