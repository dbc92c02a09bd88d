import { type DataQueryRequest, FieldType, LoadingState } from '@grafana/data';
import { setBackendSrv } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

import {
  INSTANCE_SETTINGS,
  fakeBackend,
  fetchError,
  fetchOk,
  loadFixture,
  queryRequest,
  templateSrvWith,
} from '../testing/fixtures';
import { GpufleetDataSource, parseVariableQuery, toWireFilters } from './datasource';
import type { SidecarQueryRequest, VariableQuery } from './types';
import { GpufleetVariableSupport } from './variables';

const PROXY = '/api/datasources/proxy/uid/gpufleet-test/sidecar';

function makeDs(vars: Record<string, string | string[]> = {}) {
  return new GpufleetDataSource(INSTANCE_SETTINGS, templateSrvWith(vars));
}

describe('query building', () => {
  it('POSTs every visible query to the sidecar through the data proxy route, with the time range in ISO-8601', async () => {
    const backend = fakeBackend(() => fetchOk(loadFixture('query-topology.json')));
    setBackendSrv(backend.srv);
    await lastValueFrom(
      makeDs().query(
        queryRequest([
          { refId: 'A', kind: 'topology', filters: { host: 'gpu-host-1' } },
          { refId: 'B', kind: 'gpus', filters: {}, hide: true },
          { refId: 'C', kind: 'timeseries', metric: 'engine.kvCacheUsage', filters: { engine: 'gpu-host-1:8000' } },
        ])
      )
    );
    expect(backend.calls).toHaveLength(1);
    const call = backend.calls[0];
    expect(call.url).toBe(`${PROXY}/api/v1/query`);
    expect(call.method).toBe('POST');
    expect(call.showErrorAlert).toBe(false);
    expect(call.data as SidecarQueryRequest).toEqual({
      queries: [
        {
          refId: 'A',
          kind: 'topology',
          filters: { host: 'gpu-host-1' },
          from: '2026-11-23T20:00:00.000Z',
          to: '2026-11-23T21:00:00.000Z',
          maxDataPoints: 720,
        },
        {
          refId: 'C',
          kind: 'timeseries',
          metric: 'engine.kvCacheUsage',
          filters: { engine: 'gpu-host-1:8000' },
          from: '2026-11-23T20:00:00.000Z',
          to: '2026-11-23T21:00:00.000Z',
          maxDataPoints: 720,
        },
      ],
    });
  });

  it('sends the metric only for time series and drops empty filters', () => {
    const body = makeDs().buildSidecarRequest(
      queryRequest([{ refId: 'A', kind: 'gpus', metric: 'gpu.power', filters: { host: '  ', gpu: '' } }])
    );
    expect(body.queries[0]).not.toHaveProperty('metric');
    expect(body.queries[0].filters).toEqual({});
  });

  it('makes no request when every query is hidden', async () => {
    const backend = fakeBackend(() => fetchOk({}));
    setBackendSrv(backend.srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'gpus', hide: true }])));
    expect(backend.calls).toHaveLength(0);
    expect(res.data).toEqual([]);
  });
});

describe('template variables in filters', () => {
  it('replaces dashboard variables, with scoped variables (repeated panels) taking precedence', () => {
    const ds = makeDs({ host: 'gpu-host-1', gpu: 'GPU-aaa' });
    const body = ds.buildSidecarRequest(
      queryRequest([{ refId: 'A', kind: 'gpu', filters: { host: '$host', gpu: '${gpu}' } }], {
        gpu: { text: 'GPU 3', value: 'GPU-ddd' },
      })
    );
    expect(body.queries[0].filters).toEqual({ host: 'gpu-host-1', gpu: 'GPU-ddd' });
  });

  it('sends a multi-value variable as an array of its values', () => {
    const ds = makeDs({ gpu: ['GPU-aaa', 'GPU-bbb'], host: 'gpu-host-1' });
    const body = ds.buildSidecarRequest(
      queryRequest([{ refId: 'A', kind: 'processes', filters: { gpu: '$gpu', host: '$host' } }])
    );
    expect(body.queries[0].filters).toEqual({ gpu: ['GPU-aaa', 'GPU-bbb'], host: 'gpu-host-1' });
  });

  it('treats "*" and $__all as no filter, and splits typed comma lists', () => {
    expect(toWireFilters({ host: '*', model: 'a, b,,a', engine: '$__all' })).toEqual({ model: ['a', 'b'] });
  });

  it('interpolates queries for Explore / mixed data sources', () => {
    const [q] = makeDs({ model: 'Qwen/Qwen2.5-7B-Instruct' }).interpolateVariablesInQueries(
      [{ refId: 'A', kind: 'engines', filters: { model: '$model' } }],
      {}
    );
    expect(q.filters).toEqual({ model: 'Qwen/Qwen2.5-7B-Instruct' });
    expect(q.datasource).toEqual({ type: 'gpufleet-sidecar-datasource', uid: 'gpufleet-test' });
  });
});

