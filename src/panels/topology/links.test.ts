import { type ScopedVars, standardEditorsRegistry } from '@grafana/data';

import { framesOf } from '../../testing/fixtures';
import { DEFAULT_ENGINE_LINK, DEFAULT_GPU_LINK, buildLink, engineLinkFields, engineOf, gpuLinkFields } from './links';
import { type TopoNode, parseTopology } from './model';
import { plugin } from './module';
import { DEFAULT_OPTIONS, withDefaults } from './types';

/**
 * A stand-in for the panel's replaceVariables with Grafana's rules for what these links use: `$name`,
 * `${name}` and `${name:format}` of dashboard variables (unknown names left as they are), and the
 * `${__url_time_range}` macro ("from=…&to=…", the dashboard's time range as in its URL).
 */
function dashboard(vars: Record<string, string>, timeRange = 'from=now-6h&to=now') {
  const calls: string[] = [];
  const replace = (s: string, _scoped?: ScopedVars, _format?: string | Function) => {
    calls.push(s);
    return s.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, a, b) => {
      const name = a ?? b;
      if (name === '__url_time_range') {
        return timeRange;
      }
      return name in vars ? vars[name] : m;
    });
  };
  return { replace, calls };
}

const node = (kind: TopoNode['kind'], id: string, detail: Record<string, unknown>): TopoNode => ({
  id,
  kind,
  title: id,
  subtitle: '',
  detail,
});

