import React from 'react';
import type { StandardEditorProps } from '@grafana/data';
import { Input } from '@grafana/ui';

export interface LinkTemplateSettings {
  placeholder?: string;
}

/**
 * The text input of the "GPU link" and "Engine link" options. Grafana's own text option editor
 * stores a cleared input as undefined, and Grafana merges the option defaults under the saved
 * options (getPanelOptionsWithDefaults), so the default link would come back and a link could never
 * be switched off. This editor stores a cleared input as '', which that merge keeps: empty = no link.
 * Like Grafana's editor it commits on blur and on Enter, not on every key.
 */
export function LinkTemplateEditor({ value, onChange, item, id }: StandardEditorProps<string, LinkTemplateSettings>) {
  const commit = (next: string) => {
    if (next !== (value ?? '')) {
      onChange(next);
    }
  };
  return (
    <Input
      id={id}
      defaultValue={value ?? ''}
      placeholder={item.settings?.placeholder}
      onBlur={(e) => commit(e.currentTarget.value.trim())}
      onKeyDown={(e) => {
        if (e.key === 'Enter') {
          commit(e.currentTarget.value.trim());
        }
      }}
    />
  );
}