describe('frame conversion', () => {
  it('turns the topology answer into nodes and edges frames that the Node Graph panel recognises', async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('query-topology.json'))).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'topology' }])));
    expect(res.state).toBe(LoadingState.Done);
    expect(res.data.map((f) => f.name)).toEqual(['nodes', 'edges']);
    const [nodes, edges] = res.data;
    expect(nodes.refId).toBe('A');
    expect(nodes.length).toBe(19);
    expect(edges.length).toBe(15);
    expect(nodes.meta?.preferredVisualisationType).toBe('nodeGraph');
    const kind = nodes.fields.find((f: { name: string }) => f.name === 'kind');
    expect(new Set(kind.values)).toEqual(new Set(['engine', 'worker', 'gpu', 'mig', 'vgpu']));
    const mainstat = nodes.fields.find((f: { name: string }) => f.name === 'mainstat');
    expect(mainstat.type).toBe(FieldType.number);
    expect(mainstat.config.unit).toBe('percent');
  });

  it('keeps time fields, labels and nulls of a time series', async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('query-timeseries.json'))).srv);
    const res = await lastValueFrom(
      makeDs().query(queryRequest([{ refId: 'C', kind: 'timeseries', metric: 'gpu.utilization' }]))
    );
    const [frame] = res.data;
    expect(frame.fields[0].type).toBe(FieldType.time);
    expect(frame.fields[0].values).toEqual([1795467600000, 1795467610000, 1795467620000, 1795467630000]);
    expect(frame.fields[1].labels).toEqual({
      host: 'gpu-host-1',
      gpu_uuid: 'GPU-5d6a7c1e-0b2f-4c41-9a55-1f0e3b7a0000',
      gpu_index: '0',
    });
    // Missing values stay null: a gap, never a 0 %.
    expect(frame.fields[1].values[2]).toBeNull();
  });

  it('sets the query refId on frames even when the sidecar omits it', async () => {
    const answer = loadFixture<any>('query-gpus.json');
    delete answer.results.B.frames[0].schema.refId;
    setBackendSrv(fakeBackend(() => fetchOk(answer)).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'B', kind: 'gpus' }])));
    expect(res.data[0].refId).toBe('B');
    expect(res.data[0].length).toBe(2);
  });

  it('reports a query the sidecar left out of its answer, per refId', async () => {
    setBackendSrv(fakeBackend(() => fetchOk({ results: {} })).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'engines' }])));
    expect(res.errors).toEqual([{ refId: 'A', message: 'The sidecar returned no result for query A.' }]);
    expect(res.state).toBe(LoadingState.Error);
  });
});

