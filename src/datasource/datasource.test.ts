import {
  type DataFrame,
  type DataQueryRequest,
  FieldType,
  LoadingState,
  NodeGraphDataFrameFieldNames,
} from '@grafana/data';
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
    const backend = fakeBackend(() => fetchOk(loadFixture('query-gpus.json')));
    setBackendSrv(backend.srv);
    await lastValueFrom(
      makeDs().query(
        queryRequest([
          { refId: 'A', kind: 'gpus', filters: { host: 'sim-demo' } },
          { refId: 'B', kind: 'gpus', filters: {}, hide: true },
          { refId: 'C', kind: 'timeseries', metric: 'vgpu.utilization', filters: { vm: 'tenant-a-win11' } },
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
          kind: 'gpus',
          filters: { host: 'sim-demo' },
          from: '2026-11-23T20:00:00.000Z',
          to: '2026-11-23T21:00:00.000Z',
          maxDataPoints: 720,
        },
        {
          refId: 'C',
          kind: 'timeseries',
          metric: 'vgpu.utilization',
          filters: { vm: 'tenant-a-win11' },
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
    const ds = makeDs({ host: 'sim-demo', gpu: 'GPU-aaa' });
    const body = ds.buildSidecarRequest(
      queryRequest([{ refId: 'A', kind: 'gpu', filters: { host: '$host', gpu: '${gpu}' } }], {
        gpu: { text: 'GPU 3', value: 'GPU-ddd' },
      })
    );
    expect(body.queries[0].filters).toEqual({ host: 'sim-demo', gpu: 'GPU-ddd' });
  });

  it('sends a multi-value variable as an array of its values', () => {
    const ds = makeDs({ gpu: ['GPU-aaa', 'GPU-bbb'], host: 'sim-demo' });
    const body = ds.buildSidecarRequest(
      queryRequest([{ refId: 'A', kind: 'processes', filters: { gpu: '$gpu', host: '$host' } }])
    );
    expect(body.queries[0].filters).toEqual({ gpu: ['GPU-aaa', 'GPU-bbb'], host: 'sim-demo' });
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

describe('frame conversion (recorded demo-host answers)', () => {
  it('turns the topology answer into nodes and edges frames for the panel and for Node Graph', async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('query-topology.json'))).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'topology' }])));
    expect(res.state).toBe(LoadingState.Done);
    expect(res.data.map((f) => f.name)).toEqual(['nodes', 'edges']);
    const [nodes, edges] = res.data;
    expect(nodes.refId).toBe('A');
    // The demo host: 8 GPUs, 11 MIG instances on GPUs 1 and 2, 7 vGPUs on GPUs 3 and 4, no engine.
    expect(nodes.length).toBe(26);
    expect(edges.length).toBe(18);
    expect(nodes.meta?.preferredVisualisationType).toBe('nodeGraph');
    const field = (name: string) => nodes.fields.find((f: { name: string }) => f.name === name);
    expect(new Set(field('kind').values)).toEqual(new Set(['gpu', 'mig', 'vgpu']));
    expect(field('id').values.filter((id: string) => id.startsWith('gpu:GPU-'))).toHaveLength(8);
    expect(field('mainstat').type).toBe(FieldType.string);
    expect(field('load').type).toBe(FieldType.number);
    expect(field('detail__active').type).toBe(FieldType.boolean);
    // What the stock Node Graph panel reads (it matches these names case-insensitively; the enum also
    // lists optional ones such as icon).
    const N = NodeGraphDataFrameFieldNames;
    const names = (f: DataFrame) => f.fields.map((x) => x.name.toLowerCase());
    for (const name of [N.id, N.title, N.subTitle, N.mainStat, N.secondaryStat, N.color]) {
      expect(names(nodes)).toContain(name.toLowerCase());
    }
    expect(names(nodes).some((n) => n.startsWith(N.arc))).toBe(true);
    expect(names(nodes).some((n) => n.startsWith(N.detail))).toBe(true);
    expect(names(edges)).toEqual(expect.arrayContaining([N.id, N.source, N.target]));
  });

  it("passes a failed source's notice (frame meta) through to the panel", async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('query-topology-degraded.json'))).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'topology' }])));
    expect(res.data[0].meta?.notices).toEqual([
      {
        severity: 'error',
        text: expect.stringMatching(
          /^vgpu source failed: .*vgpu -q: exit code 255: Unable to determine the device handle/
        ),
      },
    ]);
  });

  it('keeps the time field, labels and values of a time series', async () => {
    const answer = loadFixture<any>('query-timeseries.json');
    const recorded = answer.results.C.frames[0];
    setBackendSrv(fakeBackend(() => fetchOk(answer)).srv);
    const res = await lastValueFrom(
      makeDs().query(queryRequest([{ refId: 'C', kind: 'timeseries', metric: 'gpu.utilization' }]))
    );
    const [frame] = res.data;
    expect(frame.fields[0].type).toBe(FieldType.time);
    expect(frame.fields[0].values).toEqual(recorded.data.values[0]);
    expect(frame.fields[1].values).toEqual(recorded.data.values[1]);
    expect(frame.fields[1].labels).toEqual({
      host: 'sim-demo',
      gpu: 'GPU-f197df2d-4b4a-6442-41a2-ed8f25b6428c',
      gpuIndex: '0',
      gpuName: 'NVIDIA H100 80GB HBM3',
    });
    expect(frame.fields[1].config.unit).toBe('percent');
  });

  it('a missing value stays null: a gap, never 0 % (recorded answer with one value blanked)', async () => {
    const answer = loadFixture<any>('query-timeseries.json');
    answer.results.C.frames[0].data.values[1][1] = null;
    setBackendSrv(fakeBackend(() => fetchOk(answer)).srv);
    const res = await lastValueFrom(
      makeDs().query(queryRequest([{ refId: 'C', kind: 'timeseries', metric: 'gpu.utilization' }]))
    );
    expect(res.data[0].fields[1].values[1]).toBeNull();
  });

  it('sets the query refId on frames even when the sidecar omits it', async () => {
    const answer = loadFixture<any>('query-gpus.json');
    delete answer.results.B.frames[0].schema.refId;
    setBackendSrv(fakeBackend(() => fetchOk(answer)).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'B', kind: 'gpus' }])));
    expect(res.data[0].refId).toBe('B');
    expect(res.data[0].length).toBe(8);
  });

  it('reports a query the sidecar left out of its answer, per refId', async () => {
    setBackendSrv(fakeBackend(() => fetchOk({ results: {} })).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'engines' }])));
    expect(res.errors).toEqual([{ refId: 'A', message: 'The sidecar returned no result for query A.' }]);
    expect(res.state).toBe(LoadingState.Error);
  });
});

