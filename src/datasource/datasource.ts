import {
  type AnnotationQuery,
  type DataFrame,
  type DataQueryError,
  type DataQueryRequest,
  type DataQueryResponse,
  DataSourceApi,
  type DataSourceInstanceSettings,
  FieldType,
  LoadingState,
  type MetricFindValue,
  type ScopedVars,
  type TestDataSourceResponse,
  type TimeRange,
  createDataFrame,
} from '@grafana/data';
import { type BackendSrvRequest, type TemplateSrv, getBackendSrv, getTemplateSrv } from '@grafana/runtime';
import { type Observable, catchError, forkJoin, lastValueFrom, map, of } from 'rxjs';

import { AnnotationQueryEditor } from './components/AnnotationQueryEditor';
import { describeError } from './errors';
import { toDataFrame } from './frames';
import { GpufleetVariableSupport } from './variables';
import {
  DEFAULT_QUERY,
  FILTER_NAMES,
  type FilterName,
  type FilterValue,
  type GpufleetOptions,
  type GpufleetQuery,
  type QueryFilters,
  SOURCE_NAMES,
  type SidecarEvents,
  type SidecarHealth,
  type SidecarQuery,
  type SidecarQueryKind,
  type SidecarQueryRequest,
  type SidecarQueryResponse,
  type SidecarVariableValues,
  VARIABLE_NAMES,
  type VariableName,
  type VariableQuery,
} from './types';

/** The plugin.json route that adds the bearer token; every sidecar call goes through it. */
export const PROXY_ROUTE = 'sidecar';

/** A filter value meaning "no filter", e.g. a variable's custom "All" value. */
const MATCH_ALL = new Set(['*', '$__all']);

export class GpufleetDataSource extends DataSourceApi<GpufleetQuery, GpufleetOptions> {
  /** `<grafana>/api/datasources/proxy/uid/<uid>/sidecar`: Grafana's data proxy forwards it to the sidecar's URL. */
  readonly baseUrl: string;

  constructor(
    instanceSettings: DataSourceInstanceSettings<GpufleetOptions>,
    // Injected for tests; Grafana's own singleton otherwise.
    private readonly templateSrv: TemplateSrv = getTemplateSrv()
  ) {
    super(instanceSettings);
    this.baseUrl = `${instanceSettings.url ?? ''}/${PROXY_ROUTE}`;
    this.variables = new GpufleetVariableSupport(this);
    this.annotations = {
      QueryEditor: AnnotationQueryEditor,
      getDefaultQuery: () => ({ kind: 'events', filters: {} }),
      // Annotations saved before a target existed (or provisioned without one) still run as an events query.
      prepareAnnotation: (json: AnnotationQuery<GpufleetQuery>) => ({
        ...json,
        target: { refId: 'Anno', filters: {}, ...json.target, kind: 'events' as const },
      }),
    };
  }

