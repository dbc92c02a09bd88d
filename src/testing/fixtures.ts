/**
 * Test helpers (imported by *.test.ts[x] only, never by a module.ts, so never bundled).
 *
 * Sidecar answers come from tests/fixtures/sidecar-api/: recorded from a real sidecar on the
 * simulated demo host by record.mjs there (see its README).
 */
import fs from 'fs';
import path from 'path';
import { of, throwError } from 'rxjs';
import {
  type DataFrame,
  type DataQueryRequest,
  type DataSourceInstanceSettings,
  type ScopedVars,
  dateTime,
} from '@grafana/data';
import type { BackendSrv, BackendSrvRequest, FetchError, FetchResponse, TemplateSrv } from '@grafana/runtime';

import { toDataFrame } from '../datasource/frames';
import type { FrameJSON, GpufleetOptions, GpufleetQuery, SidecarQueryResponse } from '../datasource/types';

export const FIXTURES_DIR = path.resolve(__dirname, '../../tests/fixtures/sidecar-api');

export function loadFixture<T = unknown>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, name), 'utf8')) as T;
}

/** The frames of a recorded POST /api/v1/query answer, as the data source hands them to a panel. */
export function framesOf(fixture: string, refId = 'A'): DataFrame[] {
  const answer = loadFixture<SidecarQueryResponse>(fixture);
  return (answer.results[refId]?.frames ?? []).map((f: FrameJSON) => toDataFrame(f, refId));
}

export const INSTANCE_SETTINGS: DataSourceInstanceSettings<GpufleetOptions> = {
  id: 7,
  uid: 'gpufleet-test',
  type: 'gpufleet-sidecar-datasource',
  name: 'gpufleet sidecar',
  url: '/api/datasources/proxy/uid/gpufleet-test',
  access: 'proxy',
  readOnly: false,
  jsonData: {},
  meta: {
    id: 'gpufleet-sidecar-datasource',
    name: 'gpufleet sidecar',
    type: 'datasource',
    module: 'public/plugins/gpufleet-observability-app/datasource/module.js',
    baseUrl: 'public/plugins/gpufleet-observability-app/datasource',
    info: {
      author: { name: 'gpufleet' },
      description: '',
      links: [],
      logos: { small: '', large: '' },
      screenshots: [],
      updated: '',
      version: '',
    },
  },
} as unknown as DataSourceInstanceSettings<GpufleetOptions>;

/**
 * A TemplateSrv stand-in with Grafana's interpolation rules that matter here: $name and ${name}
 * (with an optional :format), scoped vars winning over dashboard vars, a format function applied
 * to the raw value (an array for multi-value variables), unknown variables left as written.
 */
export function templateSrvWith(vars: Record<string, string | string[]>): TemplateSrv {
  const replace = (target?: string, scopedVars?: ScopedVars, format?: string | Function): string => {
    if (!target) {
      return '';
    }
    return target.replace(/\$(\w+)|\$\{(\w+)(?::(\w+))?\}/g, (match, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      const scoped = scopedVars?.[name]?.value as string | string[] | undefined;
      const value = scoped ?? vars[name];
      if (value === undefined) {
        return match;
      }
      if (typeof format === 'function') {
        return format(value);
      }
      return Array.isArray(value) ? `{${value.join(',')}}` : value;
    });
  };
  return {
    replace,
    getVariables: () => [],
    containsTemplate: (t?: string) => Boolean(t && /\$/.test(t)),
    updateTimeRange: () => {},
  } as unknown as TemplateSrv;
}

export function fetchOk<T>(data: T, status = 200): FetchResponse<T> {
  return {
    data,
    status,
    statusText: 'OK',
    ok: true,
    headers: new Headers(),
    redirected: false,
    type: 'basic',
    url: '',
    config: { url: '' },
  };
}

export function fetchError<T>(status: number, data: T, statusText = ''): FetchError<T> {
  return { status, statusText, data, config: { url: '' } };
}

export interface FakeBackend {
  srv: BackendSrv;
  calls: BackendSrvRequest[];
}

/** A BackendSrv whose fetch() answers from a route function and records every request. */
export function fakeBackend(
  answer: (req: BackendSrvRequest) => FetchResponse<unknown> | FetchError<unknown>
): FakeBackend {
  const calls: BackendSrvRequest[] = [];
  const srv = {
    fetch: (req: BackendSrvRequest) => {
      calls.push(req);
      const res = answer(req);
      return 'ok' in res ? of(res) : throwError(() => res);
    },
  } as unknown as BackendSrv;
  return { srv, calls };
}

export function queryRequest(targets: GpufleetQuery[], scopedVars: ScopedVars = {}): DataQueryRequest<GpufleetQuery> {
  const from = dateTime('2026-11-23T20:00:00.000Z');
  const to = dateTime('2026-11-23T21:00:00.000Z');
  return {
    requestId: 'Q1',
    interval: '10s',
    intervalMs: 10000,
    maxDataPoints: 720,
    range: { from, to, raw: { from: 'now-1h', to: 'now' } },
    scopedVars,
    targets,
    timezone: 'utc',
    app: 'dashboard',
    startTime: 0,
  } as DataQueryRequest<GpufleetQuery>;
}
