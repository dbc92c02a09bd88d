// Which vLLM engines run here, from the process table (layer 1 of discovery) and the --engine URLs.
// One engine per distinct endpoint: API servers sharing a port (--api-server-count) and their
// EngineCore/Worker children are one engine. A process inside a container is left to the Docker
// layer: its port is the container's, not necessarily reachable from the host.
import type { ContainerEngine } from './dockerDiscovery.js';
import type { ListenAddress } from './listenSocket.js';
import type { ProcInfo } from './procScan.js';
import { descendants, procTree } from './procTree.js';
import { localEndpoint, parseVllmCmdline, type LocalEndpoint, type VllmLaunch } from './vllmCmdline.js';

export interface DiscoveryOptions {
  /** Where descriptor `fd` of process `pid` listens (procfs); the Rust frontend's port is its inherited socket's. */
  listenAddress?: (pid: number, fd: number) => ListenAddress | null;
}

export interface EngineCandidate {
  /** Stable id: "<host>:<port>" for local engines, the URL's host:port for --engine ones. */
  id: string;
  /** Base URL the engine is reached at (http://127.0.0.1:8000). */
  endpoint: string;
  socketPath: string | null;
  source: 'proc' | 'flag' | 'docker';
  /** Why the engine cannot be reached (a container whose port is not published…), when so. */
  problem: string | null;
  deployment: 'native' | 'docker';
  container: string | null;
  /** The container's image (`vllm/vllm-openai:v0.11.0`), as Docker reports it. */
  image: string | null;
  launch: VllmLaunch | null;
  /** The API server process (the oldest one when several share the port). */
  apiPid: number | null;
  /** Every process of the engine: API servers and all their descendants. */
  pids: number[];
}

/** Engine ids in a human order (host:8001 before host:18001). One collator: localeCompare with options builds one per call. */
export const byId = new Intl.Collator(undefined, { numeric: true });

