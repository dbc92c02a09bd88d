// docker-compose.yml as a real compose implementation reads it (Debian's docker-compose, installed by
// scripts/install-deps.sh): services, profiles, mounts and the settings a GPU host needs.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './harness.js';

function composeConfig(env: Record<string, string> = {}): any {
  const out = execFileSync('docker-compose', ['config'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  return parse(out);
}

describe('docker-compose.yml', () => {
  const config = composeConfig();
  const s = config.services;

  it('parses and has Grafana, Prometheus, the sidecar and the demo sidecar', () => {
    expect(Object.keys(s).sort()).toEqual(['docker-proxy', 'grafana', 'prometheus', 'sidecar', 'sidecar-demo']);
  });

  it('starts the GPU sidecar by default and the simulated one under the demo profile', () => {
    expect(s.sidecar.profiles).toEqual(['gpu']);
    expect(s['sidecar-demo'].profiles).toEqual(['demo']);
    expect(s['sidecar-demo'].command).toEqual(expect.arrayContaining(['--simulate', 'demo']));
    expect(s.grafana.profiles).toBeUndefined();
    expect(s.prometheus.profiles).toBeUndefined();
    // `docker compose up` reads COMPOSE_PROFILES from .env.
    expect(readFileSync(join(ROOT, '.env'), 'utf8')).toMatch(/^COMPOSE_PROFILES=gpu$/m);
  });

  it('mounts the built plugin and allows its three unsigned ids', () => {
    const ids = ['plugin.json', 'src/datasource/plugin.json', 'src/panels/topology/plugin.json'].map((f) => JSON.parse(readFileSync(join(ROOT, f), 'utf8')).id);
    expect(s.grafana.environment.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS.split(',').sort()).toEqual(ids.sort());
    expect(s.grafana.volumes).toContain(`${join(ROOT, 'dist')}:/var/lib/grafana/plugins/${ids[0]}:ro`);
    const home = s.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(existsSync(join(ROOT, home.replace('/etc/grafana/provisioning', 'provisioning')))).toBe(true);
  });

  it('mounts provisioning, Prometheus config and rules from files that exist', () => {
    const binds = Object.values(s).flatMap((svc: any) => svc.volumes ?? []).filter((v: string) => v.startsWith('/'));
    expect(binds.length).toBeGreaterThanOrEqual(6);
    for (const b of binds) {
      const host = b.split(':')[0];
      if (host === join(ROOT, 'dist') || host.startsWith('/var/run')) continue;
      expect({ b, exists: existsSync(host) }).toEqual({ b, exists: true });
    }
    expect(s.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(s.prometheus.volumes).toContain(`${join(ROOT, 'prometheus')}:/etc/prometheus:ro`);
    for (const name of ['sidecar', 'sidecar-demo']) {
      expect(s[name].build.dockerfile).toBe('sidecar/Dockerfile');
      expect(existsSync(join(s[name].build.context, s[name].build.dockerfile))).toBe(true);
    }
  });

  it('gives the GPU sidecar the host view it needs', () => {
    expect(s.sidecar.pid).toBe('host');
    expect(s.sidecar.network_mode).toBe('host');
    expect(s.sidecar.deploy.resources.reservations.devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: expect.arrayContaining(['gpu']) })]);
    expect(s.sidecar.devices).toContain('/dev/kmsg:/dev/kmsg');
    // AppArmor's docker-default profile would still deny /proc/PID/environ of host processes.
    expect(s.sidecar.security_opt).toContain('apparmor=unconfined');
  });

  it('runs the GPU sidecar as the unprivileged user with SYSLOG and SYS_PTRACE as its only capabilities', () => {
    expect(readFileSync(join(ROOT, 'sidecar/Dockerfile'), 'utf8')).toMatch(/^USER 10001:10001$/m);
    expect(s.sidecar.cap_drop).toEqual(['ALL']);
    // SETUID/SETGID only for setpriv's switch to uid 10001; no-new-privileges keeps it from coming back.
    expect([...s.sidecar.cap_add].sort()).toEqual(['SETGID', 'SETUID', 'SYSLOG', 'SYS_PTRACE']);
    expect(s.sidecar.security_opt).toContain('no-new-privileges:true');
    const ep: string[] = s.sidecar.entrypoint;
    expect(ep.slice(0, ep.indexOf('node'))).toEqual([
      'setpriv', '--reuid=10001', '--regid=10001', '--clear-groups',
      '--inh-caps=-all,+syslog,+sys_ptrace', '--ambient-caps=-all,+syslog,+sys_ptrace', '--no-new-privs',
    ]);
    // The sidecar's V8 flags (a small young generation keeps RSS under 100 MB, one GC thread costs less
    // CPU on its small heap; see docs/PERFORMANCE.md).
    expect(ep.slice(ep.indexOf('node'))).toEqual(['node', '--max-semi-space-size=1', '--single-threaded-gc', '--no-allocation-site-pretenuring', '--optimize-for-size', '--v8-pool-size=1', '/opt/gpufleet/sidecar/dist/cli.js']);
    // The demo needs none of it: the image's own non-root user, no capabilities added.
    expect(s['sidecar-demo'].user).toBeUndefined();
    expect(s['sidecar-demo'].cap_add).toBeUndefined();
  });

  it('gives the GPU sidecar the Docker API only through a proxy that allows container reads', () => {
    const binds = (svc: any): string[] => svc.volumes ?? [];
    // A read-only mount of docker.sock would still let the sidecar create and exec into containers.
    for (const name of ['sidecar', 'sidecar-demo', 'grafana', 'prometheus']) expect(binds(s[name]).filter((v) => v.includes('docker.sock'))).toEqual([]);
    const proxy = s['docker-proxy'];
    expect(proxy.profiles).toEqual(['gpu']);
    expect(binds(proxy)).toContain('/var/run/docker.sock:/var/run/docker.sock:ro');
    expect(proxy).toMatchObject({ network_mode: 'none', read_only: true, cap_drop: ['ALL'] });
    const flag = (name: string) => (proxy.command as string[]).find((c) => c.startsWith(`-${name}=`))?.slice(name.length + 2);
    // The sidecar's --docker-socket is the proxy's socket, in a volume both mount.
    const sock = flag('proxysocketendpoint') as string;
    const arg = s.sidecar.command.indexOf('--docker-socket');
    expect(s.sidecar.command[arg + 1]).toBe(sock);
    const vol = (svc: any) => binds(svc).find((v) => sock.startsWith(`${v.split(':')[1]}/`))?.split(':')[0];
    expect(vol(s.sidecar)).toBe('docker-proxy');
    expect(vol(proxy)).toBe('docker-proxy');
    // GET (and HEAD for ping) only; the proxy anchors each pattern at both ends.
    expect((proxy.command as string[]).filter((c) => /^-allow[A-Z]+=/.test(c)).map((c) => c.split('=')[0]).sort()).toEqual(['-allowGET', '-allowHEAD']);
    const get = new RegExp(`^${flag('allowGET')}$`);
    const id = 'a'.repeat(64);
    for (const p of ['/containers/json', `/v1.43/containers/${id}/json`, '/v1.41/version', '/_ping']) expect({ p, ok: get.test(p) }).toEqual({ p, ok: true });
    for (const p of ['/containers/create', `/containers/${id}/exec`, `/containers/${id}/archive`, '/images/json', '/secrets', `/v1.43/containers/${id}/logs`])
      expect({ p, ok: get.test(p) }).toEqual({ p, ok: false });
  });

  it('keeps Prometheus on loopback and passes the sidecar token through to Grafana', () => {
    expect(s.prometheus.command).toContain('--web.listen-address=127.0.0.1:9090');
    expect(composeConfig({ GPUFLEET_SIDECAR_TOKEN: 's3cret' }).services.grafana.environment.GPUFLEET_SIDECAR_TOKEN).toBe('s3cret');
  });

  it('lets .env or the shell pick the image versions', () => {
    expect(composeConfig({ GRAFANA_VERSION: '13.2.2' }).services.grafana.image).toBe('grafana/grafana:13.2.2');
  });
});
