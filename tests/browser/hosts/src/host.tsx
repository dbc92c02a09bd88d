/**
 * The browser tests' stand-in for Grafana's frontend: the shared externals registered with SystemJS
 * the way Grafana's plugin loader does it, the runtime services (backend, template, data source),
 * and small pages that mount the plugin's own components as Grafana would: the data source settings
 * page (config editor + "Save & test"), a dashboard (variable, query editor, panel, annotations)
 * and a bare panel for the bench.
 *
 * Bundled per host package set by ../build.mjs into one IIFE; every bare import resolves inside that
 * set's node_modules (hosts/grafana12 or hosts/grafana13). SystemJS and its AMD extra are loaded as
 * separate scripts AFTER this bundle (the recipe's UMD/define gotcha): start() runs once they are there.
 */
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import * as ReactDOMClient from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as grafanaData from '@grafana/data';
import * as grafanaUi from '@grafana/ui';
import * as grafanaRuntime from '@grafana/runtime';
import * as rxjs from 'rxjs';
import * as rxjsOperators from 'rxjs/operators';
import * as emotionCss from '@emotion/css';
import * as emotionReact from '@emotion/react';
import * as d3 from 'd3';
import * as reactRouterDom from 'react-router-dom';
import * as redux from 'redux';
import * as reactRedux from 'react-redux';
import lodash from 'lodash';
import moment from 'moment';
// Grafana's own Prometheus data source (the package its core plugin is built from), run as it runs in
// Grafana: its queries go to /api/ds/query, where the harness server plays Grafana's backend.
import { PrometheusDatasource } from '@grafana/prometheus';

import { syntheticTopology } from '../../../../src/panels/topology/testing/synthetic';

const {
  EventBusSrv,
  LoadingState,
  NodeGraphDataFrameFieldNames,
  ThemeContext,
  applyFieldOverrides,
  dataFrameFromJSON,
  dateTime,
  getDefaultTimeRange,
} = grafanaData;
const { Alert, Button, GlobalStyles } = grafanaUi;
const { config, locationService, setBackendSrv, setDataSourceSrv, setEchoSrv, setTemplateSrv } = grafanaRuntime;
const { Observable } = rxjs;

declare const System: any;
declare const __HOST_SET__: string;
declare const __HOST_VERSIONS__: Record<string, string>;

const APP_ID = 'gpufleet-observability-app';
const PLUGIN_BASE = `/public/plugins/${APP_ID}`;
const DS_MODULE = `${PLUGIN_BASE}/datasource/module.js`;
const PANEL_MODULE = `${PLUGIN_BASE}/panels/topology/module.js`;
const APP_MODULE = `${PLUGIN_BASE}/module.js`;

/* ------------------------------------------------------------------------------------------------
 * Shared externals, registered as Grafana's loader does (sharedDependencies + System.set).
 * ---------------------------------------------------------------------------------------------- */

function registerSharedDependencies(): string[] {
  const useDefault = (m: any) => ({ ...m, default: m, __useDefault: true });
  const shared: Record<string, unknown> = {
    react: React,
    'react-dom': ReactDOM,
    'react-dom/client': ReactDOMClient,
    'react/jsx-runtime': jsxRuntime,
    '@grafana/data': grafanaData,
    '@grafana/ui': grafanaUi,
    '@grafana/runtime': grafanaRuntime,
    rxjs,
    'rxjs/operators': rxjsOperators,
    '@emotion/css': emotionCss,
    emotion: emotionCss,
    '@emotion/react': emotionReact,
    d3,
    'react-router': reactRouterDom,
    'react-router-dom': reactRouterDom,
    redux,
    'react-redux': reactRedux,
    lodash: useDefault(lodash),
    moment: useDefault(moment),
  };
  const imports: Record<string, string> = {};
  for (const [name, ns] of Object.entries(shared)) {
    System.set(`package:${name}`, ns);
    imports[name] = `package:${name}`;
  }
  System.addImportMap({ imports });
  return Object.keys(shared);
}

async function importPlugin(path: string): Promise<any> {
  const mod = await System.import(path);
  if (!mod?.plugin) {
    throw new Error(`${path} exports no plugin`);
  }
  return mod.plugin;
}

/* ------------------------------------------------------------------------------------------------
 * Runtime services.
 * ---------------------------------------------------------------------------------------------- */

interface HostRequest {
  url: string;
  method?: string;
  params?: Record<string, unknown>;
  data?: unknown;
  headers?: Record<string, string>;
  requestId?: string;
  showErrorAlert?: boolean;
}

/** The request log the tests read: what the plugin asked the backend for, and the status it got. */
const requestLog: Array<{ method: string; url: string; status: number }> = [];

/**
 * The fleet bench's timeline (performance.now() ms): every backend request (asked, answer text in, parsed),
 * the fleet page's query runs and variable reloads, so a figure can be split into what it waited on.
 */
const timeline: Array<{ what: string; url?: string; t0: number; t1: number; t2?: number; bytes?: number }> = [];

async function doFetch(options: HostRequest) {
  let url = options.url;
  if (options.params) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(options.params)) {
      if (v !== undefined && v !== null) {
        for (const item of Array.isArray(v) ? v : [v]) {
          qs.append(k, String(item));
        }
      }
    }
    const s = qs.toString();
    if (s) {
      url += (url.includes('?') ? '&' : '?') + s;
    }
  }
  const headers: Record<string, string> = { 'X-Grafana-Org-Id': '1', ...options.headers };
  let body: string | undefined;
  if (options.data !== undefined) {
    headers['Content-Type'] = headers['Content-Type'] ?? 'application/json';
    if (typeof options.data === 'string') {
      body = options.data;
    } else if (/x-www-form-urlencoded/.test(headers['Content-Type'])) {
      // Grafana's backendSrv sends an object as a form when the caller asks for one (Prometheus does).
      const form = new URLSearchParams();
      for (const [k, v] of Object.entries(options.data as Record<string, unknown>)) {
        for (const item of Array.isArray(v) ? v : [v]) {
          if (item !== undefined && item !== null) {
            form.append(k, String(item));
          }
        }
      }
      body = form.toString();
    } else {
      body = JSON.stringify(options.data);
    }
  }
  const method = (options.method ?? 'GET').toUpperCase();
  const f0 = performance.now();
  const res = await window.fetch(url, { method, headers, body, credentials: 'same-origin' });
  const text = await res.text();
  const f1 = performance.now();
  let data: unknown = text;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  timeline.push({ what: 'fetch', url, t0: f0, t1: f1, t2: performance.now(), bytes: text.length });
  requestLog.push({ method, url, status: res.status });
  const response = {
    data,
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    headers: res.headers,
    redirected: res.redirected,
    type: res.type,
    url: res.url,
    config: options,
  };
  if (!res.ok) {
    // Grafana's FetchError shape (isFetchError checks status and data).
    throw { status: res.status, statusText: res.statusText, data, config: options };
  }
  return response;
}

