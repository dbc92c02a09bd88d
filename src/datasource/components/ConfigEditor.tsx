import React, { type ChangeEvent } from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Alert, Field, FieldSet, Input, SecretInput } from '@grafana/ui';

import type { GpufleetOptions, GpufleetSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<GpufleetOptions, GpufleetSecureJsonData>;

/** What is wrong with a sidecar URL, or undefined when it looks usable. */
export function validateUrl(url: string | undefined): string | undefined {
  if (!url) {
    return 'Enter the sidecar URL, such as http://gpu-host:9740.';
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'Not a URL. Use the form http://gpu-host:9740.';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return 'The sidecar speaks HTTP: the URL must start with http:// or https://.';
  }
  if (parsed.pathname !== '/' && parsed.pathname !== '') {
    return 'Give the sidecar base URL without a path; the plugin adds /api/v1/… itself.';
  }
  return undefined;
}

/**
 * The sidecar's URL and its optional bearer token.
 *
 * The URL is the data source's standard `url` and requests go through Grafana's data proxy
 * (access "proxy"): the browser never talks to the sidecar, so the sidecar need not be reachable
 * from users' machines and needs no CORS. The token goes to secureJsonData: Grafana encrypts it,
 * never returns it to the browser, and the plugin.json route adds it as `Authorization: Bearer …`.
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const urlProblem = options.url ? validateUrl(options.url) : undefined;
  const tokenConfigured = Boolean(options.secureJsonFields?.token);

  const onUrlChange = (e: ChangeEvent<HTMLInputElement>) => {
    onOptionsChange({ ...options, url: e.target.value.trim(), access: 'proxy' });
  };
  const onTokenChange = (e: ChangeEvent<HTMLInputElement>) => {
    onOptionsChange({ ...options, secureJsonData: { ...options.secureJsonData, token: e.target.value } });
  };
  const onTokenReset = () => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...options.secureJsonFields, token: false },
      secureJsonData: { ...options.secureJsonData, token: '' },
    });
  };

  return (
    <>
      <FieldSet label="Sidecar">
        <Field
          label="URL"
          description="Base URL of the gpufleet sidecar as Grafana's server reaches it, e.g. http://gpu-host:9740. Requests go through Grafana's data proxy."
          invalid={Boolean(urlProblem)}
          error={urlProblem}
          required
        >
          <Input
            id="gpufleet-url"
            aria-label="Sidecar URL"
            width={48}
            placeholder="http://gpu-host:9740"
            value={options.url ?? ''}
            onChange={onUrlChange}
          />
        </Field>
        <Field
          label="Bearer token"
          description="Only if the sidecar was started with a token. Stored encrypted; Grafana adds it to each request as Authorization: Bearer <token>."
        >
          <SecretInput
            id="gpufleet-token"
            aria-label="Bearer token"
            width={48}
            placeholder="optional"
            isConfigured={tokenConfigured}
            value={options.secureJsonData?.token ?? ''}
            onChange={onTokenChange}
            onReset={onTokenReset}
          />
        </Field>
      </FieldSet>
      {!options.url && (
        <Alert severity="info" title="Where is the sidecar?">
          Run the gpufleet sidecar on each GPU host (or the docker-compose file), then enter its URL here and press
          &quot;Save &amp; test&quot;: the result lists which of its sources (GPU, vGPU, engines, Docker) work.
        </Alert>
      )}
    </>
  );
}
