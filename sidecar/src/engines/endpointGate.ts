// The gate between discovery and the probes: every discovered endpoint (process scan, Docker) is
// checked against endpointPolicy before one request is sent to it. A refused engine is still listed,
// with its endpoint emptied and the reason as its problem, so the operator sees why it is not read.
// Endpoints the operator gave with --engine are taken as configured.
import { lstatSync } from 'node:fs';
import { lookup as dnsLookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { isAbsolute } from 'node:path';
import type { BlockList } from 'node:net';
import type { EngineCandidate } from './discovery.js';
import { baseUrl, checkHostLiteral, endpointParts, ownAddresses, refuseAddress } from './endpointPolicy.js';

export interface GateOptions {
  /** The sidecar's --hostname: discovered engine ids are "<hostname>:<port>". */
  hostname: string;
  /** --engine-allow-remote networks; null: loopback and this host's own addresses only. */
  allow: BlockList | null;
  /** Real and effective uid of a process; null when unreadable. */
  uids: (pid: number) => { real: number; effective: number } | null;
  /** Replaceable for tests. */
  lookup?: (name: string) => Promise<string[]>;
  interfaces?: () => NodeJS.Dict<{ address: string }[]>;
}

/** A looked-up name is trusted this long: a name that moves to another address is checked again. */
const NAME_TTL_MS = 60_000;
const LOOKUP_TIMEOUT_MS = 1000;
/** New lookups started per tick, and at most in flight: getaddrinfo holds a libuv pool thread each. */
const LOOKUPS_PER_TICK = 2;
const MAX_LOOKUPS_IN_FLIGHT = 4;
/** Names remembered; the oldest is forgotten first. */
const MAX_NAMES = 256;

type Resolved = string[] | { reason: string };

const NO_ADDRESSES: ReadonlySet<string> = new Set();

function refused(c: EngineCandidate, reason: string): EngineCandidate {
  return { ...c, endpoint: '', socketPath: null, problem: reason };
}

const systemLookup = async (name: string): Promise<string[]> => (await dnsLookup(name, { all: true, verbatim: true })).map((a) => a.address);

export class EndpointGate {
  private readonly names = new Map<string, { at: number; result: Resolved }>();
  private readonly inFlight = new Set<string>();
  private readonly lookup: (name: string) => Promise<string[]>;

  constructor(private readonly opts: GateOptions) {
    this.lookup = opts.lookup ?? systemLookup;
  }

  /** The candidates as they may be probed: allowed ones (names replaced by the address checked), refused ones with why. */
  async admit(candidates: EngineCandidate[]): Promise<EngineCandidate[]> {
    // The host's addresses are listed (a netlink round trip) only when an address is neither loopback
    // nor allowed: engines on 127.0.0.1, as a rule, never need them.
    let own: Set<string> | null = null;
    const ownNow = (): Set<string> => {
      if (own) return own;
      try {
        own = ownAddresses((this.opts.interfaces ?? networkInterfaces)());
      } catch {
        own = new Set(); // loopback still passes
      }
      return own;
    };
    const budget = { left: LOOKUPS_PER_TICK };
    return Promise.all(candidates.map((c) => this.vet(c, ownNow, budget)));
  }

  private async vet(c: EngineCandidate, ownNow: () => Set<string>, budget: { left: number }): Promise<EngineCandidate> {
    if (c.source === 'flag' || (!c.endpoint && !c.socketPath)) return c;
    if (c.socketPath) return this.vetSocket(c, c.socketPath);
    const parts = endpointParts(c.endpoint);
    if (!parts.ok) return refused(c, parts.reason);
    if (c.id !== `${this.opts.hostname}:${parts.port}`) return refused(c, `endpoint port ${parts.port} is not the engine's`);
    const literal = checkHostLiteral(parts.host);
    if (!literal.ok) return refused(c, literal.reason);
    let addresses: string[];
    if (literal.kind === 'ip') addresses = [parts.host];
    else {
      const r = await this.resolve(parts.host, budget);
      if (!Array.isArray(r)) return refused(c, r.reason);
      addresses = r;
    }
    // Refused without the host's addresses: then asked again with them.
    const allowed = addresses.find((a) => refuseAddress(a, NO_ADDRESSES, this.opts.allow) === null || refuseAddress(a, ownNow(), this.opts.allow) === null);
    if (allowed === undefined) {
      const why = refuseAddress(addresses[0] ?? '', ownNow(), this.opts.allow) ?? '';
      return refused(c, literal.kind === 'ip' ? `--host is ${why}` : `--host names no loopback or local address: ${why}`);
    }
    // The address checked is the address asked: a name is not looked up again between the two.
    return { ...c, endpoint: baseUrl(parts.protocol, allowed, parts.port) };
  }

  /** vLLM's --uds: only a socket of the engine's own user (root must not connect, on a user's word, to any socket). */
  private vetSocket(c: EngineCandidate, path: string): EngineCandidate {
    if (!isAbsolute(path)) return refused(c, '--uds is a relative path: the socket cannot be found from here');
    const uids = c.apiPid === null ? null : this.opts.uids(c.apiPid);
    if (!uids) return refused(c, '--uds: the owner of the engine process cannot be read');
    let st;
    try {
      st = lstatSync(path);
    } catch (err) {
      return refused(c, `--uds: socket not found (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!st.isSocket()) return refused(c, '--uds is not a socket (a link or another kind of file)');
    if (st.uid !== uids.effective && st.uid !== uids.real) return refused(c, '--uds: the socket belongs to another user than the engine process');
    return c;
  }

  private async resolve(name: string, budget: { left: number }): Promise<Resolved> {
    const now = performance.now();
    const hit = this.names.get(name);
    if (hit && now - hit.at < NAME_TTL_MS) return hit.result;
    if (this.inFlight.has(name)) return { reason: '--host: host name lookup still running' };
    if (budget.left <= 0 || this.inFlight.size >= MAX_LOOKUPS_IN_FLIGHT) return { reason: '--host: host name lookup deferred (too many names at once)' };
    budget.left--;
    this.inFlight.add(name);
    const done = this.lookup(name).then(
      (addrs): Resolved => (addrs.length > 0 ? addrs : { reason: '--host: host name has no address' }),
      (err: NodeJS.ErrnoException): Resolved => ({ reason: `--host: host name does not resolve (${err.code ?? 'error'})` }),
    ).then((result) => {
      this.inFlight.delete(name);
      this.names.delete(name);
      this.names.set(name, { at: performance.now(), result });
      if (this.names.size > MAX_NAMES) this.names.delete(this.names.keys().next().value as string);
      return result;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Resolved>((res) => {
      timer = setTimeout(() => res({ reason: `--host: host name lookup took over ${LOOKUP_TIMEOUT_MS} ms` }), LOOKUP_TIMEOUT_MS);
    });
    try {
      return await Promise.race([done, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