describe('sidecar errors shown to the user', () => {
  const cases: Array<[number, string, RegExp]> = [
    [
      400,
      'error-400.json',
      /^The sidecar rejected the query: unknown metric "gpu.utilisation" \(field "queries\[0\].metric"\)$/,
    ],
    [
      401,
      'error-401.json',
      /refused the request \(401 unauthorized\): missing or invalid bearer token\. Check the bearer token/,
    ],
    [
      404,
      'error-404.json',
      /^Not found on the sidecar: no GPU with uuid GPU-0+-0000-0000-0000-0+ \(field "filters.gpu"\)$/,
    ],
    [503, 'error-503.json', /cannot answer right now \(503 not_ready\): no snapshot collected yet/],
  ];
  it.each(cases)('%i: the message says what went wrong, in words', async (status, fixture, expected) => {
    setBackendSrv(fakeBackend(() => fetchError(status, loadFixture(fixture))).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'topology' }])));
    expect(res.data).toEqual([]);
    expect(res.state).toBe(LoadingState.Error);
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].refId).toBe('A');
    expect(res.errors![0].status).toBe(status);
    expect(res.errors![0].message).toMatch(expected);
  });

  it('a sidecar that cannot be reached is reported as a connection problem, not a query problem', async () => {
    setBackendSrv(fakeBackend(() => fetchError(502, { message: 'Bad Gateway' }, 'Bad Gateway')).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'topology' }])));
    expect(res.errors![0].message).toBe(
      'Grafana could not reach the sidecar (502 Bad Gateway: Bad Gateway). Check that the sidecar is running and that the data source URL points at it.'
    );
  });
});

describe('Save & test', () => {
  it('reports the version and that the sources work', async () => {
    const backend = fakeBackend(() => fetchOk(loadFixture('health-ok.json')));
    setBackendSrv(backend.srv);
    const result = await makeDs().testDatasource();
    expect(backend.calls[0].url).toBe(`${PROXY}/api/v1/health`);
    expect(result.status).toBe('success');
    expect(result.message).toBe(
      'gpufleet sidecar 0.1.0 (up 2h 3m) is ok. Working: gpu, vgpu, engines. Disabled: docker.'
    );
  });

  it('names each failing or stale source and why', async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('health-degraded.json'))).srv);
    const result = await makeDs().testDatasource();
    expect(result.status).toBe('warning');
    expect(result.message).toContain('is degraded. Working: gpu.');
    expect(result.message).toContain('vgpu failed: nvidia-smi vgpu -q: exit code 6: No supported devices in vGPU mode');
    expect(result.message).toContain('engines stale: GET http://127.0.0.1:8002/metrics timed out after 2000 ms');
    expect(result.message).toContain('docker failed: connect ENOENT /var/run/docker.sock');
    expect(result.details?.verboseMessage).toContain(
      'engines: stale: GET http://127.0.0.1:8002/metrics timed out after 2000 ms, last success 57s ago'
    );
  });

  it('a failing sidecar is an error', async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('health-failing.json'))).srv);
    const result = await makeDs().testDatasource();
    expect(result.status).toBe('error');
    expect(result.message).toContain('gpu failed: spawn nvidia-smi ENOENT');
  });

  it('a stopped sidecar gives a connection message', async () => {
    setBackendSrv(fakeBackend(() => fetchError(502, { message: 'Bad Gateway' }, 'Bad Gateway')).srv);
    const result = await makeDs().testDatasource();
    expect(result.status).toBe('error');
    expect(result.message).toMatch(/^Grafana could not reach the sidecar \(502/);
  });

  it('a wrong token gives the token advice', async () => {
    setBackendSrv(fakeBackend(() => fetchError(401, loadFixture('error-401.json'))).srv);
    const result = await makeDs().testDatasource();
    expect(result.status).toBe('error');
    expect(result.message).toContain('Check the bearer token');
  });

  it('a URL that is not a sidecar is named as such', async () => {
    setBackendSrv(fakeBackend(() => fetchOk('<html>Prometheus</html>')).srv);
    const result = await makeDs().testDatasource();
    expect(result.status).toBe('error');
    expect(result.message).toContain('not like a gpufleet sidecar');
  });
});

