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
    expect(Object.keys(s).sort()).toEqual(['grafana', 'prometheus', 'sidecar', 'sidecar-demo']);
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
    expect(s.sidecar.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock:ro');
    expect(s.sidecar.deploy.resources.reservations.devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: expect.arrayContaining(['gpu']) })]);
    expect(s.sidecar.devices).toContain('/dev/kmsg:/dev/kmsg');
    expect(s.sidecar.cap_add).toEqual(expect.arrayContaining(['SYSLOG', 'SYS_PTRACE']));
    // AppArmor's docker-default profile would still deny /proc/PID/environ of host processes.
    expect(s.sidecar.security_opt).toContain('apparmor=unconfined');
  });

  it('keeps Prometheus on loopback and passes the sidecar token through to Grafana', () => {
    expect(s.prometheus.command).toContain('--web.listen-address=127.0.0.1:9090');
    expect(composeConfig({ GPUFLEET_SIDECAR_TOKEN: 's3cret' }).services.grafana.environment.GPUFLEET_SIDECAR_TOKEN).toBe('s3cret');
  });

  it('lets .env or the shell pick the image versions', () => {
    expect(composeConfig({ GRAFANA_VERSION: '13.2.2' }).services.grafana.image).toBe('grafana/grafana:13.2.2');
  });
});