/** Same endpoint whatever the spelling: localhost and 127.0.0.1 are one host. */
export function endpointKey(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname;
    return `${u.protocol}//${host}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return url;
  }
}

/**
 * Where each launch is reached. A Rust frontend (`vllm-rs frontend --listen-fd N`) serves on the socket
 * it inherited, whatever its options say: read from procfs, that socket's address is the engine's, and
 * its parent `vllm serve` process (whose own --port may be absent or overridden by a --config file) is
 * reached there too. A Rust frontend whose socket cannot be read joins its parent's engine, or falls back
 * to the options in its --args-json.
 */
function launchEndpoints(procs: ProcInfo[], byPid: Map<number, ProcInfo>, opts: DiscoveryOptions): Map<number, LocalEndpoint> {
  const out = new Map<number, LocalEndpoint>();
  const launchOf = (p: ProcInfo | undefined) => (p && !p.containerId ? parseVllmCmdline(p.argv) : null);
  for (const p of procs) {
    const launch = launchOf(p);
    if (launch?.entrypoint !== 'rust-frontend' || launch.listenFd === null || !opts.listenAddress) continue;
    const addr = opts.listenAddress(p.pid, launch.listenFd);
    if (!addr) continue;
    const ep = localEndpoint({ ...launch, host: addr.host, port: addr.port, uds: null });
    out.set(p.pid, ep);
    const parent = launchOf(byPid.get(p.ppid));
    if (parent && parent.entrypoint !== 'rust-frontend') out.set(p.ppid, ep);
  }
  for (const p of procs) {
    const launch = launchOf(p);
    if (!launch || out.has(p.pid)) continue;
    const parent = byPid.get(p.ppid);
    const parentLaunch = launchOf(parent);
    if (launch.entrypoint === 'rust-frontend' && !launch.portGiven && parentLaunch) {
      out.set(p.pid, out.get(p.ppid) ?? localEndpoint(parentLaunch));
    } else out.set(p.pid, localEndpoint(launch));
  }
  return out;
}

export function discoverEngines(
  procs: ProcInfo[],
  flagUrls: string[],
  hostname: string,
  containers: ContainerEngine[] = [],
  opts: DiscoveryOptions = {},
): EngineCandidate[] {
  const tree = procTree(procs);
  const byPid = tree.byPid;
  const endpoints = launchEndpoints(procs, byPid, opts);

  const groups = new Map<string, { launch: VllmLaunch; url: string; socketPath: string | null; port: number | null; problem: string | null; members: ProcInfo[] }>();
  for (const p of procs) {
    if (p.containerId) continue;
    const launch = parseVllmCmdline(p.argv);
    if (!launch || launch.headless) continue;
    const ep = endpoints.get(p.pid) ?? localEndpoint(launch);
    // An invalid --host is shown (with why) but never turned into a URL.
    const url = ep.kind === 'tcp' ? ep.url : ep.kind === 'unix' ? `http://localhost` : '';
    const key = ep.kind === 'tcp' ? endpointKey(ep.url) : ep.kind === 'unix' ? `unix:${ep.socketPath}` : `invalid:${ep.port}`;
    const g = groups.get(key);
    if (g) {
      g.members.push(p);
      // The `vllm serve` process's own command line says more (parallel sizes, served names) than its Rust frontend's JSON.
      if (g.launch.entrypoint === 'rust-frontend' && launch.entrypoint !== 'rust-frontend') g.launch = launch;
    } else {
      groups.set(key, {
        launch, url, socketPath: ep.kind === 'unix' ? ep.socketPath : null, port: ep.kind === 'unix' ? null : ep.port,
        problem: ep.kind === 'invalid' ? ep.problem : null, members: [p],
      });
    }
  }

  const out: EngineCandidate[] = [];
  for (const [key, g] of groups) {
    const memberPids = new Set(g.members.map((m) => m.pid));
    // A launch process whose parent is also a launch of the same endpoint is a child (e.g. a
    // spawned API server process of --api-server-count); the roots are the engine's top.
    const roots = g.members.filter((m) => !memberPids.has(m.ppid)).sort((a, b) => a.startTime - b.startTime || a.pid - b.pid);
    const api = roots[0] ?? g.members[0];
    out.push({
      id: g.port !== null ? `${hostname}:${g.port}` : `${hostname}:${key}`,
      endpoint: g.url,
      socketPath: g.socketPath,
      source: 'proc',
      problem: g.problem,
      deployment: 'native',
      container: null,
      image: null,
      launch: g.launch,
      apiPid: api?.pid ?? null,
      pids: descendants(roots.map((r) => r.pid), tree).map((p) => p.pid),
    });
  }

  // Containers: Docker's answer wins for where and how the engine runs.
  const byEndpoint = new Map<string, number>();
  out.forEach((x, i) => {
    const key = endpointKey(x.endpoint);
    if (!byEndpoint.has(key)) byEndpoint.set(key, i);
  });
  for (const c of containers) {
    let port: string | null = null;
    try {
      const u = c.endpoint ? new URL(c.endpoint) : null;
      port = u ? u.port || (u.protocol === 'https:' ? '443' : '80') : null;
    } catch {
      port = null;
    }
    const cand: EngineCandidate = {
      id: port ? `${hostname}:${port}` : `${hostname}:container:${c.name}`,
      endpoint: c.endpoint ?? '',
      socketPath: null,
      source: 'docker',
      problem: c.problem,
      deployment: 'docker',
      container: c.name,
      image: c.image,
      launch: c.launch,
      apiPid: c.hostPid,
      pids: c.pids,
    };
    const key = c.endpoint ? endpointKey(c.endpoint) : null;
    const same = key !== null ? byEndpoint.get(key) : undefined;
    if (same !== undefined) out[same] = cand;
    else {
      if (key !== null) byEndpoint.set(key, out.length);
      out.push(cand);
    }
  }

  const known = new Set(out.map((c) => endpointKey(c.endpoint)));
  for (const raw of flagUrls) {
    const url = raw.replace(/\/+$/, '');
    if (known.has(endpointKey(url))) continue;
    known.add(endpointKey(url));
    let id = url;
    try {
      const u = new URL(url);
      id = u.port ? `${u.hostname}:${u.port}` : u.hostname;
    } catch {
      // config validation already refused non-URLs
    }
    out.push({ id, endpoint: url, socketPath: null, source: 'flag', problem: null, deployment: 'native', container: null, image: null, launch: null, apiPid: null, pids: [] });
  }
  // One engine per id: an unreachable launch (an invalid --host) gives way to a reachable one on the same port.
  const byIdMap = new Map<string, EngineCandidate>();
  for (const c of out) {
    const had = byIdMap.get(c.id);
    if (!had || (!had.endpoint && c.endpoint)) byIdMap.set(c.id, c);
  }
  return [...byIdMap.values()].sort((a, b) => byId.compare(a.id, b.id));
}