describe('sidecar errors shown to the user (recorded error answers)', () => {
  const cases: Array<[number, string, RegExp]> = [
    [
      400,
      'error-400.json',
      /^The sidecar rejected the query: queries\[0\]\.kind: Invalid option: expected one of "topology".* \(field "queries\[0\]\.kind"\)$/,
    ],
    [
      401,
      'error-401.json',
      /^The sidecar refused the request \(401 unauthorized\): missing or wrong credentials .*\. Check the bearer token in the data source settings\.$/,
    ],
    [
      404,
      'error-404.json',
      /^Not found on the sidecar: queries\[0\]\.filters\.gpu: no GPU 99 on sim-demo \(field "queries\[0\]\.filters\.gpu"\)$/,
    ],
    [
      503,
      'error-503.json',
      /^The sidecar cannot answer right now \(503 not-ready\): the first collection has not finished yet; retry in a few seconds$/,
    ],
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
    // Grafana's data proxy answers 502 with an empty body when the upstream refuses the connection.
    setBackendSrv(fakeBackend(() => fetchError(502, '', 'Bad Gateway')).srv);
    const res = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'A', kind: 'topology' }])));
    expect(res.errors![0].message).toBe(
      'Grafana could not reach the sidecar (502 Bad Gateway). Check that the sidecar is running and that the data source URL points at it.'
    );
  });
});

