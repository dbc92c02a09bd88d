import { CustomVariableSupport, type DataQueryRequest, type DataQueryResponse } from '@grafana/data';
import { type Observable, from, map } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { GpufleetDataSource } from './datasource';
import type { VariableQuery } from './types';

/**
 * Template variables (hosts, GPUs, MIG instances, engines, models) through Grafana's variable
 * support API, which replaced setVariableQueryEditor. Values come from metricFindQuery, which also
 * accepts the text form ("gpus?host=$host") that provisioned dashboards may store.
 */
export class GpufleetVariableSupport extends CustomVariableSupport<GpufleetDataSource, VariableQuery> {
  // The editor only reads query/onChange; Grafana's props type names the data source's own query type.
  editor = VariableQueryEditor as unknown as CustomVariableSupport<GpufleetDataSource, VariableQuery>['editor'];

  constructor(private readonly datasource: GpufleetDataSource) {
    super();
  }

  query(request: DataQueryRequest<VariableQuery>): Observable<DataQueryResponse> {
    const [target] = request.targets;
    return from(this.datasource.metricFindQuery(target, { scopedVars: request.scopedVars })).pipe(
      map((values) => ({ data: values }))
    );
  }
}