describe('data links of the topology panel', () => {
  const gpu = node('gpu', 'gpu:GPU-5b2c', { host: 'gpu-host-1', uuid: 'GPU-5b2c', index: 3 });
  const engine = node('engine', 'engine:gpu-host-1:8000', {
    host: 'gpu-host-1',
    engineId: 'gpu-host-1:8000',
    model: 'meta-llama/Llama-3.1-8B-Instruct',
  });

  it('the default GPU link opens the GPU dashboard with host, GPU UUID and the time range', () => {
    const { replace } = dashboard({});
    expect(buildLink(DEFAULT_GPU_LINK, gpuLinkFields(gpu), replace)).toBe(
      '/d/gpufleet-gpu/gpu-detail?var-host=gpu-host-1&var-gpu=GPU-5b2c&from=now-6h&to=now'
    );
  });

  it('the default engine link opens the engine dashboard with host, engine id (colon encoded) and the time range', () => {
    const { replace } = dashboard({});
    expect(buildLink(DEFAULT_ENGINE_LINK, engineLinkFields(engine), replace)).toBe(
      '/d/gpufleet-engine/engine-detail?var-host=gpu-host-1&var-engine=gpu-host-1%3A8000&from=now-6h&to=now'
    );
    // What the engine dashboard's variable receives once the browser decodes the query string.
    const url = new URL(buildLink(DEFAULT_ENGINE_LINK, engineLinkFields(engine), replace)!, 'http://grafana');
    expect(url.searchParams.get('var-engine')).toBe('gpu-host-1:8000');
  });

  it('escapes node values for URLs, and a value is never read as a variable or a second parameter', () => {
    const odd = node('gpu', 'gpu:x', { host: 'rack 1&x=$evil ${evil}#frag', uuid: 'GPU/../a?b' });
    const { replace, calls } = dashboard({ evil: 'INJECTED' });
    const href = buildLink('/d/x/y?var-host=${host}&var-gpu=$gpu', gpuLinkFields(odd), replace)!;
    expect(href).toBe('/d/x/y?var-host=rack%201%26x%3D%24evil%20%24%7Bevil%7D%23frag&var-gpu=GPU%2F..%2Fa%3Fb');
    expect(href).not.toContain('INJECTED');
    const url = new URL(href, 'http://grafana');
    expect(Array.from(url.searchParams.keys())).toEqual(['var-host', 'var-gpu']);
    expect(url.searchParams.get('var-host')).toBe('rack 1&x=$evil ${evil}#frag');
    expect(url.searchParams.get('var-gpu')).toBe('GPU/../a?b');
    // replaceVariables saw the template with the node's fields already in.
    expect(calls).toEqual([href]);
  });

  it('interpolates dashboard variables through replaceVariables; a node field wins over a variable of its name', () => {
    const { replace } = dashboard({ env: 'prod', datasource: 'gpufleet-a', gpu: 'ALL' });
    expect(
      buildLink(
        'https://grafana.example/d/abc/x?var-env=$env&var-ds=${datasource:queryparam}&var-gpu=${gpu}&idx=$gpuIndex&${__url_time_range}',
        gpuLinkFields(gpu),
        replace
      )
    ).toBe('https://grafana.example/d/abc/x?var-env=prod&var-ds=gpufleet-a&var-gpu=GPU-5b2c&idx=3&from=now-6h&to=now');
  });

  it('an empty or blank option means no link; undefined options get the defaults', () => {
    const { replace } = dashboard({});
    expect(buildLink('', gpuLinkFields(gpu), replace)).toBeUndefined();
    expect(buildLink('   ', engineLinkFields(engine), replace)).toBeUndefined();
    expect(buildLink(undefined, gpuLinkFields(gpu), replace)).toBeUndefined();
    expect(withDefaults({ gpuLink: '', engineLink: undefined })).toEqual({
      ...DEFAULT_OPTIONS,
      gpuLink: '',
      engineLink: DEFAULT_ENGINE_LINK,
    });
    expect(withDefaults(undefined)).toEqual(DEFAULT_OPTIONS);
  });

  it('refuses a script URL, even one that comes from a dashboard variable', () => {
    const { replace } = dashboard({ target: 'javascript:alert(1)' });
    expect(buildLink('$target', gpuLinkFields(gpu), replace)).toBeUndefined();
    expect(buildLink('javascript:alert(document.cookie)//${gpu}', gpuLinkFields(gpu), replace)).toBeUndefined();
  });

  it('GPU fields from the recorded demo topology: host and UUID of the GPU, MIG UUID of a clicked MIG instance', () => {
    const topo = parseTopology(framesOf('query-topology.json'))!;
    const g1 = topo.gpus.find((g) => g.title === 'GPU 1')!;
    const [mig] = topo.instancesByGpu.get(g1.id)!;
    expect(mig.kind).toBe('mig');
    expect(gpuLinkFields(g1)).toEqual({
      host: 'sim-demo',
      gpu: g1.detail.uuid,
      gpuIndex: '1',
      mig: '',
    });
    expect(String(g1.detail.uuid)).toMatch(/^GPU-/);
    expect(gpuLinkFields(g1, mig).mig).toBe(mig.detail.uuid);
    expect(String(mig.detail.uuid)).toMatch(/^MIG-/);
    // A vGPU instance has no MIG UUID to give.
    const g3 = topo.gpus.find((g) => g.title === 'GPU 3')!;
    expect(gpuLinkFields(g3, topo.instancesByGpu.get(g3.id)![0]).mig).toBe('');
  });

  it('falls back to the node id when a frame has no detail fields, and finds the engine of a rank', () => {
    expect(gpuLinkFields(node('gpu', 'gpu:GPU-x', {})).gpu).toBe('GPU-x');
    expect(engineLinkFields(node('engine', 'engine:h:9000', {})).engine).toBe('h:9000');
    const topo = {
      nodes: new Map([
        [engine.id, engine],
        ['worker:e/0', node('worker', 'worker:e/0', { rank: 0 })],
      ]),
      incoming: new Map([['worker:e/0', [engine.id]]]),
    } as never;
    expect(engineOf(topo, 'worker:e/0')).toBe(engine);
    expect(engineOf(topo, engine.id)).toBe(engine);
    expect(engineOf(topo, 'nope')).toBeUndefined();
  });

  it('the panel options default to the provisioned dashboards', () => {
    // Grafana fills this registry with its editors at start; the builder only needs the ids to exist.
    standardEditorsRegistry.setInit(() =>
      ['radio', 'boolean', 'number', 'text'].map((id) => ({ id, name: id, editor: () => null }))
    );
    expect(plugin.defaults).toMatchObject({
      gpuLink: DEFAULT_GPU_LINK,
      engineLink: DEFAULT_ENGINE_LINK,
      fleetGroupBy: 'cluster',
      hostVariable: 'host',
      nodeCap: 800,
    });
  });
});
