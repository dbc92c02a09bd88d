import React from 'react';
import type { AppRootProps } from '@grafana/data';
import { Card, LinkButton, Stack, Text } from '@grafana/ui';

export const DATASOURCE_ID = 'gpufleet-sidecar-datasource';
export const PANEL_ID = 'gpufleet-topology-panel';

/**
 * The app's own page: what the app brings and where to start. The work happens in the nested data
 * source and panel, which Grafana lists as plugins of their own once this app is installed.
 */
export function AppRoot(_props: AppRootProps) {
  return (
    <Stack direction="column" gap={2}>
      <Text element="h2">gpufleet: GPU, MIG, vGPU and vLLM observability</Text>
      <Text color="secondary">
        The gpufleet sidecar runs on each GPU host and collects its GPUs, MIG and vGPU instances, vLLM engines and which
        engine rank runs on which GPU. This app reads it through two plugins.
      </Text>
      <Card>
        <Card.Heading>gpufleet sidecar data source</Card.Heading>
        <Card.Description>
          Query kinds topology, gpus, gpu, engines, processes and timeseries; template variables for hosts, GPUs, MIG
          instances, engines and models; annotations from the sidecar&apos;s events. Add one per sidecar, with its URL
          and optional token.
        </Card.Description>
        <Card.Actions>
          <LinkButton href={`connections/datasources/${DATASOURCE_ID}`} icon="plus">
            Add the data source
          </LinkButton>
        </Card.Actions>
      </Card>
      <Card>
        <Card.Heading>gpufleet topology panel</Card.Heading>
        <Card.Description>
          Engines → ranks → GPUs → MIG / vGPU instances as layered columns coloured by load; click a GPU for its MIG and
          vGPU instances. Choose it as the visualization of a panel whose query kind is topology.
        </Card.Description>
      </Card>
    </Stack>
  );
}
