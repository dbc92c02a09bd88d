import { FieldConfigProperty, PanelPlugin } from '@grafana/data';

import { LinkTemplateEditor, type LinkTemplateSettings } from './components/LinkTemplateEditor';
import { TopologyPanel } from './components/TopologyPanel';
import { DEFAULT_THRESHOLDS } from './format';
import { ENGINE_LINK_FIELDS, GPU_LINK_FIELDS } from './links';
import { COLOR_BY_TEXT, DEFAULT_OPTIONS, TILE_COLOR_BY_TEXT, type TopologyOptions } from './types';

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
      .addNumberInput({
        path: 'nodeCap',
        name: 'Node cap',
        description:
          'Most nodes drawn (engines, ranks, GPUs, MIG / vGPU instances). Past it the panel draws the first GPUs by host and lists what it left out.',
        defaultValue: DEFAULT_OPTIONS.nodeCap,
        settings: { min: 50, integer: true },
      })
      .addTextInput({
        path: 'fleetGroupBy',
        name: 'Group hosts by label',
        category: ['Fleet (Prometheus)'],
        description:
          'The label that groups the host tiles: cluster, rack, datacenter (set by relabeling or external labels); a dashboard variable such as $group works. Empty: no groups.',
        defaultValue: DEFAULT_OPTIONS.fleetGroupBy,
      })
      .addRadio({
        path: 'tileColorBy',
        name: 'Colour host tiles by',
        category: ['Fleet (Prometheus)'],
        defaultValue: DEFAULT_OPTIONS.tileColorBy,
        settings: {
          options: [
            { value: 'load', label: 'Load', description: TILE_COLOR_BY_TEXT.load },
            { value: 'memory', label: 'Memory', description: TILE_COLOR_BY_TEXT.memory },
            { value: 'free', label: 'Capacity', description: TILE_COLOR_BY_TEXT.free },
            { value: 'alerts', label: 'Alerts', description: TILE_COLOR_BY_TEXT.alerts },
          ],
        },
      })
      .addTextInput({
        path: 'hostVariable',
        name: 'Host variable',
        category: ['Fleet (Prometheus)'],
        description:
          'The dashboard variable a click on a host tile sets (so the queries can narrow to {host="$host"}); when it holds one host the panel opens that host. Empty: the panel filters on its own.',
        defaultValue: DEFAULT_OPTIONS.hostVariable,
      })
      .addTextInput({
        path: 'filterVariables',
        name: 'Filter variables',
        category: ['Fleet (Prometheus)'],
        description:
          'Comma-separated dashboard variables (e.g. model, engine): when one is set to anything but All, the panel shows the engines → GPUs topology across hosts instead of the host tiles.',
        defaultValue: DEFAULT_OPTIONS.filterVariables,
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
