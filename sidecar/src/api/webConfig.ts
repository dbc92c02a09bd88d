// The --web.config.file format of Prometheus' exporter-toolkit (TLS, basic auth, response headers), so
// the sidecar is secured like every other exporter and Prometheus' scrape_config speaks to it as is.
// Parsing only: reading the certificate files is webTls.ts's job.
import { isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { fieldPath } from './errors.js';
import { WebConfigError } from './webConfigError.js';

export type TlsVersionName = 'TLS10' | 'TLS11' | 'TLS12' | 'TLS13';
export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

export interface TlsServerConfig {
  /** PEM text inline, or a file (relative paths are relative to the web config file). */
  cert: { pem: string } | { file: string };
  key: { pem: string } | { file: string };
  clientCa: { pem: string } | { file: string } | null;
  clientAuth: ClientAuthType;
  clientAllowedSans: string[] | null;
  minVersion: TlsVersionName;
  maxVersion: TlsVersionName;
  /** OpenSSL names of the TLS 1.2 suites, in preference order; null: Node's defaults. */
  ciphers: string[] | null;
  preferServerCipherSuites: boolean;
  /** OpenSSL curve names, in preference order; null: Node's defaults. */
  curves: string[] | null;
}

export interface WebConfig {
  tls: TlsServerConfig | null;
  /** user → bcrypt hash; empty: no basic auth. */
  basicAuthUsers: Map<string, string>;
  headers: Record<string, string>;
}

export { WebConfigError };

// Go's crypto/tls names (what exporter-toolkit accepts) → OpenSSL's. TLS 1.3 suites are listed because Go
// accepts them in the list, but Go (and so this sidecar) does not let them be configured: they are ignored.
const TLS12_CIPHERS: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};
const TLS13_CIPHERS = new Set(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);

const CURVES: Record<string, string> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

const TLS_VERSIONS: TlsVersionName[] = ['TLS10', 'TLS11', 'TLS12', 'TLS13'];

const CLIENT_AUTH: ClientAuthType[] = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
];

// The headers exporter-toolkit lets an operator set, with the values it accepts where they are an enumeration.
const HEADERS: Record<string, string[] | null> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
};

// $2a$, $2b$ and $2y$ (htpasswd's) with a cost of 4..31 and 53 characters of salt and hash.
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

const oneOf = <T extends string>(values: readonly T[], what: string) =>
  z.string().refine((v): v is T => (values as readonly string[]).includes(v), { message: `unknown ${what} (one of ${values.join(', ')})` });

const Schema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert: z.string().optional(),
      key: z.string().optional(),
      client_ca: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      client_auth_type: oneOf(CLIENT_AUTH, 'client_auth_type').optional(),
      client_ca_file: z.string().optional(),
      client_allowed_sans: z.array(z.string()).optional(),
      min_version: oneOf(TLS_VERSIONS, 'TLS version').optional(),
      max_version: oneOf(TLS_VERSIONS, 'TLS version').optional(),
      cipher_suites: z
        .array(
          z.string().refine((c) => c in TLS12_CIPHERS || TLS13_CIPHERS.has(c), {
            message: `unknown or unsupported cipher suite (one of ${Object.keys(TLS12_CIPHERS).join(', ')})`,
          }),
        )
        .optional(),
      prefer_server_cipher_suites: z.boolean().optional(),
      curve_preferences: z.array(oneOf(Object.keys(CURVES), 'curve')).optional(),
    })
    .nullish(),
  http_server_config: z
    .strictObject({
      // Accepted for compatibility; the sidecar serves HTTP/1.1 only.
      http2: z.boolean().optional(),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .nullish(),
  basic_auth_users: z
    .record(z.string().min(1, { message: 'a user name must not be empty' }), z.string().regex(BCRYPT, { message: 'is not a bcrypt hash ($2a$, $2b$ or $2y$ with a cost from 04 to 31, e.g. from `htpasswd -nBC 10 "" | tr -d \':\\n\'`)' }))
    .nullish(),
  rate_limit: z.unknown().refine(() => false, { message: 'is not supported by gpufleet-sidecar (see --web.max-heavy-requests and --web.max-connections)' }).optional(),
});

