import { parseWebConfig, WebConfigError } from './webConfig.js';

const HASH = '$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG';
const parse = (text: string) => parseWebConfig(text, '/etc/gpufleet');

describe('web config file (exporter-toolkit format)', () => {
  it('an empty file: plain HTTP, no users, no headers', () => {
    expect(parse('')).toEqual({ tls: null, basicAuthUsers: new Map(), headers: {} });
  });

  it('reads TLS, users and headers, with paths relative to the file and Go names turned into OpenSSL ones', () => {
    const c = parse(`
tls_server_config:
  cert_file: tls/server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: [prometheus.example]
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
basic_auth_users:
  alice: ${HASH}
`);
    expect(c.tls).toEqual({
      cert: { file: '/etc/gpufleet/tls/server.crt' },
      key: { file: '/abs/server.key' },
      clientCa: { file: '/etc/gpufleet/ca.crt' },
      clientAuth: 'RequireAndVerifyClientCert',
      clientAllowedSans: ['prometheus.example'],
      minVersion: 'TLS13',
      maxVersion: 'TLS13',
      ciphers: ['ECDHE-RSA-AES128-GCM-SHA256'],
      preferServerCipherSuites: false,
      curves: ['X25519', 'P-256'],
    });
    expect(c.basicAuthUsers.get('alice')).toBe(HASH);
    expect(c.headers).toEqual({ 'X-Frame-Options': 'deny' });
  });

  it('inline PEM instead of files', () => {
    const c = parse('tls_server_config:\n  cert: "-----BEGIN CERTIFICATE-----"\n  key: "-----BEGIN PRIVATE KEY-----"\n');
    expect(c.tls?.cert).toEqual({ pem: '-----BEGIN CERTIFICATE-----' });
    expect(c.tls?.minVersion).toBe('TLS12');
  });

  it.each([
    ['an unknown top-level key', 'tls_config:\n  cert_file: a\n', /unknown key tls_config/],
    ['an unknown TLS key', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\n', /unknown key tls_server_config\.certfile/],
    ['rate_limit', 'rate_limit:\n  interval: 1s\n  burst: 5\n', /rate_limit: is not supported/],
    ['a plain-text password', 'basic_auth_users:\n  bob: secret\n', /basic_auth_users\.bob: is not a bcrypt hash/],
    ['a bcrypt cost out of range', `basic_auth_users:\n  bob: ${HASH.replace('$10$', '$03$')}\n`, /basic_auth_users\.bob/],
    ['a key without a certificate', 'tls_server_config:\n  key_file: b\n', /missing one of cert or cert_file/],
    ['both cert and cert_file', 'tls_server_config:\n  cert: x\n  cert_file: a\n  key_file: b\n', /either cert or cert_file/],
    ['a client CA without a client auth policy', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n', /client_auth_type is NoClientCert/],
    ['verification without a client CA', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n', /needs client_ca_file/],
    ['allowed SANs without a required certificate', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_allowed_sans: [x]\n', /client_allowed_sans needs/],
    ['an unknown client auth type', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n', /client_auth_type: unknown client_auth_type/],
    ['min_version above max_version', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n', /min_version TLS13 is above max_version TLS12/],
    ['an unknown cipher suite', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n', /cipher_suites\[0\]: unknown or unsupported cipher suite/],
    ['an unknown curve', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [X448]\n', /curve_preferences\[0\]: unknown curve/],
    ['a header that cannot be set', 'http_server_config:\n  headers:\n    Server: gpufleet\n', /header Server can not be configured/],
    ['a header value outside its choices', 'http_server_config:\n  headers:\n    X-Frame-Options: allow\n', /X-Frame-Options: "allow" is not one of deny, sameorigin/],
    ['a duplicate user', `basic_auth_users:\n  a: ${HASH}\n  a: ${HASH}\n`, /not valid YAML/],
    ['a list instead of a map', '- a\n', /expected object/],
  ])('refuses %s, naming the key', (_what, text, re) => {
    expect(() => parse(text)).toThrow(WebConfigError);
    expect(() => parse(text)).toThrow(re);
  });
});