  getDefaultQuery(): Partial<GpufleetQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: GpufleetQuery): boolean {
    return !query.hide;
  }

  /** Dashboard variables in filters, resolved; multi-value variables become arrays. */
  applyTemplateVariables(query: GpufleetQuery, scopedVars: ScopedVars): GpufleetQuery {
    const filters: QueryFilters = {};
    for (const name of FILTER_NAMES) {
      const raw = query.filters?.[name];
      if (raw && raw.trim()) {
        filters[name] = this.templateSrv.replace(raw, scopedVars, joinMulti);
      }
    }
    return { ...query, filters };
  }

  interpolateVariablesInQueries(queries: GpufleetQuery[], scopedVars: ScopedVars): GpufleetQuery[] {
    return queries.map((q) => ({ ...this.applyTemplateVariables(q, scopedVars), datasource: this.getRef() }));
  }

  /** The body of POST /api/v1/query for the visible, non-events queries of a request. */
  buildSidecarRequest(request: DataQueryRequest<GpufleetQuery>): SidecarQueryRequest {
    const queries = request.targets
      .filter((t) => this.filterQuery(t) && t.kind !== 'events')
      .map((t): SidecarQuery => {
        const q = this.applyTemplateVariables(t, request.scopedVars);
        const kind: SidecarQueryKind = (q.kind as SidecarQueryKind) ?? 'topology';
        return {
          refId: q.refId,
          kind,
          filters: toWireFilters(q.filters),
          ...(kind === 'timeseries' && q.metric ? { metric: q.metric } : {}),
          from: request.range.from.toISOString(),
          to: request.range.to.toISOString(),
          maxDataPoints: request.maxDataPoints,
        };
      });
    return { queries };
  }

  query(request: DataQueryRequest<GpufleetQuery>): Observable<DataQueryResponse> {
    const visible = request.targets.filter((t) => this.filterQuery(t));
    const streams: Array<Observable<DataQueryResponse>> = [];
    const body = this.buildSidecarRequest(request);
    if (body.queries.length > 0) {
      streams.push(this.runSidecarQueries(body, request.requestId));
    }
    for (const target of visible.filter((t) => t.kind === 'events')) {
      streams.push(this.runEventsQuery(target, request.range, request.scopedVars));
    }
    if (streams.length === 0) {
      return of({ data: [], state: LoadingState.Done });
    }
    return forkJoin(streams).pipe(
      map((responses) => {
        const data = responses.flatMap((r) => r.data);
        const errors = responses.flatMap((r) => r.errors ?? []);
        return {
          data,
          ...(errors.length ? { errors, state: LoadingState.Error } : { state: LoadingState.Done }),
        };
      })
    );
  }

  private runSidecarQueries(body: SidecarQueryRequest, requestId?: string): Observable<DataQueryResponse> {
    return getBackendSrv()
      .fetch<SidecarQueryResponse>(this.request('/api/v1/query', { method: 'POST', data: body, requestId }))
      .pipe(
        map((response) => {
          const data: DataFrame[] = [];
          const errors: DataQueryError[] = [];
          for (const q of body.queries) {
            const result = response.data?.results?.[q.refId];
            if (!result) {
              errors.push({ refId: q.refId, message: `The sidecar returned no result for query ${q.refId}.` });
              continue;
            }
            if (result.error) {
              const message = typeof result.error === 'string' ? result.error : result.error.message;
              errors.push({
                refId: q.refId,
                message: `The sidecar could not run query ${q.refId}: ${message}`,
                status: result.status,
              });
            }
            for (const frameJson of result.frames ?? []) {
              try {
                data.push(toDataFrame(frameJson, q.refId));
              } catch (e) {
                errors.push({
                  refId: q.refId,
                  message: `Unreadable answer for query ${q.refId}: ${describeError(e).message}`,
                });
              }
            }
          }
          return { data, errors };
        }),
        catchError((err) => {
          const described = describeError(err);
          return of({
            data: [],
            errors: body.queries.map((q) => ({ refId: q.refId, message: described.message, status: described.status })),
          });
        })
      );
  }

  /** Annotations: GET /api/v1/events as a frame with the fields Grafana maps to events (time, title, text, tags). */
  private runEventsQuery(
    target: GpufleetQuery,
    range: TimeRange,
    scopedVars: ScopedVars
  ): Observable<DataQueryResponse> {
    const filters = toWireFilters(this.applyTemplateVariables(target, scopedVars).filters);
    const hosts = filters.host === undefined ? undefined : new Set([filters.host].flat());
    const kinds = target.eventKinds?.length ? new Set<string>(target.eventKinds) : undefined;
    return getBackendSrv()
      .fetch<SidecarEvents>(
        this.request('/api/v1/events', { params: { from: range.from.toISOString(), to: range.to.toISOString() } })
      )
      .pipe(
        map((response) => {
          const events = (response.data?.events ?? []).filter(
            (e) => (!hosts || hosts.has(e.host)) && (!kinds || kinds.has(e.kind))
          );
          const frame = createDataFrame({
            refId: target.refId,
            name: 'events',
            fields: [
              { name: 'time', type: FieldType.time, values: events.map((e) => Date.parse(e.time)) },
              { name: 'title', type: FieldType.string, values: events.map((e) => `${e.kind} · ${e.subject}`) },
              { name: 'text', type: FieldType.string, values: events.map((e) => `${e.text} (${e.host})`) },
              { name: 'tags', type: FieldType.other, values: events.map((e) => ['gpufleet', e.kind, e.host]) },
            ],
          });
          return { data: [frame] };
        }),
        catchError((err) => of({ data: [], errors: [{ refId: target.refId, ...describeError(err) }] }))
      );
  }

  /**
   * Template variable values from GET /api/v1/variables/:name.
   * The query is a {name, filters} object from the variable editor, or a string such as
   * `gpus` or `gpus?host=$host` (handy in provisioned dashboards).
   */
  async metricFindQuery(
    query: Pick<VariableQuery, 'name' | 'filters'> | string,
    options?: { scopedVars?: ScopedVars }
  ): Promise<MetricFindValue[]> {
    const parsed = parseVariableQuery(query);
    const interpolated = this.applyTemplateVariables(
      { refId: 'variable', kind: 'topology', filters: parsed.filters },
      options?.scopedVars ?? {}
    );
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(toWireFilters(interpolated.filters))) {
      params[name] = [value].flat().join(',');
    }
    try {
      const response = await lastValueFrom(
        getBackendSrv().fetch<SidecarVariableValues>(
          this.request(`/api/v1/variables/${encodeURIComponent(parsed.name)}`, { params })
        )
      );
      return (response.data?.values ?? []).map((v) => ({ text: v.text, value: v.value }));
    } catch (err) {
      throw new Error(`Could not load the values of "${parsed.name}": ${describeError(err).message}`);
    }
  }

  /** "Save & test": the sidecar's version and, per source, whether it works and why not. */
  async testDatasource(): Promise<TestDataSourceResponse> {
    let health: SidecarHealth;
    try {
      const response = await lastValueFrom(getBackendSrv().fetch<SidecarHealth>(this.request('/api/v1/health')));
      health = response.data;
    } catch (err) {
      return { status: 'error', message: describeError(err).message };
    }
    if (!health || typeof health !== 'object' || !health.sources) {
      return {
        status: 'error',
        message: 'The URL answered, but not like a gpufleet sidecar (no sources in /api/v1/health). Check the URL.',
      };
    }
    return healthToTestResult(health);
  }

  private request(path: string, extra: Partial<BackendSrvRequest> = {}): BackendSrvRequest {
    // showErrorAlert: false — the panel or the save & test box shows our readable message instead of
    // Grafana's generic toast.
    return { url: `${this.baseUrl}${path}`, method: 'GET', showErrorAlert: false, ...extra };
  }
}

