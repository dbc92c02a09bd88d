import { FieldConfigProperty, PanelPlugin } from '@grafana/data';

import { LinkTemplateEditor, type LinkTemplateSettings } from './components/LinkTemplateEditor';
import { TopologyPanel } from './components/TopologyPanel';
import { DEFAULT_THRESHOLDS } from './format';
import { ENGINE_LINK_FIELDS, GPU_LINK_FIELDS } from './links';
import { COLOR_BY_TEXT, DEFAULT_OPTIONS, type TopologyOptions } from './types';

/** "${host}, ${gpu}, …" for the option descriptions. */
function placeholders(names: readonly string[]): string {
  return names.map((n) => `\${${n}}`).join(', ');
}

// Static imports only: chunks of a nested plugin would be fetched from the app's folder.
export const plugin = new PanelPlugin<TopologyOptions>(TopologyPanel)
  .useFieldConfig({
    // Only thresholds mean something here (they colour the nodes); the other standard options would
    // be settings that silently do nothing.
    disableStandardOptions: [
      FieldConfigProperty.Unit,
      FieldConfigProperty.Min,
      FieldConfigProperty.Max,
      FieldConfigProperty.FieldMinMax,
      FieldConfigProperty.Decimals,
      FieldConfigProperty.DisplayName,
      FieldConfigProperty.NoValue,
      FieldConfigProperty.Mappings,
      FieldConfigProperty.Links,
      FieldConfigProperty.Actions,
      FieldConfigProperty.Color,
      FieldConfigProperty.Filterable,
    ],
    standardOptions: {
      [FieldConfigProperty.Thresholds]: { defaultValue: DEFAULT_THRESHOLDS },
    },
  })
  .setPanelOptions((builder) =>
    builder
      .addRadio({
        path: 'colorBy',
        name: 'Colour by',
        description: 'The figure that colours each node, compared with the thresholds (percent).',
        defaultValue: DEFAULT_OPTIONS.colorBy,
        settings: {
          options: [
            { value: 'load', label: 'Load', description: COLOR_BY_TEXT.load },
            { value: 'memory', label: 'Memory', description: COLOR_BY_TEXT.memory },
            { value: 'none', label: 'Kind', description: COLOR_BY_TEXT.none },
          ],
        },
      })
      .addRadio({
        path: 'groupBy',
        name: 'Group GPUs by',
        defaultValue: DEFAULT_OPTIONS.groupBy,
        settings: {
          options: [
            { value: 'host', label: 'Host' },
            { value: 'engine', label: 'Engine' },
            { value: 'none', label: 'None' },
          ],
        },
      })
      .addBooleanSwitch({
        path: 'showWorkers',
        name: 'Show ranks',
        description: 'The column of engine ranks / workers between engines and GPUs.',
        defaultValue: DEFAULT_OPTIONS.showWorkers,
      })
      .addCustomEditor<LinkTemplateSettings, string>({
        id: 'gpuLink',
        path: 'gpuLink',
        name: 'GPU link',
        category: ['Data links'],
        description:
          `"Open GPU dashboard" in a GPU's drill-down. Node fields (URL-encoded): ${placeholders(GPU_LINK_FIELDS)} ` +
          '(mig: the clicked MIG instance, if any); dashboard variables and ${__url_time_range} work too. Empty: no link.',
        defaultValue: DEFAULT_OPTIONS.gpuLink,
        editor: LinkTemplateEditor,
        settings: { placeholder: 'No link' },
      })
      .addCustomEditor<LinkTemplateSettings, string>({
        id: 'engineLink',
        path: 'engineLink',
        name: 'Engine link',
        category: ['Data links'],
        description:
          `"Open engine dashboard" on a clicked engine and in the GPU drill-down. Node fields (URL-encoded): ` +
          `${placeholders(ENGINE_LINK_FIELDS)}; dashboard variables and ` +
          '${__url_time_range} work too. Empty: no link.',
        defaultValue: DEFAULT_OPTIONS.engineLink,
        editor: LinkTemplateEditor,
        settings: { placeholder: 'No link' },
      })
  );
