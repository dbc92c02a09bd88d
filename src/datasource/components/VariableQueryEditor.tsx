import React, { type ChangeEvent, useState } from 'react';
import type { SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack } from '@grafana/ui';

import { type QueryFilters, VARIABLE_NAMES, type VariableName, type VariableQuery } from '../types';

/**
 * Grafana's CustomVariableSupport editor props, narrowed to what is used. `query` may still be a
 * string in dashboards written by hand or provisioned ("gpus?host=$host").
 */
interface Props {
  query: VariableQuery | string | undefined;
  onChange: (query: VariableQuery) => void;
}

const NAME_LABELS: Record<VariableName, string> = {
  hosts: 'Hosts',
  gpus: 'GPUs',
  migs: 'MIG instances',
  vgpus: 'vGPU instances',
  vms: 'VMs',
  engines: 'Engines',
  models: 'Models',
  metrics: 'Metrics',
};

const NAME_OPTIONS: Array<SelectableValue<VariableName>> = VARIABLE_NAMES.map((n) => ({
  value: n,
  label: NAME_LABELS[n],
}));

/**
 * The filters that narrow each variable, as the sidecar applies them (`?gpu=`: the MIG instances,
 * vGPU instances or VMs of $gpu). One sidecar serves one host, so there is no host filter.
 */
const NARROWED_BY: Record<VariableName, Array<'gpu'>> = {
  hosts: [],
  gpus: [],
  migs: ['gpu'],
  vgpus: ['gpu'],
  vms: ['gpu'],
  engines: [],
  models: [],
  metrics: [],
};

/** The definition Grafana shows in the variables list; the same string works as a text query. */
export function variableDefinition(q: Pick<VariableQuery, 'name' | 'filters'>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q.filters ?? {})) {
    if (v) {
      params.set(k, v);
    }
  }
  const search = params.toString();
  return search ? `${q.name}?${decodeURIComponent(search)}` : q.name;
}

function normalise(query: Props['query']): VariableQuery {
  if (query && typeof query === 'object' && query.name) {
    return query;
  }
  if (typeof query === 'string' && query) {
    const [name, search = ''] = query.split('?', 2);
    const filters: QueryFilters = {};
    new URLSearchParams(search).forEach((v, k) => {
      if (k === 'host' || k === 'gpu' || k === 'engine') {
        filters[k] = v;
      }
    });
    if (VARIABLE_NAMES.includes(name as VariableName)) {
      return { refId: 'variable', name: name as VariableName, filters };
    }
  }
  return { refId: 'variable', name: 'gpus', filters: {} };
}

export function VariableQueryEditor({ query, onChange }: Props) {
  const current = normalise(query);
  const [filters, setFilters] = useState<QueryFilters>(current.filters ?? {});

  const emit = (next: Omit<VariableQuery, 'refId'>) => onChange({ refId: 'variable', ...next });

  return (
    <Stack direction="column" gap={1}>
      <InlineFieldRow>
        <InlineField label="Values of" labelWidth={14}>
          <RadioButtonGroup<VariableName>
            options={NAME_OPTIONS}
            value={current.name}
            onChange={(name) => emit({ name, filters: pick(filters, NARROWED_BY[name]) })}
          />
        </InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        {NARROWED_BY[current.name].map((f) => (
          <InlineField key={f} label={`Only for ${f}`} labelWidth={14} tooltip="Variables allowed, e.g. $host">
            <Input
              aria-label={`Variable ${f} filter`}
              width={24}
              placeholder={`any, or $${f}`}
              value={filters[f] ?? ''}
              onChange={(e: ChangeEvent<HTMLInputElement>) => setFilters({ ...filters, [f]: e.target.value })}
              onBlur={() => emit({ name: current.name, filters: pick(filters, NARROWED_BY[current.name]) })}
            />
          </InlineField>
        ))}
      </InlineFieldRow>
    </Stack>
  );
}

function pick(filters: QueryFilters, keys: Array<keyof QueryFilters>): QueryFilters {
  const out: QueryFilters = {};
  for (const k of keys) {
    const v = filters[k]?.trim();
    if (v) {
      out[k] = v;
    }
  }
  return out;
}
