import { ParseError } from '../parsers/errors.js';
import { MAX_MODELS_BODY_BYTES, parseVllmModels, parseVllmVersion } from './vllmApi.js';

describe('parseVllmModels', () => {
  it('reads compact JSON as the server sends it, ignoring extra fields', () => {
    const body = JSON.stringify({
      object: 'list',
      data: [
        { id: 'base', object: 'model', root: '/models/base', parent: null, max_model_len: 8192, owned_by: 'vllm', created: 1, new_field: { x: 1 } },
        { id: 'sql-lora', root: '/adapters/sql', parent: 'base', max_model_len: null },
      ],
      future: true,
    });
    const m = parseVllmModels(body);
    expect(m.models).toEqual([
      { id: 'base', root: '/models/base', parent: null, maxModelLen: 8192, ownedBy: 'vllm', created: 1 },
      { id: 'sql-lora', root: '/adapters/sql', parent: 'base', maxModelLen: null, ownedBy: null, created: null },
    ]);
    expect(m.tree.map((t) => [t.model.id, t.adapters.map((a) => a.id)])).toEqual([['base', ['sql-lora']]]);
  });

  it('several served names are several roots; an adapter of an unlisted model is a root too', () => {
    const m = parseVllmModels(
      JSON.stringify({ data: [{ id: 'a' }, { id: 'b' }, { id: 'x', parent: 'a' }, { id: 'orphan', parent: 'gone' }] })
    );
    expect(m.tree.map((t) => [t.model.id, t.adapters.map((a) => a.id)])).toEqual([
      ['a', ['x']],
      ['b', []],
      ['orphan', []],
    ]);
  });

  it('skips entries that are not model objects, and duplicates', () => {
    const m = parseVllmModels(JSON.stringify({ data: [{ id: 'a' }, { nope: 1 }, 'str', { id: '' }, { id: 'a' }, { id: 'b', max_model_len: -5 }] }));
    expect([m.models.map((x) => x.id), m.skipped]).toEqual([['a'], 5]);
  });

  it.each([
    ['an HTML error page', '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>', /answered HTML or XML, not JSON.*\(\d+ characters\)/],
    ['an empty body', '   ', /body is empty/],
    ['plain text', 'upstream connect error or disconnect/reset before headers', /body is not JSON \(\d+ characters\)/],
    ['JSON that is not a model list', '{"detail":"Not Found"}', /not an OpenAI model list/],
    ['a JSON array', '[1,2]', /not an OpenAI model list/],
  ])('a clear ParseError for %s', (_what, body, message) => {
    let err: unknown;
    try {
      parseVllmModels(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as Error).message).toMatch(/^GET \/v1\/models: /);
    expect((err as Error).message).toMatch(message);
    // What was wrong, never what was said: the body may be another service's secret.
    for (const word of ['Bad Gateway', 'nginx', 'upstream', 'Not Found']) expect((err as Error).message).not.toContain(word);
  });

  it('refuses a body over the size limit without parsing it', () => {
    const body = `{"data":[${'{"id":"x"},'.repeat(MAX_MODELS_BODY_BYTES / 10)}{"id":"y"}]}`;
    expect(() => parseVllmModels(body)).toThrow(`body is larger than ${MAX_MODELS_BODY_BYTES} bytes`);
  });

  it('error messages quote untrusted text without control characters', () => {
    let message = '';
    try {
      parseVllmModels('<html>\u001b[2J\u001b]0;pwned\u0007</html>');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/answered HTML/);
    expect([...message].filter((c) => c.charCodeAt(0) < 32)).toEqual([]);
  });
});

describe('parseVllmVersion', () => {
  it('reads {"version": ...}, tolerating extra fields', () => {
    expect(parseVllmVersion('{"version":"0.10.1.1"}')).toBe('0.10.1.1');
    expect(parseVllmVersion('{"version": "0.11.0rc2.dev5+g1234abc", "build": "x"}')).toBe('0.11.0rc2.dev5+g1234abc');
  });

  it.each([
    ['HTML', '<!DOCTYPE html><p>Forbidden</p>', /answered HTML/],
    ['no version', '{"v":"1"}', /no "version" string/],
    ['a number', '{"version": 1}', /no "version" string/],
    ['control characters', '{"version":"1.0\\u001b[31m"}', /not printable/],
    ['too long', `{"version":"${'9'.repeat(200)}"}`, /no "version" string/],
  ])('a ParseError for %s', (_what, body, message) => {
    expect(() => parseVllmVersion(body)).toThrow(ParseError);
    expect(() => parseVllmVersion(body)).toThrow(message);
  });
});
