import React, { type ChangeEvent, useEffect, useState } from 'react';
import type { QueryEditorProps, SelectableValue } from '@grafana/data';
import {
  Combobox,
  type ComboboxOption,
  InlineField,
  InlineFieldRow,
  Input,
  RadioButtonGroup,
  Stack,
} from '@grafana/ui';

import type { GpufleetDataSource } from '../datasource';
import {
  type FilterName,
  type GpufleetOptions,
  type GpufleetQuery,
  METRICS,
  METRIC_DESCRIPTIONS,
  type MetricName,
  QUERY_KINDS,
  QUERY_KIND_LABELS,
  type SidecarQueryKind,
} from '../types';

type Props = QueryEditorProps<GpufleetDataSource, GpufleetQuery, GpufleetOptions>;

const KIND_OPTIONS: Array<SelectableValue<SidecarQueryKind>> = QUERY_KINDS.map((k) => ({
  value: k,
  label: QUERY_KIND_LABELS[k].label,
  description: QUERY_KIND_LABELS[k].description,
}));

function metricOption(name: string, description?: string): ComboboxOption<MetricName> {
  return { value: name, label: name, description: METRIC_DESCRIPTIONS[name] ?? description };
}

const STATIC_METRIC_OPTIONS: Array<ComboboxOption<MetricName>> = METRICS.map((m) => metricOption(m));

export const FILTER_LABELS: Record<FilterName, { label: string; placeholder: string; tooltip: string }> = {
  host: { label: 'Host', placeholder: 'any, or $host', tooltip: 'Hostname of the GPU host' },
  gpu: { label: 'GPU', placeholder: 'any, or $gpu', tooltip: 'GPU UUID or index, or a MIG UUID (its GPU)' },
  mig: { label: 'MIG', placeholder: 'any, or $mig', tooltip: 'MIG instance UUID' },
  vgpu: { label: 'vGPU', placeholder: 'any, or $vgpu', tooltip: 'vGPU instance id or UUID' },
  vm: { label: 'VM', placeholder: 'any, or $vm', tooltip: 'Name or id of the VM a vGPU belongs to' },
  engine: { label: 'Engine', placeholder: 'any, or $engine', tooltip: 'Engine id' },
  model: { label: 'Model', placeholder: 'any, or $model', tooltip: 'Served model name' },
};

/**
 * The filters the sidecar applies for each kind; the others are hidden so the editor does not offer
 * settings that silently do nothing. The topology kind always answers the whole host.
 */
export const FILTERS_FOR_KIND: Record<SidecarQueryKind, FilterName[]> = {
  topology: [],
  gpus: ['host', 'gpu'],
  gpu: ['gpu'],
  engines: ['engine', 'model'],
  processes: ['host', 'gpu'],
  timeseries: ['host', 'gpu', 'mig', 'vgpu', 'vm'],
};

/** The sidecar's metric names (GET /api/v1/variables/metrics), or the built-in list when it cannot say. */
function useMetricOptions(datasource: GpufleetDataSource, enabled: boolean): Array<ComboboxOption<MetricName>> {
  const [options, setOptions] = useState(STATIC_METRIC_OPTIONS);
  useEffect(() => {
    if (!enabled || typeof datasource?.metricFindQuery !== 'function') {
      return;
    }
    let live = true;
    datasource.metricFindQuery('metrics').then(
      (values) => {
        if (live && values.length > 0) {
          setOptions(values.map((v) => metricOption(String(v.value ?? v.text), String(v.text))));
        }
      },
      () => {} // keep the built-in list
    );
    return () => {
      live = false;
    };
  }, [datasource, enabled]);
  return options;
}

/**
 * Kind, filters and (for time series) the metric. Filters are free text so that dashboard variables
 * ($host, ${gpu:csv}) can be typed; a comma list or a multi-value variable matches any of its values.
 * The query runs when a choice is made or a filter loses focus, not on every keystroke.
 */
export function QueryEditor({ datasource, query, onChange, onRunQuery }: Props) {
  const kind: SidecarQueryKind = query.kind && query.kind !== 'events' ? query.kind : 'topology';
  // Local copies so typing does not re-run the query per key.
  const [filters, setFilters] = useState(query.filters ?? {});
  const metricOptions = useMetricOptions(datasource, kind === 'timeseries');

  const run = (next: GpufleetQuery) => {
    onChange(next);
    onRunQuery();
  };

  const onKindChange = (value: SidecarQueryKind) => {
    const next: GpufleetQuery = { ...query, kind: value };
    if (value === 'timeseries' && !next.metric) {
      next.metric = 'gpu.utilization';
    }
    run(next);
  };

  const onFilterChange = (name: FilterName) => (e: ChangeEvent<HTMLInputElement>) => {
    setFilters({ ...filters, [name]: e.target.value });
  };

  const onFilterBlur = (name: FilterName) => () => {
    const value = (filters[name] ?? '').trim();
    if (value === (query.filters?.[name] ?? '')) {
      return;
    }
    const nextFilters = { ...query.filters, [name]: value };
    if (!value) {
      delete nextFilters[name];
    }
    run({ ...query, filters: nextFilters });
  };

  return (
    <Stack direction="column" gap={1}>
      <InlineFieldRow>
        <InlineField label="Kind" labelWidth={10} tooltip={QUERY_KIND_LABELS[kind].description}>
          <RadioButtonGroup<SidecarQueryKind> options={KIND_OPTIONS} value={kind} onChange={onKindChange} size="sm" />
        </InlineField>
      </InlineFieldRow>
      {kind === 'timeseries' && (
        <InlineFieldRow>
          <InlineField label="Metric" labelWidth={10} tooltip="Named metric from the sidecar store">
            <Combobox<MetricName>
              id="gpufleet-metric"
              aria-label="Metric"
              width={36}
              options={metricOptions}
              createCustomValue
              value={query.metric ?? 'gpu.utilization'}
              onChange={(option) => run({ ...query, metric: option.value })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {FILTERS_FOR_KIND[kind].length === 0 && (
        <div>The topology covers the whole host the sidecar runs on; it takes no filters.</div>
      )}
      <InlineFieldRow>
        {FILTERS_FOR_KIND[kind].map((name) => (
          <InlineField
            key={name}
            label={FILTER_LABELS[name].label}
            labelWidth={10}
            tooltip={FILTER_LABELS[name].tooltip}
            invalid={kind === 'gpu' && name === 'gpu' && !filters.gpu}
            error={kind === 'gpu' && name === 'gpu' && !filters.gpu ? 'The gpu kind needs a GPU' : undefined}
          >
            <Input
              aria-label={`${FILTER_LABELS[name].label} filter`}
              width={24}
              placeholder={FILTER_LABELS[name].placeholder}
              value={filters[name] ?? ''}
              onChange={onFilterChange(name)}
              onBlur={onFilterBlur(name)}
            />
          </InlineField>
        ))}
      </InlineFieldRow>
    </Stack>
  );
}
