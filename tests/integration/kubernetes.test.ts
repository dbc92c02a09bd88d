// deploy/kubernetes/: every manifest validated offline against the JSON schemas that kubernetes-models
// generates from Kubernetes' published OpenAPI (and, for the Prometheus Operator's PodMonitor and
// ScrapeConfig, from its CRDs: @kubernetes-models/prometheus-operator); then what ties them together
// (selectors, ports, the token Secret, the image tag) and what each source needs from the node.
// These schemas check types, required fields and enums; like Kubernetes' OpenAPI they do not close
// objects, so a misspelt field would pass them: the fields that matter are read back by name below.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { CLI, ROOT } from './harness.js';

const DIR = join(ROOT, 'deploy/kubernetes');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
/** Files that are not Kubernetes objects: kustomize's own file and the Grafana Helm chart's values. */
const NOT_OBJECTS = new Set(['kustomization.yaml', 'grafana/values.yaml']);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []
  );
}

const files = yamlFiles(DIR).map((f) => relative(DIR, f));
const objects: Array<{ file: string; obj: K8sObject }> = files
  .filter((f) => !NOT_OBJECTS.has(f))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return { file, obj: d.toJS() as K8sObject };
    })
  );
const one = (kind: string) => {
  const found = objects.filter((o) => o.obj.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!.obj;
};

/** The kubernetes-models class for an apiVersion and kind (core group: `v1`). */
async function modelFor(apiVersion: string, kind: string): Promise<any> {
  const mod = apiVersion.startsWith('monitoring.coreos.com/')
    ? await import(`@kubernetes-models/prometheus-operator/${apiVersion}`)
    : await import(`kubernetes-models/${apiVersion}`);
  return mod[kind];
}

describe('Kubernetes manifests', () => {
  it('are all Kubernetes objects that validate against the published schemas', async () => {
    expect(objects.map((o) => o.obj.kind).sort()).toEqual(
      ['ConfigMap', 'DaemonSet', 'Namespace', 'PodMonitor', 'ScrapeConfig', 'Service'].sort()
    );
    for (const { file, obj } of objects) {
      const Model = await modelFor(obj.apiVersion, obj.kind);
      expect({ file, kind: obj.kind, known: typeof Model }).toEqual({ file, kind: obj.kind, known: 'function' });
      let error = '';
      try {
        new Model(obj).validate();
      } catch (err) {
        error = String((err as Error).message);
      }
      expect({ file, kind: obj.kind, error }).toEqual({ file, kind: obj.kind, error: '' });
    }
  });

  it('the schemas catch a wrong type (the check can fail)', async () => {
    const ds = structuredClone(one('DaemonSet'));
    ds.spec.template.spec.hostPID = 'yes';
    const Model = await modelFor(ds.apiVersion, ds.kind);
    expect(() => new Model(ds).validate()).toThrow(/hostPID must be boolean/);
  });

  it('kustomization lists every sidecar manifest and pins the image to this version', () => {
    const k = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'));
    const topLevel = files.filter((f) => !f.includes('/') && !NOT_OBJECTS.has(f));
    expect([...k.resources].sort()).toEqual(topLevel.sort());
    expect(k.namespace).toBe(one('Namespace').metadata.name);
    const container = one('DaemonSet').spec.template.spec.containers[0];
    expect(k.images).toEqual([{ name: container.image, newTag: VERSION }]);
  });

  it('the DaemonSet runs on GPU nodes with what each source needs, and no more', () => {
    const pod = one('DaemonSet').spec.template.spec;
    expect(pod.hostPID).toBe(true); // engines: the node's processes
    expect(pod.hostNetwork).toBe(true); // engines on the node's loopback
    expect(pod.runtimeClassName).toBe('nvidia'); // nvidia-smi and every GPU, none reserved
    expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(pod.tolerations).toEqual([expect.objectContaining({ key: 'nvidia.com/gpu', operator: 'Exists' })]);
    const c = pod.containers[0];
    expect(c.resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['SETUID', 'SETGID', 'SYSLOG', 'SYS_PTRACE'] });
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    // The same switch to uid 10001 as the compose file's GPU sidecar (tested against docker-compose).
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'));
    expect(c.command).toEqual(compose.services.sidecar.entrypoint);
    const kmsg = pod.volumes.find((v: any) => v.hostPath?.path === '/dev/kmsg');
    expect(kmsg.hostPath.type).toBe('CharDevice');
    expect(c.volumeMounts).toContainEqual(expect.objectContaining({ name: kmsg.name, mountPath: '/dev/kmsg' }));
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    }
  });

  it('the DaemonSet sets only variables the sidecar reads, and its token file is the Secret\'s key', () => {
    const pod = one('DaemonSet').spec.template.spec;
    const c = pod.containers[0];
    const help = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    const known = new Set(help.match(/GPUFLEET_[A-Z0-9_]+/g));
    const names: string[] = c.env.map((e: any) => e.name).filter((n: string) => n.startsWith('GPUFLEET_'));
    expect(names.filter((n) => !known.has(n))).toEqual([]);
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    const tokenVolume = pod.volumes.find((v: any) => v.secret);
    const mount = c.volumeMounts.find((m: any) => m.name === tokenVolume.name);
    const pm = one('PodMonitor').spec.podMetricsEndpoints[0];
    expect(env.GPUFLEET_TOKEN_FILE).toBe(`${mount.mountPath}/${pm.authorization.credentials.key}`);
    expect(tokenVolume.secret.secretName).toBe(pm.authorization.credentials.name);
    expect(env.GPUFLEET_LISTEN).toBe(`0.0.0.0:${c.ports[0].containerPort}`);
  });

  it('the Service and PodMonitor select the DaemonSet\'s pods and name its port', () => {
    const ds = one('DaemonSet');
    const labels = ds.spec.template.metadata.labels;
    const port = ds.spec.template.spec.containers[0].ports[0];
    const svc = one('Service');
    const pm = one('PodMonitor');
    for (const selector of [svc.spec.selector, pm.spec.selector.matchLabels, ds.spec.selector.matchLabels]) {
      expect(labels).toEqual(expect.objectContaining(selector));
    }
    expect(svc.spec.ports[0]).toEqual(expect.objectContaining({ port: port.containerPort, targetPort: port.name }));
    expect(pm.spec.podMetricsEndpoints[0]).toEqual(expect.objectContaining({ port: port.name, path: '/metrics' }));
  });

  it('the ScrapeConfig reads each node\'s engine SD, with the token and the node as the loopback name', () => {
    const sc = one('ScrapeConfig');
    const pm = one('PodMonitor').spec.podMetricsEndpoints[0];
    expect(sc.spec.httpSDConfigs.length).toBeGreaterThan(0);
    for (const sd of sc.spec.httpSDConfigs) {
      const u = new URL(sd.url);
      expect(u.pathname).toBe('/api/v1/sd/engines');
      expect(u.searchParams.get('loopback')).toBe(u.hostname);
      expect(sd.authorization).toEqual(pm.authorization);
    }
  });
});

