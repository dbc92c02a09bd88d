import React, { type ChangeEvent, useState } from 'react';
import type { AnnotationQuery, QueryEditorProps } from '@grafana/data';
import { Checkbox, InlineField, InlineFieldRow, Input, Stack } from '@grafana/ui';

import { EVENT_KINDS, type EventKind, type GpufleetQuery } from '../types';

type Props = QueryEditorProps<any, GpufleetQuery> & {
  annotation?: AnnotationQuery<GpufleetQuery>;
  onAnnotationChange?: (annotation: AnnotationQuery<GpufleetQuery>) => void;
};

/**
 * Annotations come from the sidecar's event log (GET /api/v1/events): engine up/down, MIG
 * reconfiguration, vGPU attach/detach, Xid errors, lost GPUs. The editor narrows them by host and kind.
 */
export function AnnotationQueryEditor({ query, onChange }: Props) {
  const [host, setHost] = useState(query.filters?.host ?? '');
  const selected = new Set<EventKind>(query.eventKinds ?? []);

  const toggle = (kind: EventKind) => (e: ChangeEvent<HTMLInputElement>) => {
    const next = new Set(selected);
    if (e.currentTarget.checked) {
      next.add(kind);
    } else {
      next.delete(kind);
    }
    onChange({ ...query, kind: 'events', eventKinds: EVENT_KINDS.filter((k) => next.has(k)) });
  };

  return (
    <Stack direction="column" gap={1}>
      <InlineFieldRow>
        <InlineField
          label="Host"
          labelWidth={12}
          tooltip="Only events of this host; variables allowed. Empty: all hosts."
        >
          <Input
            aria-label="Events host filter"
            width={30}
            placeholder="any, or $host"
            value={host}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setHost(e.target.value)}
            onBlur={() => onChange({ ...query, kind: 'events', filters: { ...query.filters, host: host.trim() } })}
          />
        </InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Event kinds" labelWidth={12} tooltip="None ticked: every kind">
          <Stack direction="row" gap={2} wrap="wrap">
            {EVENT_KINDS.map((k) => (
              <Checkbox key={k} label={k} value={selected.has(k)} onChange={toggle(k)} />
            ))}
          </Stack>
        </InlineField>
      </InlineFieldRow>
    </Stack>
  );
}
