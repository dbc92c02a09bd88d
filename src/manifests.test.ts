/**
 * The three source manifests against Grafana's plugin.json schema
 * (tests/fixtures/grafana/plugin.schema.json, a byte-for-byte copy; provenance in PROVENANCE.md there).
 * Source manifests, not dist/: the build adds `buildMode`, which this schema version does not know.
 */
import fs from 'fs';
import path from 'path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const ROOT = path.resolve(__dirname, '..');
const read = (p: string) => JSON.parse(fs.readFileSync(path.join(ROOT, p), 'utf8'));
const schema = read('tests/fixtures/grafana/plugin.schema.json');

// unicodeRegExp: false — the schema's id pattern escapes "-" as "\-", valid in a plain ECMAScript
// RegExp but a syntax error under the "u" flag Ajv uses by default. strict: false — the schema has
// keywords Ajv's strict mode rejects (e.g. additionalItems without an items array).
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(schema);

const MANIFESTS: Array<[string, string, string]> = [
  ['plugin.json', 'gpufleet-observability-app', 'app'],
  ['src/datasource/plugin.json', 'gpufleet-sidecar-datasource', 'datasource'],
  ['src/panels/topology/plugin.json', 'gpufleet-topology-panel', 'panel'],
];

describe.each(MANIFESTS)('%s', (file, id, type) => {
  const manifest = read(file);

  it('validates against the plugin.json schema', () => {
    const ok = validate(manifest);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it(`has the id ${id} written out, type ${type}, and Grafana >=12.3.0`, () => {
    expect(manifest.id).toBe(id);
    expect(manifest.type).toBe(type);
    expect(manifest.dependencies.grafanaDependency).toBe('>=12.3.0');
    // %PLUGIN_ID% would become the app's id in a nested manifest.
    expect(JSON.stringify(manifest)).not.toContain('%PLUGIN_ID%');
  });

  it('has its logo next to it', () => {
    expect(
      fs.existsSync(path.join(ROOT, path.dirname(file) === '.' ? 'src' : path.dirname(file), manifest.info.logos.small))
    ).toBe(true);
  });
});

describe('plugin layout', () => {
  it('src/plugin.json is the root plugin.json (create-plugin reads src/, the design keeps one source at the root)', () => {
    expect(fs.realpathSync(path.join(ROOT, 'src/plugin.json'))).toBe(path.join(ROOT, 'plugin.json'));
  });

  it('the app lists its nested data source and panel', () => {
    const includes = read('plugin.json').includes.map((i: { type: string; name: string }) => `${i.type}:${i.name}`);
    expect(includes).toEqual(expect.arrayContaining(['datasource:gpufleet sidecar', 'panel:gpufleet topology']));
  });

  it('the data source adds the token through a data proxy route, from secureJsonData', () => {
    const ds = read('src/datasource/plugin.json');
    expect(ds.routes).toEqual([
      {
        path: 'sidecar',
        url: '{{ .URL }}',
        headers: [{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.token }}' }],
      },
    ]);
    expect(ds.backend).toBe(false);
    expect(ds.annotations).toBe(true);
  });

  it('no nested plugin module uses lazy import() (its chunks would load from the app folder)', () => {
    const walk = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? walk(p) : /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [p] : [];
      });
    const code = (f: string) =>
      fs
        .readFileSync(f, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
    const offenders = walk(path.join(ROOT, 'src')).filter((f) => /\bimport\(|React\.lazy|\blazy\(/.test(code(f)));
    expect(offenders).toEqual([]);
  });
});