const backendSrv = {
  fetch(options: HostRequest) {
    return new Observable((subscriber: any) => {
      let done = false;
      doFetch(options).then(
        (r) => {
          done = true;
          subscriber.next(r);
          subscriber.complete();
        },
        (e) => {
          done = true;
          subscriber.error(e);
        }
      );
      return () => {
        if (!done) {
          done = true;
        }
      };
    });
  },
  async request(options: HostRequest) {
    return (await doFetch(options)).data;
  },
  async datasourceRequest(options: HostRequest) {
    return doFetch(options);
  },
  get: (url: string, params?: Record<string, unknown>) => backendSrv.request({ url, params }),
  delete: (url: string) => backendSrv.request({ url, method: 'DELETE' }),
  post: (url: string, data?: unknown) => backendSrv.request({ url, method: 'POST', data }),
  put: (url: string, data?: unknown) => backendSrv.request({ url, method: 'PUT', data }),
  patch: (url: string, data?: unknown) => backendSrv.request({ url, method: 'PATCH', data }),
  resolveCancelerIfExists: () => {},
};

interface HostVariable {
  name: string;
  label: string;
  /** With includeAll, the value `$__all` stands for every option (or allValue when set). */
  includeAll?: boolean;
  allValue?: string;
  /** The data source query of a query variable. */
  query: any;
  options: Array<{ text: string; value: string }>;
  current: { text: string[]; value: string[] };
  multi: boolean;
}

/** The dashboard's time range (relative, as in a dashboard URL). */
const DASHBOARD_RANGE = { from: 'now-1h', to: 'now' };

/** Grafana's TemplateSrv rules that plugins rely on: $name, ${name}, ${name:format}, [[name]], format functions, ${__url_time_range}. */
class HostTemplateSrv {
  variables = new Map<string, HostVariable>();
  listeners = new Set<() => void>();

  getVariables() {
    return Array.from(this.variables.values()).map((v) => ({
      name: v.name,
      label: v.label,
      type: 'query',
      multi: v.multi,
      includeAll: v.includeAll,
      allValue: v.allValue,
      current: { text: v.current.text, value: v.current.value },
      options: v.options.map((o) => ({ ...o, selected: v.current.value.includes(o.value) })),
    }));
  }

