// sidecar/Dockerfile read by a Dockerfile parser (dockerfile-ast, the one behind VS Code's Docker
// language server): stages, what the runtime stage keeps, user, health check, labels. Building the image
// needs base images from a registry, which this machine cannot reach; the build itself is checked where
// it can run (scripts/build-image-local.sh builds and runs it from Debian packages; the bench prints its size).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ROOT } from './harness.js';

const text = readFileSync(join(ROOT, 'sidecar/Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(text);
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

/** The instructions of each stage (from its FROM to the next), in order. */
function stages(): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of dockerfile.getInstructions()) {
    if (i.getKeyword() === 'FROM') out.push([]);
    out.at(-1)?.push(i);
  }
  return out;
}

const all = stages();
const runtime = all.at(-1)!;
const of = (stage: Instruction[], keyword: string) => stage.filter((i) => i.getKeyword() === keyword);
const args = (i: Instruction) => i.getArgumentsContent() ?? '';

describe('sidecar/Dockerfile', () => {
  it('parses without problems and has a build stage and a runtime stage', () => {
    expect(all.length).toBe(2);
    expect(dockerfile.getFROMs()[0]!.getBuildStage()).toBe('build');
    // Every instruction is one Docker knows (a typo would parse as an unknown keyword).
    const known = new Set(['ARG', 'FROM', 'WORKDIR', 'COPY', 'RUN', 'LABEL', 'ENV', 'USER', 'EXPOSE', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD']);
    expect(dockerfile.getInstructions().map((i) => i.getKeyword()).filter((k) => !known.has(k))).toEqual([]);
  });

  it('keeps npm, sources and dev dependencies out of the runtime stage', () => {
    expect(of(runtime, 'RUN').map(args).filter((a) => /\bnpm\b|\bnpx\b|apt-get/.test(a))).toEqual([]);
    // What the runtime stage copies comes from the build stage: node, and the packed sidecar with its
    // production dependencies.
    for (const copy of of(runtime, 'COPY')) {
      expect(copy.getFlags().map((f) => `${f.getName()}=${f.getValue()}`)).toEqual(['from=build']);
    }
    expect(of(runtime, 'COPY').map(args)).toEqual(['/usr/local/bin/node /usr/local/bin/node', '/opt/gpufleet ./']);
    // The build stage packs the sidecar as npm would ship it (no bench, no test helpers).
    expect(of(all[0]!, 'RUN').map(args).join('\n')).toMatch(/npm pack --workspace sidecar/);
  });

  it('runs as uid 10001, exposes the default port and checks /healthz', () => {
    expect(of(runtime, 'USER').map(args)).toEqual(['10001:10001']);
    expect(of(runtime, 'RUN').map(args).join('\n')).toMatch(/useradd --system --uid 10001 --gid 10001/);
    expect(of(runtime, 'EXPOSE').map(args)).toEqual(['9740']);
    const [health] = of(runtime, 'HEALTHCHECK');
    expect(health!.getFlags().map((f) => f.getName())).toEqual(['interval', 'timeout', 'start-period']);
    expect(args(health!)).toMatch(/^CMD \[/);
    expect(args(health!)).toContain("http://127.0.0.1:9740/healthz");
    expect(of(runtime, 'ENTRYPOINT').map(args)).toEqual(['["node", "--max-semi-space-size=1", "--single-threaded-gc", "--no-allocation-site-pretenuring", "--optimize-for-size", "--v8-pool-size=1", "/opt/gpufleet/sidecar/dist/cli.js"]']);
  });

  it('carries the OCI labels, with this release as the default version', () => {
    const [label] = of(runtime, 'LABEL');
    const props = Object.fromEntries((label as any).getProperties().map((p: any) => [p.getName(), p.getValue()]));
    for (const key of ['title', 'description', 'version', 'revision', 'created', 'licenses']) {
      expect(props[`org.opencontainers.image.${key}`]).toBeTruthy();
    }
    expect(props['org.opencontainers.image.licenses']).toBe('Apache-2.0');
    const versionArg = dockerfile.getARGs().find((a) => a.getProperty()?.getName() === 'VERSION');
    expect(versionArg?.getProperty()?.getValue()).toBe(VERSION);
    expect(props['org.opencontainers.image.version']).toBe('${VERSION}');
  });
});

describe('sidecar/scripts/prune-production.mjs (the image keeps run-time dependencies only)', () => {
  it('keeps the dependency closure Node would load and removes dev-only packages, hoisted or nested', () => {
    const root = mkdtempSync(join(tmpdir(), 'gpufleet-prune-'));
    try {
      const pkg = (dir: string, body: Record<string, unknown>) => {
        mkdirSync(join(root, dir), { recursive: true });
        writeFileSync(join(root, dir, 'package.json'), JSON.stringify(body));
      };
      pkg('sidecar', { name: '@gpufleet/sidecar', dependencies: { express: '*' }, devDependencies: { typescript: '*' } });
      pkg('node_modules/express', { name: 'express', dependencies: { qs: '*', debug: '*' }, peerDependencies: { 'opt-peer': '*' }, peerDependenciesMeta: { 'opt-peer': { optional: true } } });
      pkg('node_modules/qs', { name: 'qs', optionalDependencies: { '@scope/native': '*' } });
      pkg('node_modules/@scope/native', { name: '@scope/native' });
      // A second version nested under express wins over the hoisted one for express only.
      pkg('node_modules/express/node_modules/debug', { name: 'debug' });
      pkg('node_modules/express/node_modules/unused', { name: 'unused' });
      pkg('node_modules/typescript', { name: 'typescript' });
      pkg('node_modules/@babel/core', { name: '@babel/core' });
      pkg('node_modules/opt-peer', { name: 'opt-peer' }); // an optional peer nothing else needs
      mkdirSync(join(root, 'node_modules/.bin'));
      execFileSync(process.execPath, [join(ROOT, 'sidecar/scripts/prune-production.mjs'), root, join(root, 'sidecar/package.json')], { stdio: 'pipe' });
      const present = (p: string) => existsSync(join(root, 'node_modules', p));
      expect(['express', 'qs', '@scope/native', 'express/node_modules/debug'].filter((p) => !present(p))).toEqual([]);
      expect(['typescript', '@babel', 'opt-peer', 'express/node_modules/unused', '.bin'].filter(present)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
