// The web config's tls_server_config as Node TLS options: reads the certificate files, and checks what
// OpenSSL's verification alone does not (a client certificate that is required, its allowed SANs).
import { readFileSync } from 'node:fs';
import type { SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls';
import { createSecureContext } from 'node:tls';
import type { TlsServerConfig, TlsVersionName } from './webConfig.js';
import { WebConfigError } from './webConfigError.js';

const NODE_VERSION: Record<TlsVersionName, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};

// TLS 1.3 suites are not configurable in Go's crypto/tls; here too they stay OpenSSL's defaults.
const TLS13_DEFAULT = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

function read(src: { pem: string } | { file: string }, name: string): string {
  if ('pem' in src) return src.pem;
  try {
    return readFileSync(src.file, 'utf8');
  } catch (err) {
    throw new WebConfigError(`tls_server_config.${name}_file: cannot read ${src.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The secure-context part (certificates, versions, suites): what a reload may change on a running server. */
export function secureContextOptions(t: TlsServerConfig): SecureContextOptions {
  const opts: SecureContextOptions = {
    cert: read(t.cert, 'cert'),
    key: read(t.key, 'key'),
    minVersion: NODE_VERSION[t.minVersion],
    maxVersion: NODE_VERSION[t.maxVersion],
    honorCipherOrder: t.preferServerCipherSuites,
    ...(t.clientCa ? { ca: read(t.clientCa, 'client_ca') } : {}),
    ...(t.ciphers ? { ciphers: `${TLS13_DEFAULT}:${t.ciphers.join(':')}` } : {}),
    ...(t.curves ? { ecdhCurve: t.curves.join(':') } : {}),
  };
  // Fails here, at start or reload, rather than on the first handshake: a key that does not match its
  // certificate, PEM that is not PEM, a cipher or curve this OpenSSL lacks.
  try {
    createSecureContext(opts);
  } catch (err) {
    throw new WebConfigError(`tls_server_config: ${(err as Error).message}`);
  }
  return opts;
}

/** Options for https.createServer. */
export function tlsServerOptions(t: TlsServerConfig): TlsOptions {
  const verify = t.clientAuth === 'RequireAndVerifyClientCert';
  return {
    ...secureContextOptions(t),
    requestCert: t.clientAuth !== 'NoClientCert',
    // The "if given" and "any" policies are checked after the handshake (clientCertProblem).
    rejectUnauthorized: verify,
  };
}

function sans(socket: TLSSocket): string[] {
  const alt = socket.getPeerCertificate().subjectaltname ?? '';
  // "DNS:a.example, IP Address:10.0.0.1, email:x@y, URI:spiffe://…" → the values, as Go lists them.
  return alt
    .split(/,\s*/)
    .map((s) => s.replace(/^(DNS|IP Address|email|URI):/, ''))
    .filter((s) => s.length > 0);
}

/** Why a handshaken connection must be closed under the client-auth policy, or null when it may stay. */
export function clientCertProblem(t: TlsServerConfig, socket: TLSSocket): string | null {
  const given = Object.keys(socket.getPeerCertificate()).length > 0;
  switch (t.clientAuth) {
    case 'RequireAnyClientCert':
      if (!given) return 'no client certificate';
      break;
    case 'VerifyClientCertIfGiven':
      if (given && !socket.authorized) return `client certificate not trusted: ${String(socket.authorizationError)}`;
      break;
    default:
      break;
  }
  if (t.clientAllowedSans && !sans(socket).some((s) => t.clientAllowedSans?.includes(s))) {
    return 'client certificate has none of client_allowed_sans';
  }
  return null;
}
