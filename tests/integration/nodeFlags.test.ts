// The sidecar's V8 flags are written in five places (README, Architecture, says why they are there): its
// #! line, which the bench also reads, and the image, compose file, DaemonSet and demo script that start
// `node` themselves. A flag added to one and not the others would run operators' sidecars unlike the
// measured one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { sidecarNodeFlags } from '../../sidecar/src/bench/startup.js';
import { ROOT } from './harness.js';

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** The arguments between `node` and the sidecar's cli.js in one command line. */
function nodeFlags(argv: readonly string[]): string[] {
  const node = argv.indexOf('node');
  const cli = argv.findIndex((a) => a.endsWith('sidecar/dist/cli.js'));
  if (node < 0 || cli < node) throw new Error(`no "node … sidecar/dist/cli.js" in ${JSON.stringify(argv)}`);
  return argv.slice(node + 1, cli);
}

// Read as the bench reads them, so the flags measured are the flags checked here.
const FLAGS = sidecarNodeFlags(join(ROOT, 'sidecar/src/cli.ts'));

describe('the sidecar starts with the same V8 flags however it is started', () => {
  it('its #! line names them', () => {
    expect(FLAGS).toContain('--max-semi-space-size=1');
  });

  it('the image entrypoint', () => {
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(read('sidecar/Dockerfile'))?.[1];
    expect(nodeFlags(JSON.parse(entry ?? '[]') as string[])).toEqual(FLAGS);
  });

  it('the compose file', () => {
    const services = (parse(read('docker-compose.yml')) as { services: Record<string, { entrypoint?: string[] }> }).services;
    const starts = Object.values(services).filter((s) => s.entrypoint?.includes('node'));
    expect(starts.length).toBeGreaterThan(0);
    for (const s of starts) expect(nodeFlags(s.entrypoint ?? [])).toEqual(FLAGS);
  });

  it('the Kubernetes DaemonSet', () => {
    const docs = parseAllDocuments(read('deploy/kubernetes/daemonset.yaml')).map((d) => d.toJS() as { kind?: string; spec?: { template: { spec: { containers: { command?: string[] }[] } } } });
    const commands = docs
      .filter((d) => d.kind === 'DaemonSet')
      .flatMap((d) => d.spec?.template.spec.containers ?? [])
      .map((c) => c.command ?? [])
      .filter((c) => c.includes('node'));
    expect(commands.length).toBeGreaterThan(0);
    for (const c of commands) expect(nodeFlags(c)).toEqual(FLAGS);
  });

  it('scripts/demo.sh', () => {
    const line = read('scripts/demo.sh').split('\n').find((l) => /^exec node /.test(l)) ?? '';
    expect(nodeFlags(line.split(/\s+/).slice(1))).toEqual(FLAGS);
  });
});
