// Which addresses the sidecar may send a request to. Discovered endpoints come from command lines
// and containers that any local user writes, and the sidecar runs as root: what it is told to probe
// must not turn it into a proxy towards another host, another path or another user's socket. Pure:
// the addresses of this host, the name resolution and the file checks come from the caller.
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';

export type HostCheck = { ok: true; kind: 'ip' | 'name'; host: string } | { ok: false; reason: string };

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** One offending character, named so that nothing of the raw value is repeated. */
function describeChar(ch: string): string {
  if (/^[\x21-\x7e]$/.test(ch)) return `"${ch}"`;
  if (ch === ' ') return 'a space';
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x1f\x7f]$/.test(ch)) return 'a control character';
  return 'a non-ASCII character';
}

/**
 * vLLM's `--host` as given on a command line: an IPv4 or IPv6 literal (bracketed or not) or an
 * RFC 1123 host name, nothing else — a "/", "#", "?", "@" or ":" would make the URL built from it
 * point at another path, port or host. The reason never quotes the value.
 */
export function checkHostLiteral(raw: string): HostCheck {
  const host = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (isIPv4(host)) return { ok: true, kind: 'ip', host };
  if (isIPv6(host) && !host.includes('%')) return { ok: true, kind: 'ip', host };
  const not = '--host is neither an IP address nor a host name';
  if (host.length === 0) return { ok: false, reason: `${not} (it is empty)` };
  if (host.length > 253) return { ok: false, reason: `${not} (longer than 253 characters)` };
  const bad = /[^A-Za-z0-9.-]/.exec(host);
  if (bad) return { ok: false, reason: `${not} (it contains ${describeChar(bad[0])})` };
  const labels = host.split('.');
  if (labels.some((l) => l.length === 0)) return { ok: false, reason: `${not} (an empty label)` };
  if (labels.some((l) => l.length > 63)) return { ok: false, reason: `${not} (a label longer than 63 characters)` };
  if (!labels.every((l) => LABEL.test(l))) return { ok: false, reason: `${not} (a label starts or ends with "-")` };
  // URL parsers read a name whose last label is numeric ("1.2.3", "0x7f") as an IPv4 address.
  if (/^(?:\d+|0x[0-9a-f]*)$/i.test(labels[labels.length - 1] as string)) {
    return { ok: false, reason: `${not} (numeric, but not a valid IPv4 address)` };
  }
  return { ok: true, kind: 'name', host };
}

/** An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address it maps. */
function unmapped(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? (m[1] as string) : ip;
}

export function isLoopback(ip: string): boolean {
  const a = unmapped(ip);
  if (isIPv4(a)) return a.startsWith('127.');
  return isIPv6(a) && /^(?:0{0,4}:){2,7}0{0,3}1$|^::1$/.test(a.toLowerCase());
}

/** The operator's `--engine-allow-remote` networks; throws on a value that is not a CIDR. */
export function parseAllowList(cidrs: readonly string[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const c of cidrs) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(c.trim());
    const ip = m?.[1] ?? '';
    const bits = Number(m?.[2]);
    const family = isIP(ip);
    if (!m || family === 0 || bits > (family === 4 ? 32 : 128)) {
      throw new Error(`"${c}" is not a network in CIDR form (e.g. 10.0.0.0/8 or fd00::/8)`);
    }
    list.addSubnet(ip, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** Why an address may not be probed, or null when it may: loopback, this host's own, or allowed. */
export function refuseAddress(ip: string, own: ReadonlySet<string>, allow: BlockList | null): string | null {
  const a = unmapped(ip);
  if (isLoopback(a) || own.has(a.toLowerCase())) return null;
  if (allow?.check(a, isIPv4(a) ? 'ipv4' : 'ipv6')) return null;
  return 'not a loopback address nor one of this host\'s (--engine-allow-remote allows other networks)';
}

/** The host's own addresses, as os.networkInterfaces() lists them (lower case, no zone). */
export function ownAddresses(interfaces: NodeJS.Dict<{ address: string }[]>): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(interfaces)) for (const i of list ?? []) out.add(i.address.toLowerCase().replace(/%.*$/, ''));
  return out;
}

/** The only requests ever sent to an engine; /metrics also with the sample names read (engineCollector's READ_METRICS_PATH). */
export type VllmPath = '/health' | '/metrics' | `/metrics?${string}` | '/version' | '/v1/models';

/**
 * A discovered endpoint in the only form probed: scheme, IP or name, port — no credentials, path,
 * query or fragment. Returns the parts, or why the endpoint is refused.
 */
export function endpointParts(endpoint: string): { ok: true; protocol: 'http:' | 'https:'; host: string; port: number } | { ok: false; reason: string } {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    return { ok: false, reason: 'endpoint is not a valid URL' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { ok: false, reason: 'endpoint is not http or https' };
  if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) {
    return { ok: false, reason: 'endpoint holds credentials, a path, a query or a fragment' };
  }
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return { ok: true, protocol: u.protocol, host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** Base URL from checked parts (an IPv6 address in brackets). */
export function baseUrl(protocol: string, host: string, port: number): string {
  return `${protocol}//${host.includes(':') ? `[${host}]` : host}:${port}`;
}