  containsTemplate(target?: string) {
    return Boolean(target && /\$(\w+)|\$\{(\w+)|\[\[(\w+)/.test(target));
  }

  updateTimeRange() {}

  setVariable(name: string, patch: Partial<HostVariable>) {
    const prev = this.variables.get(name);
    this.variables.set(name, {
      name,
      label: name,
      query: undefined,
      options: [],
      current: { text: [], value: [] },
      multi: true,
      ...prev,
      ...patch,
    });
    this.listeners.forEach((l) => l());
  }

  replace(target?: string, scopedVars?: Record<string, { text?: unknown; value: unknown }>, format?: unknown) {
    if (!target) {
      return target ?? '';
    }
    const re = /\$(\w+)|\$\{(\w+)(?::([\w]+))?\}|\[\[(\w+)(?::([\w]+))?\]\]/g;
    return target.replace(re, (match, a, b, fmtB, c, fmtC) => {
      const name: string = a ?? b ?? c;
      const fmt = fmtB ?? fmtC ?? format;
      if (name === '__url_time_range') {
        // Grafana's macro: the dashboard's time range as its URL carries it.
        return `from=${encodeURIComponent(DASHBOARD_RANGE.from)}&to=${encodeURIComponent(DASHBOARD_RANGE.to)}`;
      }
      let value: unknown;
      if (scopedVars && scopedVars[name]) {
        value = scopedVars[name].value;
      } else {
        const v = this.variables.get(name);
        if (!v) {
          return match;
        }
        if (v.includeAll && v.current.value.length === 1 && v.current.value[0] === '$__all') {
          // Grafana: All is the variable's allValue, not formatted (unless asked for text), else every option.
          if (fmt === 'text') {
            return 'All';
          }
          if (v.allValue !== undefined) {
            return v.allValue;
          }
          value = v.options.map((o) => o.value).filter((o) => o !== '$__all');
        } else if (fmt === 'text') {
          return v.current.text.join(' + ');
        } else {
          value = v.multi ? v.current.value : v.current.value[0];
        }
      }
      if (typeof fmt === 'function') {
        return fmt(value, this.variables.get(name), formatValue);
      }
      return formatValue(value, typeof fmt === 'string' ? fmt : undefined);
    });
  }
}

function formatValue(value: unknown, format?: string): string {
  const list = Array.isArray(value) ? value.map(String) : [String(value ?? '')];
  switch (format) {
    case 'csv':
      return list.join(',');
    case 'pipe':
      return list.join('|');
    case 'json':
      return JSON.stringify(Array.isArray(value) ? list : list[0]);
    case 'raw':
      return list.join(',');
    default:
      // Grafana's default for a multi-value variable outside a data source format is glob: {a,b}.
      return list.length === 1 ? list[0] : `{${list.join(',')}}`;
  }
}

const templateSrv = new HostTemplateSrv();

/** Data source settings as Grafana's /api/datasources/uid/:uid returns them (secureJsonData never comes back). */
interface SavedSettings {
  id: number;
  uid: string;
  name: string;
  type: string;
  url: string;
  access: 'proxy';
  jsonData: Record<string, unknown>;
  secureJsonFields: Record<string, boolean>;
  readOnly: boolean;
}

let dsMeta: any;
const dsInstances = new Map<string, any>();
/** The instance settings each data source was built with (getDataSourceSrv().getInstanceSettings). */
const dsSettings = new Map<string, any>();

async function loadDsMeta() {
  if (!dsMeta) {
    const manifest = await (await fetch(`${PLUGIN_BASE}/datasource/plugin.json`)).json();
    dsMeta = {
      ...manifest,
      module: DS_MODULE.slice(1),
      baseUrl: `${PLUGIN_BASE.slice(1)}/datasource`,
    };
  }
  return dsMeta;
}

/** What Grafana's frontend hands a data source: for proxy access its url is the data proxy's path. */
async function instanceSettings(saved: SavedSettings) {
  return {
    id: saved.id,
    uid: saved.uid,
    type: saved.type,
    name: saved.name,
    url: `/api/datasources/proxy/uid/${saved.uid}`,
    access: 'proxy' as const,
    readOnly: saved.readOnly,
    jsonData: saved.jsonData,
    meta: await loadDsMeta(),
  };
}

async function fetchSettings(uid: string): Promise<SavedSettings> {
  return (await doFetch({ url: `/api/datasources/uid/${encodeURIComponent(uid)}` })).data as SavedSettings;
}

async function getDataSource(uid: string) {
  if (!dsInstances.has(uid)) {
    const plugin = await importPlugin(DS_MODULE);
    const settings = await instanceSettings(await fetchSettings(uid));
    dsSettings.set(uid, settings);
    dsInstances.set(uid, new plugin.DataSourceClass(settings));
  }
  return dsInstances.get(uid);
}

/** Grafana's core Prometheus plugin meta, as the frontend hands it to the data source. */
const PROMETHEUS_META = {
  id: 'prometheus',
  name: 'Prometheus',
  type: 'datasource',
  module: 'core:plugin/prometheus',
  baseUrl: 'public/app/plugins/datasource/prometheus',
  backend: true,
  metrics: true,
  alerting: true,
  annotations: true,
  info: { author: { name: 'Grafana Labs' }, description: '', links: [], logos: { small: '', large: '' }, version: '' },
};

/** A Prometheus data source: `@grafana/prometheus`'s class with the saved settings, as Grafana builds it. */
async function getPrometheus(uid: string) {
  if (!dsInstances.has(uid)) {
    const saved = await fetchSettings(uid);
    const settings = {
      id: saved.id,
      uid: saved.uid,
      type: 'prometheus',
      name: saved.name,
      url: `/api/datasources/proxy/uid/${saved.uid}`,
      access: 'proxy' as const,
      readOnly: saved.readOnly,
      jsonData: saved.jsonData,
      meta: PROMETHEUS_META,
    };
    dsSettings.set(uid, settings);
    dsInstances.set(uid, new PrometheusDatasource(settings as any));
  }
  return dsInstances.get(uid);
}

const dataSourceSrv = {
  async get(ref?: string | { uid?: string }) {
    const uid = typeof ref === 'string' ? ref : ref?.uid;
    if (!uid) {
      throw new Error('no data source uid');
    }
    return getDataSource(uid);
  },
  getList: () => Array.from(dsSettings.values()),
  getInstanceSettings: (ref?: string | { uid?: string }) => {
    const uid = typeof ref === 'string' ? ref : ref?.uid;
    return uid ? dsSettings.get(uid) : undefined;
  },
  reload: async () => {},
  registerRuntimeDataSource: () => {},
};

/* ------------------------------------------------------------------------------------------------
 * Pages.
 * ---------------------------------------------------------------------------------------------- */

function Shell({ children }: { children: React.ReactNode }) {
  return (
    <ThemeContext.Provider value={config.theme2}>
      <GlobalStyles />
      <div style={{ padding: 16, display: 'flex', flexDirection: 'column', gap: 16 }}>{children}</div>
    </ThemeContext.Provider>
  );
}

function Section({ title, children, testId }: { title: string; children: React.ReactNode; testId?: string }) {
  return (
    <section data-testid={testId} aria-label={title} style={{ border: '1px solid #333', padding: 12, borderRadius: 4 }}>
      <h3 style={{ marginTop: 0 }}>{title}</h3>
      {children}
    </section>
  );
}

/** Grafana's data source settings page: the plugin's config editor, then "Save & test". */
function ConfigPage({ plugin, initial }: { plugin: any; initial: SavedSettings }) {
  const Editor = plugin.components.ConfigEditor;
  const [options, setOptions] = React.useState<any>({ ...initial, secureJsonData: {} });
  const [result, setResult] = React.useState<any>();
  const [busy, setBusy] = React.useState(false);

  const saveAndTest = async () => {
    setBusy(true);
    setResult(undefined);
    try {
      // Grafana PUTs the settings (secureJsonData included, once) and reloads them: the token does not come back.
      const saved = (
        await doFetch({ url: `/api/datasources/uid/${encodeURIComponent(initial.uid)}`, method: 'PUT', data: options })
      ).data as { datasource: SavedSettings };
      setOptions({ ...saved.datasource, secureJsonData: {} });
      const ds = new plugin.DataSourceClass(await instanceSettings(saved.datasource));
      setResult(await ds.testDatasource());
    } catch (e: any) {
      setResult({ status: 'error', message: e?.message ?? e?.data?.message ?? String(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Shell>
      <h2>Data source: {options.name}</h2>
      <Editor options={options} onOptionsChange={setOptions} />
      <div>
        <Button onClick={saveAndTest} disabled={busy}>
          {busy ? 'Testing…' : 'Save & test'}
        </Button>
      </div>
      {result && (
        <div data-testid="save-and-test-result" data-status={result.status}>
          <Alert severity={result.status === 'success' ? 'success' : result.status} title={result.message}>
            {result.details?.verboseMessage && <pre>{result.details.verboseMessage}</pre>}
          </Alert>
        </div>
      )}
    </Shell>
  );
}

function timeRange() {
  const to = dateTime();
  const from = dateTime(to).subtract(1, 'h');
  return { from, to, raw: { ...DASHBOARD_RANGE } };
}

let requestCounter = 0;

function queryRequest(targets: any[], range = timeRange()) {
  return {
    requestId: `Q${++requestCounter}`,
    interval: '10s',
    intervalMs: 10000,
    maxDataPoints: 500,
    range,
    scopedVars: {},
    targets,
    timezone: 'browser',
    app: 'dashboard',
    startTime: Date.now(),
  };
}

async function runQuery(ds: any, targets: any[], extra: Record<string, unknown> = {}) {
  const range = timeRange();
  const res: any = await rxjs.lastValueFrom(ds.query({ ...queryRequest(targets, range), ...extra }));
  return { res, range };
}

/** Panel props the way Grafana's PanelStateWrapper passes them. */
function panelProps(series: any[], data: Partial<any>, size: { width: number; height: number }, options: any = {}) {
  const range = data.timeRange ?? getDefaultTimeRange();
  const fieldConfig = { defaults: {}, overrides: [] };
  const processed = applyFieldOverrides({
    data: series,
    fieldConfig,
    replaceVariables: (s: string) => templateSrv.replace(s),
    theme: config.theme2,
    timeZone: 'browser',
  });
  return {
    id: 1,
    data: { state: LoadingState.Done, series: processed, timeRange: range, ...data, ...{ series: processed } },
    timeRange: range,
    timeZone: 'browser',
    options,
    transparent: false,
    width: size.width,
    height: size.height,
    fieldConfig,
    renderCounter: 0,
    title: 'Topology',
    eventBus: new EventBusSrv(),
    onOptionsChange: () => {},
    onFieldConfigChange: () => {},
    replaceVariables: (s: string) => templateSrv.replace(s),
    onChangeTimeRange: () => {},
  };
}

function FramesTable({ frames }: { frames: any[] }) {
  return (
    <div data-testid="table-view">
      {frames.map((f, i) => (
        <table key={i} data-frame={f.name} style={{ borderCollapse: 'collapse', marginBottom: 8 }}>
          <caption style={{ textAlign: 'left' }}>{f.name}</caption>
          <thead>
            <tr>
              {f.fields.map((fl: any) => (
                <th key={fl.name} style={{ padding: '2px 8px', textAlign: 'left' }}>
                  {fl.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: f.length }, (_, r) => (
              <tr key={r}>
                {f.fields.map((fl: any) => (
                  <td key={fl.name} data-field={fl.name} style={{ padding: '2px 8px' }}>
                    {fl.values[r] === null || fl.values[r] === undefined ? '' : String(fl.values[r])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </div>
  );
}

/** A dashboard: a query variable `gpu`, a panel with the plugin's query editor, and an annotation query. */
function DashboardPage({ ds, panelPlugin, initialKind }: { ds: any; panelPlugin: any; initialKind: string }) {
  const QueryEditor = ds.components.QueryEditor;
  const VariableEditor = ds.variables?.editor;
  const AnnotationEditor = ds.annotations?.QueryEditor;
  const Panel = panelPlugin.panel;

  const [query, setQuery] = React.useState<any>({ refId: 'A', ...ds.getDefaultQuery?.(), kind: initialKind });
  const queryRef = React.useRef(query);
  queryRef.current = query;
  const [panel, setPanel] = React.useState<{ series: any[]; errors?: any[]; state: string; range?: any }>({
    series: [],
    state: LoadingState.NotStarted,
  });
  const [, setTick] = React.useState(0);

  const [varQuery, setVarQuery] = React.useState<any>({ refId: 'variable', name: 'gpus', filters: {} });
  const [varError, setVarError] = React.useState<string>();

  const annoBase = React.useMemo(
    () => ds.annotations.prepareAnnotation({ name: 'gpufleet events', enable: true, iconColor: 'red' }),
    [ds]
  );
  const [annoQuery, setAnnoQuery] = React.useState<any>(annoBase.target);
  const [events, setEvents] = React.useState<any[] | undefined>();
  const [annoError, setAnnoError] = React.useState<string>();

  React.useEffect(() => {
    const l = () => setTick((t) => t + 1);
    templateSrv.listeners.add(l);
    return () => {
      templateSrv.listeners.delete(l);
    };
  }, []);

  const run = React.useCallback(async () => {
    setPanel((p) => ({ ...p, state: LoadingState.Loading }));
    const { res, range } = await runQuery(ds, [queryRef.current]);
    setPanel({ series: res.data, errors: res.errors, state: res.state ?? LoadingState.Done, range });
  }, [ds]);

  React.useEffect(() => {
    run();
  }, [run]);

  const runVariable = async () => {
    setVarError(undefined);
    try {
      const res: any = await rxjs.lastValueFrom(ds.variables.query(queryRequest([varQuery])));
      const options = res.data.map((v: any) => ({ text: String(v.text), value: String(v.value ?? v.text) }));
      templateSrv.setVariable('gpu', { query: varQuery, options, current: { text: [], value: [] } });
    } catch (e: any) {
      setVarError(e?.message ?? String(e));
    }
  };

  const variable = templateSrv.variables.get('gpu');

  const runAnnotations = async () => {
    setAnnoError(undefined);
    const { res } = await runQuery(ds, [{ ...annoQuery, refId: 'Anno' }]);
    if (res.errors?.length) {
      setAnnoError(res.errors.map((e: any) => e.message).join('; '));
    }
    // Grafana maps the frame's time / title / text / tags fields to annotation events.
    const rows: any[] = [];
    for (const f of res.data) {
      const col = (n: string) => f.fields.find((x: any) => x.name === n)?.values ?? [];
      for (let i = 0; i < f.length; i++) {
        rows.push({ time: col('time')[i], title: col('title')[i], text: col('text')[i], tags: col('tags')[i] });
      }
    }
    setEvents(rows);
  };

  const isTopology = panel.series.some((f) => f.name === 'nodes');
  const props = panelProps(
    panel.series,
    { state: panel.state, errors: panel.errors, timeRange: panel.range },
    { width: 1180, height: 620 }
  );

  return (
    <Shell>
      <Section title="Variables" testId="variable-section">
        {VariableEditor && <VariableEditor query={varQuery} onChange={setVarQuery} datasource={ds} />}
        <div style={{ display: 'flex', gap: 8, alignItems: 'center', marginTop: 8 }}>
          <Button variant="secondary" onClick={runVariable}>
            Run variable query
          </Button>
          {varError && <span role="alert">{varError}</span>}
          <label htmlFor="var-gpu">$gpu</label>
          <select
            id="var-gpu"
            aria-label="Variable gpu"
            multiple
            size={Math.min(8, Math.max(2, variable?.options.length ?? 2))}
            value={variable?.current.value ?? []}
            onChange={(e) => {
              const selected = Array.from(e.currentTarget.selectedOptions);
              templateSrv.setVariable('gpu', {
                current: { text: selected.map((o) => o.text), value: selected.map((o) => o.value) },
              });
              run();
            }}
          >
            {(variable?.options ?? []).map((o) => (
              <option key={o.value} value={o.value}>
                {o.text}
              </option>
            ))}
          </select>
        </div>
      </Section>

      <Section title="Query A" testId="query-section">
        <QueryEditor
          datasource={ds}
          query={query}
          onChange={(q: any) => {
            queryRef.current = q;
            setQuery(q);
          }}
          onRunQuery={() => run()}
          data={{ state: panel.state, series: panel.series, timeRange: props.timeRange }}
          range={props.timeRange}
          app="dashboard"
        />
      </Section>

      <Section title="Panel" testId="panel-section">
        <div data-testid="panel-state" data-state={panel.state} data-frames={panel.series.map((f) => f.name).join(',')}>
          {isTopology || panel.series.length === 0 ? (
            <div style={{ width: 1180, height: 620, position: 'relative' }}>
              <Panel {...props} options={{}} />
            </div>
          ) : (
            <FramesTable frames={panel.series} />
          )}
          {panel.errors?.map((e: any, i: number) => (
            <div key={i} role="alert" data-testid="query-error">
              {e.message}
            </div>
          ))}
        </div>
      </Section>

      <Section title="Annotations" testId="annotations-section">
        {AnnotationEditor && (
          <AnnotationEditor
            datasource={ds}
            query={annoQuery}
            onChange={setAnnoQuery}
            onRunQuery={() => {}}
            annotation={{ ...annoBase, target: annoQuery }}
            onAnnotationChange={(a: any) => setAnnoQuery(a.target)}
          />
        )}
        <Button variant="secondary" onClick={runAnnotations}>
          Run annotation query
        </Button>
        {annoError && <div role="alert">{annoError}</div>}
        {events && (
          <ul data-testid="annotation-events" data-count={events.length}>
            {events.map((e, i) => (
              <li key={i} data-testid="annotation-event" data-time={e.time}>
                <b>{e.title}</b> — {e.text} [{(e.tags ?? []).join(', ')}]
              </li>
            ))}
          </ul>
        )}
      </Section>
    </Shell>
  );
}

/* ------------------------------------------------------------------------------------------------
 * The fleet dashboard on Prometheus: its variables and its topology panel, queried through
 * `@grafana/prometheus` as a Grafana dashboard does (variables from the data source's own
 * metricFindQuery, targets through ds.query → /api/ds/query, the panel's host pick through the URL).
 * ---------------------------------------------------------------------------------------------- */

const TOPOLOGY_PANEL_TYPE = 'gpufleet-topology-panel';

/** The fleet page's last answer, for the bench's render-only figure. */
let lastFleet: { series: any[]; options: any } | undefined;

async function fetchDashboard(uid: string) {
  return (await doFetch({ url: `/api/dashboards/uid/${encodeURIComponent(uid)}` })).data as any;
}

/** The dashboard's variables into templateSrv: custom ones from their list, query ones from Prometheus. */
async function loadVariables(ds: any, dashboard: any, only?: string[]) {
  for (const v of dashboard.templating.list) {
    if (only && !only.includes(v.name)) {
      continue;
    }
    const prev = templateSrv.variables.get(v.name);
    let options: Array<{ text: string; value: string }>;
    if (v.type === 'textbox' || v.type === 'constant') {
      // A free-text value (e.g. a price): what the dashboard holds, nothing to ask Prometheus.
      const text = String(v.current?.value ?? v.query ?? '');
      options = [{ text, value: text }];
    } else if (v.type === 'custom') {
      options = String(v.query)
        .split(',')
        .map((x) => ({ text: x.trim(), value: x.trim() }));
    } else {
      const found = await ds.metricFindQuery(v.definition ?? v.query, { range: timeRange() });
      options = found.map((o: any) => ({ text: String(o.text), value: String(o.value ?? o.text) }));
    }
    const keep = prev?.current.value.filter((x) => x === '$__all' || options.some((o) => o.value === x)) ?? [];
    const initial = v.current?.value === '$__all' || v.includeAll ? ['$__all'] : [String(v.current?.value ?? options[0]?.value)];
    const value = keep.length > 0 ? keep : initial;
    templateSrv.setVariable(v.name, {
      label: v.label ?? v.name,
      query: v.query,
      options,
      multi: Boolean(v.multi),
      includeAll: Boolean(v.includeAll),
      allValue: v.allValue ?? undefined,
      current: { value, text: value.map((x) => (x === '$__all' ? 'All' : x)) },
    });
  }
}

/** Sets a variable as the URL's var-<name> does: `$__all` or one value. */
function setVariableValue(name: string, value: string) {
  templateSrv.setVariable(name, { current: { value: [value], text: [value === '$__all' ? 'All' : value] } });
}

function FleetPage({ ds, panelPlugin, dashboard }: { ds: any; panelPlugin: any; dashboard: any }) {
  const Panel = panelPlugin.panel;
  const panel = dashboard.panels.find((p: any) => p.type === TOPOLOGY_PANEL_TYPE);
  const [data, setData] = React.useState<{ series: any[]; errors?: any[]; state: string; range?: any; ms?: number }>({
    series: [],
    state: LoadingState.NotStarted,
  });
  const [, setTick] = React.useState(0);
  const runs = React.useRef(0);

  const run = React.useCallback(async () => {
    const n = ++runs.current;
    setData((d) => ({ ...d, state: LoadingState.Loading }));
    const t0 = performance.now();
    // The page's Prometheus stands in for the one the dashboard names (as a data source variable would).
    const targets = panel.targets.map((t: any) => ({ ...t, datasource: { type: 'prometheus', uid: ds.uid } }));
    const { res, range } = await runQuery(ds, targets, { panelId: panel.id, dashboardUID: dashboard.uid });
    timeline.push({ what: 'run', t0, t1: performance.now() });
    if (n === runs.current) {
      lastFleet = { series: res.data, options: panel.options };
      setData({ series: res.data, errors: res.errors, state: res.state ?? LoadingState.Done, range, ms: performance.now() - t0 });
    }
  }, [ds, panel, dashboard]);

  // Variable changes (the selects below, or the panel's own locationService.partial) re-run the queries,
  // and a host change re-loads the variables that depend on it, as Grafana's dashboard does.
  React.useEffect(() => {
    const history = locationService.getHistory();
    const onLocation = async () => {
      const search = locationService.getSearchObject() as Record<string, unknown>;
      let changed = false;
      for (const v of dashboard.templating.list) {
        const want = search[`var-${v.name}`];
        if (want === undefined) {
          continue;
        }
        const value = String(Array.isArray(want) ? want[0] : want);
        const cur = templateSrv.variables.get(v.name)?.current.value;
        if (!cur || cur.length !== 1 || cur[0] !== value) {
          setVariableValue(v.name, value);
          changed = true;
        }
      }
      if (changed) {
        const v0 = performance.now();
        await loadVariables(ds, dashboard, ['model', 'engine']);
        timeline.push({ what: 'variables', t0: v0, t1: performance.now() });
        setTick((t) => t + 1);
        run();
      }
    };
    const unlisten = history.listen(onLocation);
    run();
    return () => unlisten();
  }, [ds, dashboard, run]);

  const props = panelProps(
    data.series,
    { state: data.state, errors: data.errors, timeRange: data.range },
    { width: 1180, height: 700 },
    panel.options
  );
  const select = (name: string) => {
    const v = templateSrv.variables.get(name);
    if (!v) {
      return null;
    }
    const options = [...(v.includeAll ? [{ text: 'All', value: '$__all' }] : []), ...v.options];
    return (
      <label key={name} style={{ display: 'flex', gap: 6, alignItems: 'center' }}>
        {v.label}
        <select
          aria-label={`Variable ${name}`}
          value={v.current.value[0] ?? ''}
          onChange={(e) => locationService.partial({ [`var-${name}`]: e.currentTarget.value })}
        >
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.text}
            </option>
          ))}
        </select>
      </label>
    );
  };

  return (
    <Shell>
      <h2>{dashboard.title}</h2>
      <div style={{ display: 'flex', gap: 16 }} data-testid="fleet-variables">
        {dashboard.templating.list.map((v: any) => select(v.name))}
      </div>
      <Section title={panel.title} testId="panel-section">
        <div
          data-testid="panel-state"
          data-state={data.state}
          data-refids={Array.from(new Set(data.series.map((f) => f.refId))).join(',')}
          data-rows={data.series.reduce((n, f) => n + f.length, 0)}
          data-ms={data.ms === undefined ? '' : data.ms.toFixed(1)}
        >
          <div style={{ width: 1180, height: 700, position: 'relative' }}>
            <Panel {...props} />
          </div>
        </div>
      </Section>
    </Shell>
  );
}

/* ------------------------------------------------------------------------------------------------
 * Bench: first render and click → drill-down, measured inside the page.
 * ---------------------------------------------------------------------------------------------- */

const nextPaint = () => new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(), 0)));

async function waitForSelector(root: Element, selector: string, timeoutMs = 5000): Promise<Element> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const el = root.querySelector(selector);
    if (el) {
      return el;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${selector}`);
    }
    await Promise.resolve();
    if (!root.querySelector(selector)) {
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

async function measurePanel(series: any[], opts: { width: number; height: number; gpuIndex: number }) {
  const plugin = await importPlugin(PANEL_MODULE);
  const Panel = plugin.panel;
  const container = document.createElement('div');
  container.style.width = `${opts.width}px`;
  container.style.height = `${opts.height}px`;
  container.style.position = 'relative';
  document.getElementById('root')!.appendChild(container);
  const root = ReactDOMClient.createRoot(container);
  const props = panelProps(series, {}, opts);

  const t0 = performance.now();
  // Theme only: Grafana's global styles (fonts included) are the page's, mounted once by the bench
  // view as Grafana's app root mounts them, not per panel.
  ReactDOM.flushSync(() =>
    root.render(
      <ThemeContext.Provider value={config.theme2}>
        <div style={{ width: opts.width, height: opts.height, position: 'relative' }}>
          <Panel {...props} options={{}} />
        </div>
      </ThemeContext.Provider>
    )
  );
  const committed = performance.now();
  void container.offsetHeight; // style + layout
  const laidOut = performance.now();
  await nextPaint();
  const painted = performance.now();

  // Web fonts settled, as they are long before anyone clicks in Grafana. The harness serves no font
  // files: a face failing while the click is measured would relayout every label inside it.
  await document.fonts.ready;
  const gpus = container.querySelectorAll('[data-testid="gpufleet-gpu"]');
  const target = gpus[Math.min(opts.gpuIndex, gpus.length - 1)] as HTMLElement;
  const c0 = performance.now();
  target.click();
  await waitForSelector(container, '[role="dialog"]');
  const c1 = performance.now();
  void container.offsetHeight;
  const c2 = performance.now();
  await nextPaint();
  const c3 = performance.now();
  const counts = {
    gpus: gpus.length,
    migChips: container.querySelectorAll('[data-testid="gpufleet-mig"]').length,
    vgpuChips: container.querySelectorAll('[data-testid="gpufleet-vgpu"]').length,
    engines: container.querySelectorAll('[data-testid="gpufleet-engine"]').length,
    edges: container.querySelectorAll('[data-testid="gpufleet-edge"]').length,
  };
  root.unmount();
  container.remove();
  return {
    renderCommitMs: committed - t0,
    renderLayoutMs: laidOut - t0,
    renderPaintMs: painted - t0,
    clickDomMs: c1 - c0,
    clickLayoutMs: c2 - c0,
    clickPaintMs: c3 - c0,
    counts,
  };
}

const panelDone = (root: Element) =>
  root.querySelector('[data-testid="panel-state"]')?.getAttribute('data-state') === LoadingState.Done;

async function until(what: string, fn: () => boolean, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs;
  while (!fn()) {
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 0));
  }
}

/**
 * The fleet dashboard's topology panel on Prometheus, through @grafana/prometheus: the page end to end
 * (variables, queries through /api/ds/query, frames, transform, render, paint), the panel's render
 * alone on the same frames, hover on a tile, and a click on a tile: the panel's answer, then the host's
 * topology with its own queries. One run per call of show().
 */
/**
 * What [a, b] waited on, from the timeline: variable reloads, the /api/ds/query answer (asked → text in:
 * the backend and Prometheus), its JSON parse, @grafana/prometheus turning it into frames (parsed → ds.query
 * done), then the panel (ds.query done → b: React and paint). Other requests (label values) are counted apart.
 */
function waitedOn(a: number, b: number) {
  const inside = timeline.filter((e) => e.t0 >= a && e.t1 <= b);
  const ds = inside.filter((e) => e.what === 'fetch' && e.url!.includes('/api/ds/query'));
  const other = inside.filter((e) => e.what === 'fetch' && !e.url!.includes('/api/ds/query'));
  const run = inside.filter((e) => e.what === 'run').at(-1);
  const lastDs = ds.at(-1);
  const sum = (xs: any[], f: (e: any) => number) => xs.reduce((n, e) => n + f(e), 0);
  return {
    // Before the panel's run started: the page (dashboard, data source, variables) or the click's reloads.
    beforeRunMs: run ? run.t0 - a : NaN,
    variablesMs: sum(inside.filter((e) => e.what === 'variables'), (e) => e.t1 - e.t0),
    labelRequests: other.length,
    dsRequests: ds.length,
    dsFetchMs: sum(ds, (e) => e.t1 - e.t0),
    dsParseMs: sum(ds, (e) => e.t2 - e.t1),
    // The run from start to frames, and what of it came before the /api/ds/query request left.
    runMs: run ? run.t1 - run.t0 : NaN,
    beforeRequestMs: run && ds[0] ? ds[0].t0 - run.t0 : NaN,
    framesMs: run && lastDs ? run.t1 - lastDs.t2 : NaN,
    panelMs: run ? b - run.t1 : NaN,
  };
}

/**
 * The topology panel's module: the build in dist/panels/topology, or another build copied beside it
 * (`panel`: a folder name under dist/panels/, e.g. topology-before), so two builds can be compared in one page.
 */
function panelModule(panel?: string) {
  if (panel === undefined) {
    return PANEL_MODULE;
  }
  if (!/^[\w-]+$/.test(panel)) {
    throw new Error(`panel build folder ${JSON.stringify(panel)}: letters, digits, - and _ only`);
  }
  return `${PLUGIN_BASE}/panels/${panel}/module.js`;
}

/**
 * Chromium's long animation frames (frames that took over 50 ms from their first task to their paint)
 * while it runs: what a click's frame waited on, by script (its invoker: an event handler, a timer, a
 * fetch's promise, React's scheduler) and by rendering (style, layout, paint). Nothing where the
 * browser does not report them.
 */
function watchLongFrames() {
  const entries: any[] = [];
  const supported = (PerformanceObserver.supportedEntryTypes ?? []).includes('long-animation-frame');
  const observer = supported ? new PerformanceObserver((list) => entries.push(...list.getEntries())) : undefined;
  observer?.observe({ type: 'long-animation-frame' });
  return {
    /** The frames that overlap [a, b], times from a: the frame, its scripts, its rendering. */
    within(a: number, b: number) {
      entries.push(...(observer?.takeRecords() ?? []));
      return entries
        .filter((f) => f.startTime < b && f.startTime + f.duration > a)
        .map((f) => {
          const end = f.startTime + f.duration;
          return {
            startMs: f.startTime - a,
            ms: f.duration,
            scriptMs: f.scripts.reduce((n: number, s: any) => n + s.duration, 0),
            // From the frame's rendering start (rAF callbacks, then style, layout, paint) to its end.
            renderMs: f.renderStart > 0 ? end - f.renderStart : 0,
            styleLayoutMs: f.styleAndLayoutStart > 0 ? end - f.styleAndLayoutStart : 0,
            scripts: [...f.scripts]
              .sort((x: any, y: any) => y.duration - x.duration)
              .slice(0, 4)
              .map((s: any) => `${s.invoker || s.invokerType} ${s.duration.toFixed(0)} ms (at ${(s.startTime - a).toFixed(0)})`),
          };
        });
    },
    stop: () => observer?.disconnect(),
  };
}

/** A host tile on screen: the panel keeps the fleet level mounted, hidden, under a host. */
const SHOWN_TILE = '[data-testid="gpufleet-host"]:not([aria-hidden="true"] *)';

async function benchFleet(uid: string, runs: number, panel?: string) {
  const out = [];
  const panelPlugin = await importPlugin(panelModule(panel));
  const Panel = panelPlugin.panel;
  const rootEl = document.getElementById('root')!;
  for (let i = 0; i < runs; i++) {
    // The previous run's page stays until React commits the new one, its tiles on screen: wait for the new one.
    const previous = rootEl.querySelector('[data-testid="panel-state"]');
    const t0 = performance.now();
    await show({ view: 'fleet', ds: uid, ...(panel === undefined ? {} : { panel }) });
    await until(
      'fleet tiles',
      () =>
        rootEl.querySelector('[data-testid="panel-state"]') !== previous &&
        panelDone(rootEl) &&
        Boolean(rootEl.querySelector(SHOWN_TILE))
    );
    const queriesMs = Number(rootEl.querySelector('[data-testid="panel-state"]')!.getAttribute('data-ms'));
    await nextPaint();
    const endToEndMs = performance.now() - t0;
    const tiles = rootEl.querySelectorAll(SHOWN_TILE);
    const fleetRows = lastFleet!.series.reduce((n: number, f: any) => n + f.length, 0);

    // The panel alone on the frames it just got (fleet level): React commit, then the next paint.
    const container = document.createElement('div');
    document.body.appendChild(container);
    const root = ReactDOMClient.createRoot(container);
    const props = panelProps(lastFleet!.series, {}, { width: 1180, height: 700 }, lastFleet!.options);
    const r0 = performance.now();
    ReactDOM.flushSync(() =>
      root.render(
        <ThemeContext.Provider value={config.theme2}>
          <div style={{ width: 1180, height: 700, position: 'relative' }}>
            <Panel {...props} />
          </div>
        </ThemeContext.Provider>
      )
    );
    const renderCommitMs = performance.now() - r0;
    await nextPaint();
    const renderPaintMs = performance.now() - r0;
    root.unmount();
    container.remove();

    // Hover: the pointer onto a tile (its highlight and title), to the next paint.
    const tile = tiles[Math.min(3, tiles.length - 1)] as HTMLElement;
    const h0 = performance.now();
    tile.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
    tile.dispatchEvent(new MouseEvent('mouseenter', { bubbles: false }));
    await nextPaint();
    const hoverMs = performance.now() - h0;

    // Click: the panel's own answer (the host level, painted), then the host's topology from its queries.
    const frames = watchLongFrames();
    const c0 = performance.now();
    tile.click();
    // The click's handlers (the panel's, the dashboard's variable hook), React's commit (a discrete event's
    // update, flushed in the microtask it queued during the handler), then style and layout; the rest of
    // clickMs is waiting for the frame and its paint.
    const clickScriptMs = performance.now() - c0;
    await Promise.resolve();
    const clickCommitMs = performance.now() - c0 - clickScriptMs;
    void rootEl.offsetHeight;
    const clickLayoutMs = performance.now() - c0 - clickScriptMs - clickCommitMs;
    await until('host level', () => Boolean(rootEl.querySelector('[data-testid="gpufleet-topology"]')));
    await nextPaint();
    const clickMs = performance.now() - c0;
    performance.measure('gpufleet click', { start: c0, end: c0 + clickMs });
    await until(
      'host topology',
      () => panelDone(rootEl) && rootEl.querySelectorAll('[data-testid="gpufleet-gpu"]').length > 0
    );
    await nextPaint();
    const hostLevelMs = performance.now() - c0;
    const clickFrames = frames.within(c0, c0 + clickMs);
    frames.stop();
    const hostGpus = rootEl.querySelectorAll('[data-testid="gpufleet-gpu"]').length;

    // Back to the fleet ("All hosts", as a user goes back): every tile on screen again, painted; then the
    // fleet-level run the variable started, so that the next run starts from a settled page.
    const backButton = Array.from(rootEl.querySelectorAll('[data-testid="gpufleet-topology"] button')).find(
      (b) => b.textContent?.trim() === 'All hosts'
    ) as HTMLElement;
    const b0 = performance.now();
    backButton.click();
    await until('fleet tiles again', () => rootEl.querySelectorAll(SHOWN_TILE).length === tiles.length);
    await nextPaint();
    const backMs = performance.now() - b0;
    await until('fleet level answered', () => panelDone(rootEl) && !rootEl.querySelector('[data-testid="gpufleet-topology"]'));
    out.push({
      fleetWait: waitedOn(t0, t0 + endToEndMs),
      hostWait: waitedOn(c0, c0 + hostLevelMs),
      endToEndMs,
      queriesMs,
      renderCommitMs,
      renderPaintMs,
      hoverMs,
      clickMs,
      clickScriptMs,
      clickCommitMs,
      clickLayoutMs,
      clickFrames,
      hostLevelMs,
      backMs,
      tiles: tiles.length,
      hostGpus,
      rows: fleetRows,
    });
  }
  return out;
}

async function benchPanel(source: 'demo' | 'synthetic', runs: number, dsUid?: string) {
  let series: any[];
  if (source === 'synthetic') {
    series = syntheticTopology();
  } else {
    const ds = await getDataSource(dsUid!);
    const { res } = await runQuery(ds, [{ refId: 'A', kind: 'topology', filters: {} }]);
    series = res.data;
  }
  const out = [];
  for (let i = 0; i < runs; i++) {
    out.push(await measurePanel(series, { width: 1400, height: 800, gpuIndex: 3 }));
  }
  return out;
}

/* ------------------------------------------------------------------------------------------------
 * Start.
 * ---------------------------------------------------------------------------------------------- */

let root: ReactDOMClient.Root | undefined;
let mounted = 0;

/**
 * Shows one page of the host, as Grafana's single-page app moves between pages without reloading:
 * the plugin modules stay loaded, the page's components are mounted fresh, dashboard variables and
 * the request log start empty. Resolves once the page is mounted.
 */
async function show(params: Record<string, string>) {
  const view = params.view ?? 'dashboard';
  const uid = params.ds ?? 'gpufleet-demo';
  templateSrv.variables.clear();
  requestLog.length = 0;
  const key = ++mounted;
  let page: React.ReactElement;
  if (view === 'bench') {
    // Modules are loaded (start); the bench mounts its own panels, under the page's global styles.
    page = (
      <Shell>
        <div />
      </Shell>
    );
  } else if (view === 'app') {
    const app = await importPlugin(APP_MODULE);
    const Root = app.root;
    page = (
      <Shell>
        <reactRouterDom.MemoryRouter>
          <Root meta={{ id: APP_ID, jsonData: {} }} basename={`/a/${APP_ID}`} query={{}} path={`/a/${APP_ID}`} />
        </reactRouterDom.MemoryRouter>
      </Shell>
    );
  } else if (view === 'fleet') {
    // The fleet dashboard with only Prometheus: the URL's var-* are the dashboard's variables.
    const panelPlugin = await importPlugin(panelModule(params.panel));
    const ds = await getPrometheus(params.ds ?? 'gpufleet-prometheus');
    const dashboard = await fetchDashboard(params.dashboard ?? 'gpufleet-fleet');
    locationService.replace(`/d/${dashboard.dashboard.uid}`);
    await loadVariables(ds, dashboard.dashboard);
    for (const [k, v] of Object.entries(params)) {
      if (k.startsWith('var-')) {
        setVariableValue(k.slice(4), v);
      }
    }
    await loadVariables(ds, dashboard.dashboard, ['model', 'engine']);
    page = <FleetPage ds={ds} panelPlugin={panelPlugin} dashboard={dashboard.dashboard} />;
  } else if (view === 'config') {
    const dsPlugin = await importPlugin(DS_MODULE);
    page = <ConfigPage plugin={dsPlugin} initial={await fetchSettings(uid)} />;
  } else {
    const dsPlugin = await importPlugin(DS_MODULE);
    const panelPlugin = await importPlugin(PANEL_MODULE);
    const ds = await getDataSource(uid);
    ds.components = dsPlugin.components;
    page = <DashboardPage ds={ds} panelPlugin={panelPlugin} initialKind={params.kind ?? 'gpus'} />;
  }
  root ??= ReactDOMClient.createRoot(document.getElementById('root')!);
  root.render(<React.Fragment key={key}>{page}</React.Fragment>);
  document.body.dataset.hostView = `${key}:${view}`;
  return `${key}:${view}`;
}

async function start() {
  const shared = registerSharedDependencies();
  setBackendSrv(backendSrv as any);
  setTemplateSrv(templateSrv as any);
  setDataSourceSrv(dataSourceSrv as any);
  // Grafana's analytics sink; the data sources report interactions to it.
  setEchoSrv({ addEvent: () => {}, addBackend: () => {}, logDebug: () => {}, isEnabled: () => false } as any);
  Object.assign(host, {
    set: __HOST_SET__,
    versions: { ...__HOST_VERSIONS__, reactRuntime: React.version },
    shared,
    requests: requestLog,
  });
  // Every plugin module once, as Grafana loads them when the app is enabled and used.
  await Promise.all([importPlugin(APP_MODULE), importPlugin(DS_MODULE), importPlugin(PANEL_MODULE)]);
  const params = Object.fromEntries(new URLSearchParams(window.location.search));
  if (params.view !== 'blank') {
    await show(params);
  }
}

/** Node Graph field names as @grafana/data spells them (the stock panel matches them case-insensitively). */
function nodeGraphFieldNames(): string[] {
  return Object.values(NodeGraphDataFrameFieldNames as Record<string, string>);
}

/** Frames of a real topology query, through the data source (for the Node Graph field check). */
async function topologyFrames(uid: string) {
  const ds = await getDataSource(uid);
  const { res } = await runQuery(ds, [{ refId: 'A', kind: 'topology', filters: {} }]);
  return res.data.map((f: any) => ({
    name: f.name,
    refId: f.refId,
    preferredVisualisationType: f.meta?.preferredVisualisationType,
    fields: f.fields.map((x: any) => x.name),
    length: f.length,
  }));
}

const host: Record<string, unknown> = {
  start: () =>
    start().then(
      () => {
        document.body.dataset.hostReady = 'true';
      },
      (e) => {
        document.body.dataset.hostError = String(e?.stack ?? e);
        throw e;
      }
    ),
  show,
  benchPanel,
  benchFleet,
  nodeGraphFieldNames,
  topologyFrames,
  dataFrameFromJSON,
};
(window as any).gpufleetHost = host;