describe('template variable values', () => {
  it('GETs /api/v1/variables/:name with interpolated filters and returns text/value pairs', async () => {
    const backend = fakeBackend(() => fetchOk(loadFixture('variables-gpus.json')));
    setBackendSrv(backend.srv);
    const values = await makeDs({ host: 'gpu-host-1' }).metricFindQuery({ name: 'gpus', filters: { host: '$host' } });
    expect(backend.calls[0].url).toBe(`${PROXY}/api/v1/variables/gpus`);
    expect(backend.calls[0].params).toEqual({ host: 'gpu-host-1' });
    expect(values).toHaveLength(4);
    expect(values[3]).toEqual({
      text: 'GPU 3 · RTX PRO 6000 Blackwell (gpu-host-1)',
      value: 'GPU-9e1b22aa-7c3d-4e8f-8b10-6d2c4a9f0003',
    });
  });

  it('accepts a text query such as "migs?gpu=$gpu" (provisioned dashboards)', async () => {
    const backend = fakeBackend(() => fetchOk({ values: [] }));
    setBackendSrv(backend.srv);
    await makeDs({ gpu: ['GPU-a', 'GPU-b'] }).metricFindQuery('migs?gpu=$gpu');
    expect(backend.calls[0].url).toBe(`${PROXY}/api/v1/variables/migs`);
    expect(backend.calls[0].params).toEqual({ gpu: 'GPU-a,GPU-b' });
  });

  it("runs through Grafana's variable support API (the variable editor's query)", async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('variables-gpus.json'))).srv);
    const support = makeDs().variables as GpufleetVariableSupport;
    expect(support).toBeInstanceOf(GpufleetVariableSupport);
    const request = queryRequest([]) as unknown as DataQueryRequest<VariableQuery>;
    request.targets = [{ refId: 'variable', name: 'gpus', filters: {} }];
    const res = await lastValueFrom(support.query(request));
    expect(res.data.map((v: { value: string }) => v.value)).toHaveLength(4);
  });

  it('rejects an unknown variable name with the list of valid ones', () => {
    expect(() => parseVariableQuery('clusters')).toThrow(
      'Unknown variable query "clusters": use one of hosts, gpus, migs, engines, models.'
    );
  });

  it('explains a failed lookup', async () => {
    setBackendSrv(fakeBackend(() => fetchError(503, loadFixture('error-503.json'))).srv);
    await expect(makeDs().metricFindQuery('hosts')).rejects.toThrow(
      'Could not load the values of "hosts": The sidecar cannot answer right now (503 not_ready)'
    );
  });
});

describe('annotations from sidecar events', () => {
  it('GETs /api/v1/events for the time range and returns time/title/text/tags for Grafana to turn into annotations', async () => {
    const backend = fakeBackend(() => fetchOk(loadFixture('events.json')));
    setBackendSrv(backend.srv);
    const ds = makeDs({ host: 'gpu-host-1' });
    const anno = ds.annotations!.prepareAnnotation!({ name: 'gpufleet events', enable: true, iconColor: 'red' } as any);
    expect(anno.target).toEqual({ refId: 'Anno', filters: {}, kind: 'events' });
    const res = await lastValueFrom(
      ds.query(
        queryRequest([
          { refId: 'Anno', kind: 'events', filters: { host: '$host' }, eventKinds: ['engine-up', 'engine-down'] },
        ])
      )
    );
    expect(backend.calls[0].url).toBe(`${PROXY}/api/v1/events`);
    expect(backend.calls[0].params).toEqual({ from: '2026-11-23T20:00:00.000Z', to: '2026-11-23T21:00:00.000Z' });
    const frame = res.data[0];
    const col = (n: string) => frame.fields.find((f: { name: string }) => f.name === n).values;
    // gpu-host-2's Xid and the MIG change are filtered out (host, kinds).
    expect(col('time')).toEqual([Date.parse('2026-11-23T20:41:07.000Z'), Date.parse('2026-11-23T20:59:44.000Z')]);
    expect(col('title')).toEqual(['engine-up · gpu-host-1:8001', 'engine-down · gpu-host-1:8003']);
    expect(col('text')[1]).toBe('mistralai/Mistral-7B-Instruct-v0.3 stopped answering /health (gpu-host-1)');
    expect(col('tags')[0]).toEqual(['gpufleet', 'engine-up', 'gpu-host-1']);
  });
});
