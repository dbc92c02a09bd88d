// The two Docker Engine API calls container discovery makes (list the running containers, inspect
// one), over the unix socket with the sidecar's own HTTP client (plainHttp.ts): a capped answer, a
// deadline, the tick's abort signal, one kept connection. Why not dockerode: it weighed ~9 MB of the
// sidecar's resident memory (with ssh2 and gRPC under it) for two GETs, and read answers uncapped.
// Whatever answers on the socket is untrusted: only the fields discovery reads are kept, each checked
// for its type, and nothing of a failed answer's body is kept in an error.
import { SourceError } from '../collectors/sourceError.js';
import { DockerBadAnswer } from './dockerError.js';
import { checkHostLiteral } from './endpointPolicy.js';
import { plainGetBytes } from './plainHttp.js';

export interface PortEntry {
  PrivatePort: number;
  PublicPort?: number;
  IP?: string;
  Type?: string;
}

/** One container of `GET /containers/json`, the fields discovery reads. */
export interface ContainerSummary {
  id: string;
  image: string;
  command: string;
  names: string[];
  ports: PortEntry[];
}

/** What `GET /containers/{id}/json` says that discovery uses. */
export interface ContainerFacts {
  /** The container's init process on the host; null when not running. */
  pid: number | null;
  /** Entrypoint then Cmd, as the container was created. */
  argv: string[];
  networkMode: string;
}

/** A 2xx answer was not had: the status alone is kept (the body is the socket's, not ours to repeat). */
export class DockerStatusError extends Error {
  constructor(readonly statusCode: number) {
    super(`HTTP status ${statusCode}`);
    this.name = 'DockerStatusError';
  }
}

export interface DockerCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

// A container is one to a few KB in the list (labels, mounts, networks): 8 MiB and 10,000 containers are
// far beyond a real host, and bound what one answer costs to parse and walk each tick.
const MAX_LIST_BYTES = 8 * 1024 * 1024;
const MAX_CONTAINERS = 10_000;
const MAX_INSPECT_BYTES = 4 * 1024 * 1024;
/** Published ports read per container (a published range counts each port). */
const MAX_PORTS = 1024;
/**
 * The kept connection to the API is closed after this long idle: a socket-activated Podman service exits
 * after a few idle seconds (its --time), and a connection held between ticks would keep it running.
 */
const IDLE_CLOSE_MS = 2_000;
/** Container ids and names go into the request path: nothing that could leave the path segment. */
const SAFE_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
const port = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 65535 ? v : undefined);

/** A published port as Docker lists it; null when a field is not what Docker gives (an address that is no IP is never dialled). */
function portEntry(v: unknown): PortEntry | null {
  if (!isObject(v)) return null;
  const privatePort = port(v.PrivatePort);
  if (privatePort === undefined) return null;
  const ip = typeof v.IP === 'string' && v.IP !== '' ? v.IP : undefined;
  if (ip !== undefined) {
    const literal = checkHostLiteral(ip);
    if (!literal.ok || literal.kind !== 'ip') return null;
  }
  return { PrivatePort: privatePort, PublicPort: port(v.PublicPort), IP: ip, Type: typeof v.Type === 'string' ? v.Type : undefined };
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new DockerBadAnswer(`${what} is not JSON`);
  }
}

/** The body of `GET /containers/json`: a list of containers, each with an id that can be asked about. */
export function parseContainerList(bytes: Buffer): ContainerSummary[] {
  const raw = parseJson(bytes, 'the container list');
  if (!Array.isArray(raw) || !raw.every((c) => isObject(c) && typeof c.Id === 'string')) {
    throw new DockerBadAnswer('the container list is not a JSON array of containers');
  }
  if (raw.length > MAX_CONTAINERS) throw new DockerBadAnswer(`the container list has more than ${MAX_CONTAINERS} containers`);
  return (raw as Json[])
    .filter((c) => SAFE_REF.test(c.Id as string))
    .map((c) => ({
      id: c.Id as string,
      image: str(c.Image),
      command: str(c.Command),
      names: strings(c.Names),
      ports: Array.isArray(c.Ports) ? c.Ports.slice(0, MAX_PORTS).map(portEntry).filter((p): p is PortEntry => p !== null) : [],
    }));
}

/** The body of `GET /containers/{id}/json`. */
export function parseContainerFacts(bytes: Buffer): ContainerFacts {
  const raw = parseJson(bytes, 'the container');
  if (!isObject(raw)) throw new DockerBadAnswer('the container is not a JSON object');
  const state = isObject(raw.State) ? raw.State : {};
  const config = isObject(raw.Config) ? raw.Config : {};
  const host = isObject(raw.HostConfig) ? raw.HostConfig : {};
  const pid = typeof state.Pid === 'number' && Number.isInteger(state.Pid) && state.Pid > 0 ? state.Pid : null;
  return { pid, argv: [...strings(config.Entrypoint), ...strings(config.Cmd)], networkMode: str(host.NetworkMode) || 'default' };
}

async function dockerGet(socketPath: string, path: string, maxBytes: number, opts: DockerCallOptions): Promise<Buffer> {
  const answer = await plainGetBytes(new URL(path, 'http://localhost'), {
    socketPath,
    timeoutMs: opts.timeoutMs,
    maxBytes,
    signal: opts.signal,
    headers: { accept: 'application/json' },
    pool: 'docker',
    idleCloseMs: IDLE_CLOSE_MS,
  });
  if (answer.status < 200 || answer.status > 299) throw new DockerStatusError(answer.status);
  return answer.bytes;
}

/** The running containers. */
export async function listContainers(socketPath: string, opts: DockerCallOptions): Promise<ContainerSummary[]> {
  return parseContainerList(await dockerGet(socketPath, '/containers/json', MAX_LIST_BYTES, opts));
}

/** One container by id (from the list, so path-safe; checked again all the same). */
export async function inspectContainer(socketPath: string, id: string, opts: DockerCallOptions): Promise<ContainerFacts> {
  if (!SAFE_REF.test(id)) throw new SourceError('other', 'not a container id');
  return parseContainerFacts(await dockerGet(socketPath, `/containers/${id}/json`, MAX_INSPECT_BYTES, opts));
}