describe('Save & test (recorded health answers)', () => {
  it('reports the version, the host and that the sources work', async () => {
    const backend = fakeBackend(() => fetchOk(loadFixture('health-ok.json')));
    setBackendSrv(backend.srv);
    const result = await makeDs().testDatasource();
    expect(backend.calls[0].url).toBe(`${PROXY}/api/v1/health`);
    expect(result.status).toBe('success');
    expect(result.message).toMatch(
      /^gpufleet sidecar 0\.3\.0 on sim-demo \(up \d+m \d+s\) is ok\. Working: gpu, vgpu, xid, engines\. Disabled: docker\.$/
    );
    expect(result.details?.verboseMessage).toContain('docker: disabled: turned off (--docker-socket none)');
  });

  it('names each failing source and why: a failed vGPU source is a warning', async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('health-degraded.json'))).srv);
    const result = await makeDs().testDatasource();
    expect(result.status).toBe('warning');
    expect(result.message).toContain('is degraded. Working: gpu, xid, engines.');
    expect(result.message).toContain(
      'Problems: vgpu failed: <repo>/sidecar/dist/sim/fakeNvidiaSmi.js vgpu -q: exit code 255: Unable to determine the device handle for GPU0000:18:00.0: Unknown Error.'
    );
    expect(result.details?.verboseMessage).toMatch(/^vgpu: failed: .*Unknown Error, last success \d+s ago$/m);
  });

  it('a failed GPU source is an error, even while other sources work', async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('health-gpu-failed.json'))).srv);
    const result = await makeDs().testDatasource();
    expect(result.status).toBe('error');
    expect(result.message).toContain(
      'gpu failed: <repo>/sidecar/dist/sim/fakeNvidiaSmi.js -q -x -lms 1000 exited with code 18'
    );
    expect(result.message).toContain('vgpu failed: no GPU reading:');
  });

  it('a sidecar that says "failing" is an error (recorded answer with the status changed)', async () => {
    const health = loadFixture<any>('health-degraded.json');
    health.status = 'failing';
    setBackendSrv(fakeBackend(() => fetchOk(health)).srv);
    expect((await makeDs().testDatasource()).status).toBe('error');
  });

  it('a sidecar that has just started is a warning naming the sources still starting, not a failure', async () => {
    const health = loadFixture<any>('health-ok.json');
    health.status = 'starting';
    health.sources.gpu = { status: 'starting', error: 'first collection not finished yet' };
    health.sources.vgpu = { status: 'starting', error: 'first collection not finished yet' };
    setBackendSrv(fakeBackend(() => fetchOk(health)).srv);
    const result = await makeDs().testDatasource();
    expect(result.status).toBe('warning');
    expect(result.message).toContain('is starting.');
    expect(result.message).toContain('Starting: gpu, vgpu (first collection not finished');
    expect(result.message).not.toContain('Problems');
  });

  it('lists a source the plugin does not know yet', async () => {
    const health = loadFixture<any>('health-ok.json');
    health.sources.k8s = { status: 'failed', error: 'no kubeconfig' };
    setBackendSrv(fakeBackend(() => fetchOk(health)).srv);
    expect((await makeDs().testDatasource()).message).toContain('Problems: k8s failed: no kubeconfig.');
  });

  it('a stopped sidecar gives a connection message', async () => {
    setBackendSrv(fakeBackend(() => fetchError(502, '', 'Bad Gateway')).srv);
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

describe('template variable values (recorded answers)', () => {
  it('GETs /api/v1/variables/:name with interpolated filters and returns text/value pairs', async () => {
    const backend = fakeBackend(() => fetchOk(loadFixture('variables-migs.json')));
    setBackendSrv(backend.srv);
    const values = await makeDs({ gpu: ['1', '2'] }).metricFindQuery({ name: 'migs', filters: { gpu: '$gpu' } });
    expect(backend.calls[0].url).toBe(`${PROXY}/api/v1/variables/migs`);
    expect(backend.calls[0].params).toEqual({ gpu: '1,2' });
    expect(values).toHaveLength(11);
    expect(values[0]).toEqual({
      text: 'GPU 1 · NVIDIA H100 80GB HBM3 · 3g.40gb (GI 2)',
      value: 'MIG-dc229a5d-450d-51eb-b96b-0ccbbda7b5a4',
    });
  });

  it('accepts a text query such as "vms?gpu=$gpu" (provisioned dashboards)', async () => {
    const backend = fakeBackend(() => fetchOk(loadFixture('variables-vms.json')));
    setBackendSrv(backend.srv);
    const values = await makeDs({ gpu: ['GPU-a', 'GPU-b'] }).metricFindQuery('vms?gpu=$gpu');
    expect(backend.calls[0].url).toBe(`${PROXY}/api/v1/variables/vms`);
    expect(backend.calls[0].params).toEqual({ gpu: 'GPU-a,GPU-b' });
    expect(values.map((v) => v.text)).toContain('tenant-a-win11');
  });

  it("runs through Grafana's variable support API (the variable editor's query)", async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('variables-gpus.json'))).srv);
    const support = makeDs().variables as GpufleetVariableSupport;
    expect(support).toBeInstanceOf(GpufleetVariableSupport);
    const request = queryRequest([]) as unknown as DataQueryRequest<VariableQuery>;
    request.targets = [{ refId: 'variable', name: 'gpus', filters: {} }];
    const res = await lastValueFrom(support.query(request));
    expect(res.data).toHaveLength(8);
    expect(res.data[3]).toEqual({
      text: 'GPU 3 · NVIDIA H100 80GB HBM3',
      value: 'GPU-38681c4b-5cd6-6748-8f00-ce0a73e7bdcd',
    });
  });

  it('rejects an unknown variable name with the list of valid ones', () => {
    expect(() => parseVariableQuery('clusters')).toThrow(
      'Unknown variable query "clusters": use one of hosts, gpus, migs, vgpus, vms, engines, models, metrics.'
    );
  });

  it('explains a failed lookup', async () => {
    setBackendSrv(fakeBackend(() => fetchError(503, loadFixture('error-503.json'))).srv);
    await expect(makeDs().metricFindQuery('hosts')).rejects.toThrow(
      'Could not load the values of "hosts": The sidecar cannot answer right now (503 not-ready)'
    );
  });
});