describe('Grafana on Kubernetes', () => {
  const values = parse(readFileSync(join(DIR, 'grafana/values.yaml'), 'utf8'));
  const ids = ['plugin.json', 'src/datasource/plugin.json', 'src/panels/topology/plugin.json'].map(
    (f) => JSON.parse(readFileSync(join(ROOT, f), 'utf8')).id as string
  );

  it('installs this version\'s plugin archive and allows its three unsigned ids', () => {
    expect(values.plugins).toHaveLength(1);
    expect(values.plugins[0]).toMatch(new RegExp(`/${ids[0]}-${VERSION.replace(/\./g, '\\.')}\\.zip;${ids[0]}$`));
    expect(values['grafana.ini'].plugins.allow_loading_unsigned_plugins.split(',').sort()).toEqual([...ids].sort());
  });

  it('provisions the data source uids the dashboards use, and the app as the repository does', () => {
    const repo = parse(readFileSync(join(ROOT, 'provisioning/datasources/gpufleet.yaml'), 'utf8'));
    const uids = (list: any[]) => list.map((d) => `${d.type} ${d.uid}`).sort();
    expect(uids(values.datasources['datasources.yaml'].datasources)).toEqual(uids(repo.datasources));
    const app = one('ConfigMap');
    expect(app.metadata.labels?.[values.sidecar.plugins.label]).toBe(values.sidecar.plugins.labelValue);
    expect(parse(app.data!['gpufleet.yaml']!)).toEqual(parse(readFileSync(join(ROOT, 'provisioning/plugins/gpufleet.yaml'), 'utf8')));
  });
});