/** Custom variable format: multi-value variables joined by commas, split again by toWireFilters(). */
function joinMulti(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(',') : String(value ?? '');
}

/**
 * Interpolated filter strings → the `filters` the sidecar gets: empty ones left out, comma lists
 * (from multi-value variables, or typed) sent as arrays, "*" / "$__all" meaning no filter.
 */
export function toWireFilters(filters: QueryFilters | undefined): Partial<Record<FilterName, FilterValue>> {
  const out: Partial<Record<FilterName, FilterValue>> = {};
  for (const name of FILTER_NAMES) {
    const raw = filters?.[name];
    if (!raw) {
      continue;
    }
    const values = Array.from(
      new Set(
        raw
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v.length > 0)
      )
    );
    if (values.length === 0 || values.some((v) => MATCH_ALL.has(v))) {
      continue;
    }
    out[name] = values.length === 1 ? values[0] : values;
  }
  return out;
}

export function parseVariableQuery(
  query: Pick<VariableQuery, 'name' | 'filters'> | string
): Pick<VariableQuery, 'name' | 'filters'> {
  let name: string;
  let filters: QueryFilters = {};
  if (typeof query === 'string') {
    const [head, search = ''] = query.trim().split('?', 2);
    name = head.trim();
    const params = new URLSearchParams(search);
    for (const f of FILTER_NAMES) {
      const v = params.get(f);
      if (v) {
        filters[f] = v;
      }
    }
  } else {
    name = query?.name;
    filters = query?.filters ?? {};
  }
  if (!VARIABLE_NAMES.includes(name as VariableName)) {
    throw new Error(`Unknown variable query "${name ?? ''}": use one of ${VARIABLE_NAMES.join(', ')}.`);
  }
  return { name: name as VariableName, filters };
}

function formatUptime(seconds: number): string {
  if (!Number.isFinite(seconds)) {
    return 'unknown';
  }
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) {
    return `${d}d ${h}h`;
  }
  if (h > 0) {
    return `${h}h ${m}m`;
  }
  return `${m}m ${Math.floor(seconds % 60)}s`;
}

export function healthToTestResult(health: SidecarHealth): TestDataSourceResponse {
  const lines: string[] = [];
  const problems: string[] = [];
  // Known sources in a fixed order, then any the sidecar added since.
  const known: readonly string[] = SOURCE_NAMES;
  const names = [
    ...known.filter((n) => health.sources[n]),
    ...Object.keys(health.sources).filter((n) => !known.includes(n) && health.sources[n]),
  ];
  for (const name of names) {
    const s = health.sources[name]!;
    const age =
      s.ageSeconds !== undefined && s.ageSeconds !== null ? `, last success ${Math.round(s.ageSeconds)}s ago` : '';
    const why = s.error ? `: ${s.error}` : '';
    lines.push(`${name}: ${s.status}${why}${s.status === 'stale' || s.status === 'failed' ? age : ''}`);
    if (s.status === 'failed' || s.status === 'stale') {
      problems.push(`${name} ${s.status}${why}`);
    }
  }
  const working = names.filter((n) => health.sources[n]?.status === 'ok');
  const disabled = names.filter((n) => health.sources[n]?.status === 'disabled');
  // Just after the sidecar started: not a problem, but nothing to show yet for these.
  const starting = names.filter((n) => health.sources[n]?.status === 'starting');
  const on = health.host ? ` on ${health.host}` : '';
  const head = `gpufleet sidecar ${health.version}${on} (up ${formatUptime(health.uptimeSeconds)}) is ${health.status}.`;
  const summary = [
    working.length ? `Working: ${working.join(', ')}.` : 'No source works.',
    problems.length ? `Problems: ${problems.join('; ')}.` : '',
    starting.length ? `Starting: ${starting.join(', ')} (first collection not finished; test again in a few seconds).` : '',
    disabled.length ? `Disabled: ${disabled.join(', ')}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
  // Without GPU readings nothing the plugin shows is current, whatever the other sources say.
  const gpuFailed = health.sources.gpu?.status === 'failed';
  const status =
    health.status === 'failing' || gpuFailed
      ? 'error'
      : health.status === 'degraded' || health.status === 'starting'
        ? 'warning'
        : 'success';
  return {
    status,
    message: `${head} ${summary}`,
    details: { message: 'Sources', verboseMessage: lines.join('\n') },
  };
}