function issueText(issue: z.core.$ZodIssue): string {
  const at = fieldPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (at ? `${at}.${k}` : k));
    return `unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`;
  }
  return at ? `${at}: ${issue.message}` : issue.message;
}

function source(pem: string | undefined, file: string | undefined, name: string, dir: string): { pem: string } | { file: string } | null {
  if (pem && file) throw new WebConfigError(`tls_server_config: give either ${name} or ${name}_file, not both`);
  if (pem) return { pem };
  if (file) return { file: isAbsolute(file) ? file : join(dir, file) };
  return null;
}

/**
 * Parses the text of a web config file; `dir` (the file's directory) anchors relative paths.
 * Throws WebConfigError naming the key on anything unknown or unsupported.
 */
export function parseWebConfig(text: string, dir: string): WebConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new WebConfigError(`not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = Schema.safeParse(doc ?? {});
  if (!r.success) throw new WebConfigError(issueText(r.error.issues[0] as z.core.$ZodIssue));
  const c = r.data;

  const headers = c.http_server_config?.headers ?? {};
  for (const [name, value] of Object.entries(headers)) {
    if (!(name in HEADERS)) {
      throw new WebConfigError(`http_server_config.headers: header ${name} can not be configured (one of ${Object.keys(HEADERS).join(', ')})`);
    }
    const allowed = HEADERS[name];
    if (allowed && !allowed.includes(value)) {
      throw new WebConfigError(`http_server_config.headers.${name}: "${value}" is not one of ${allowed.join(', ')}`);
    }
    if (/[\r\n]/.test(value)) throw new WebConfigError(`http_server_config.headers.${name}: a header value must be one line`);
  }

  return { tls: tlsConfig(c.tls_server_config ?? null, dir), basicAuthUsers: new Map(Object.entries(c.basic_auth_users ?? {})), headers };
}

function tlsConfig(t: z.infer<typeof Schema>['tls_server_config'], dir: string): TlsServerConfig | null {
  // As exporter-toolkit: TLS is on when any certificate or client-auth setting is given.
  if (!t || !(t.cert || t.key || t.cert_file || t.key_file || t.client_ca || t.client_ca_file || t.client_auth_type)) return null;
  const cert = source(t.cert, t.cert_file, 'cert', dir);
  const key = source(t.key, t.key_file, 'key', dir);
  if (!cert) throw new WebConfigError('tls_server_config: missing one of cert or cert_file');
  if (!key) throw new WebConfigError('tls_server_config: missing one of key or key_file');
  const clientCa = source(t.client_ca, t.client_ca_file, 'client_ca', dir);
  const clientAuth = t.client_auth_type ?? 'NoClientCert';
  if (clientCa && clientAuth === 'NoClientCert') {
    throw new WebConfigError('tls_server_config: client_ca_file is set but client_auth_type is NoClientCert (use RequireAndVerifyClientCert)');
  }
  // Without a CA of its own, Node would verify client certificates against the public web roots.
  if ((clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') && !clientCa) {
    throw new WebConfigError(`tls_server_config: client_auth_type ${clientAuth} needs client_ca_file`);
  }
  const sans = t.client_allowed_sans ?? null;
  if (sans && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
    throw new WebConfigError('tls_server_config: client_allowed_sans needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
  }
  const minVersion = t.min_version ?? 'TLS12';
  const maxVersion = t.max_version ?? 'TLS13';
  if (TLS_VERSIONS.indexOf(minVersion) > TLS_VERSIONS.indexOf(maxVersion)) {
    throw new WebConfigError(`tls_server_config: min_version ${minVersion} is above max_version ${maxVersion}`);
  }
  const ciphers = t.cipher_suites?.length ? t.cipher_suites.flatMap((c) => (TLS12_CIPHERS[c] ? [TLS12_CIPHERS[c]] : [])) : null;
  return {
    cert,
    key,
    clientCa,
    clientAuth,
    clientAllowedSans: sans,
    minVersion,
    maxVersion,
    ciphers: ciphers && ciphers.length > 0 ? ciphers : null,
    preferServerCipherSuites: t.prefer_server_cipher_suites ?? true,
    curves: t.curve_preferences?.length ? t.curve_preferences.map((c) => CURVES[c] as string) : null,
  };
}