describe('annotations from sidecar events (recorded answer)', () => {
  it('GETs /api/v1/events for the time range and returns time/title/text/tags for Grafana to turn into annotations', async () => {
    const backend = fakeBackend(() => fetchOk(loadFixture('events.json')));
    setBackendSrv(backend.srv);
    const ds = makeDs({ host: 'sim-demo' });
    const anno = ds.annotations!.prepareAnnotation!({ name: 'gpufleet events', enable: true, iconColor: 'red' } as any);
    expect(anno.target).toEqual({ refId: 'Anno', filters: {}, kind: 'events' });
    const res = await lastValueFrom(
      ds.query(
        queryRequest([
          { refId: 'Anno', kind: 'events', filters: { host: '$host' }, eventKinds: ['gpu-lost', 'gpu-back'] },
        ])
      )
    );
    expect(backend.calls[0].url).toBe(`${PROXY}/api/v1/events`);
    expect(backend.calls[0].params).toEqual({ from: '2026-11-23T20:00:00.000Z', to: '2026-11-23T21:00:00.000Z' });
    const recorded = loadFixture<any>('events.json').events.filter((e: any) =>
      ['gpu-lost', 'gpu-back'].includes(e.kind)
    );
    expect(recorded).toHaveLength(2);
    const frame = res.data[0];
    const col = (n: string) => frame.fields.find((f: { name: string }) => f.name === n).values;
    expect(col('time')).toEqual(recorded.map((e: any) => Date.parse(e.time)));
    expect(col('title')).toEqual([
      'gpu-lost · GPU-dcf0197b-dc36-ac3e-24bd-5d4ed650f11f',
      'gpu-back · GPU-dcf0197b-dc36-ac3e-24bd-5d4ed650f11f',
    ]);
    expect(col('text')[0]).toBe(
      'GPU 7 NVIDIA H100 80GB HBM3 (GPU-dcf0197b-dc36-ac3e-24bd-5d4ed650f11f) is no longer reported by nvidia-smi (sim-demo)'
    );
    expect(col('tags')[1]).toEqual(['gpufleet', 'gpu-back', 'sim-demo']);
  });

  it('keeps every kind when none is ticked, and drops other hosts', async () => {
    setBackendSrv(fakeBackend(() => fetchOk(loadFixture('events.json'))).srv);
    const all = await lastValueFrom(makeDs().query(queryRequest([{ refId: 'Anno', kind: 'events', filters: {} }])));
    expect(all.data[0].length).toBe(loadFixture<any>('events.json').events.length);
    const other = await lastValueFrom(
      makeDs().query(queryRequest([{ refId: 'Anno', kind: 'events', filters: { host: 'gpu-host-9' } }]))
    );
    expect(other.data[0].length).toBe(0);
  });
});
