import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { GpufleetDataSource } from './datasource';
import type { GpufleetOptions, GpufleetQuery, GpufleetSecureJsonData } from './types';

// Static imports only: a lazy import() here would be fetched from the app's folder, not this one
// (create-plugin sets one publicPath, the app's, for every entry).
export const plugin = new DataSourcePlugin<GpufleetDataSource, GpufleetQuery, GpufleetOptions, GpufleetSecureJsonData>(
  GpufleetDataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
