// Layer 2 of discovery: vLLM engines in containers, through the Docker Engine API (Docker, or
// Podman's Docker-compatible service). A container is an engine when its image or its command says
// vllm (not its name: anyone can name a container "vllm-proxy"). Its endpoint comes from the
// published ports, then the command line (host networking), then its processes' command lines.
// Host PIDs come from inspect's State.Pid and its children in /proc: Podman's `top` answers PIDs
// inside the container, which are useless for matching nvidia-smi's processes.
import { capText } from '../util/capText.js';
import { inspectContainer, listContainers, type ContainerFacts, type PortEntry } from './dockerApi.js';
import type { ProcInfo } from './procScan.js';
import { localEndpoint, parseVllmCmdline, DEFAULT_VLLM_PORT, type VllmLaunch } from './vllmCmdline.js';

export interface ContainerEngine {
  containerId: string;
  name: string;
  image: string;
  networkMode: string;
  /** The container's init process on the host. */
  hostPid: number | null;
  /** Base URL to reach the engine from this host. */
  endpoint: string | null;
  /** Why no endpoint was found, when none was. */
  problem: string | null;
  launch: VllmLaunch | null;
}

const VLLM_IMAGE = /vllm/i;

/** Reachable address of a published port: a wildcard bind is reached on loopback. */
function publishedUrl(p: PortEntry): string {
  const ip = !p.IP || p.IP === '0.0.0.0' ? '127.0.0.1' : p.IP === '::' ? '::1' : p.IP;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${p.PublicPort}`;
}

/** The engine's endpoint from what Docker says and the processes of the container. */
export function containerEndpoint(
  ports: PortEntry[],
  networkMode: string,
  launch: VllmLaunch | null,
): { endpoint: string | null; problem: string | null } {
  const inPort = launch?.port ?? DEFAULT_VLLM_PORT;
  // Docker lists a port published on every address twice (0.0.0.0 and ::): one port, not two.
  const tcp = ports
    .filter((p) => (p.Type ?? 'tcp') === 'tcp' && p.PublicPort)
    .filter((p, i, all) => all.findIndex((q) => q.PrivatePort === p.PrivatePort && q.PublicPort === p.PublicPort) === i);
  // Prefer the published port that maps to the port vLLM listens on inside the container.
  const exact = tcp.find((p) => p.PrivatePort === inPort);
  const chosen = exact ?? (tcp.length === 1 ? tcp[0] : undefined);
  if (chosen) return { endpoint: publishedUrl(chosen), problem: null };
  if (networkMode === 'host') {
    if (!launch) return { endpoint: null, problem: 'host networking, but no vLLM command line found to read the port from' };
    const ep = localEndpoint(launch);
    if (ep.kind === 'invalid') return { endpoint: null, problem: ep.problem };
    return ep.kind === 'tcp' ? { endpoint: ep.url, problem: null } : { endpoint: null, problem: 'listens on a unix socket inside the container' };
  }
  return {
    endpoint: null,
    problem: tcp.length > 1 ? `several published ports and none maps to port ${inPort}` : `port ${inPort} is not published (docker run -p …) and the network is ${networkMode}`,
  };
}

function descendantsOf(root: number, procs: ProcInfo[]): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: ProcInfo[] = [];
  const queue = [root];
  const seen = new Set<number>();
  while (queue.length) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const self = procs.find((p) => p.pid === pid);
    if (self) out.push(self);
    for (const c of children.get(pid) ?? []) queue.push(c.pid);
  }
  return out;
}

export class DockerDiscovery {
  /** What inspect said, by container id: it does not change while the container's first process lives. */
  private inspected = new Map<string, ContainerFacts>();

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * The running vLLM containers. Throws when the API cannot be reached, answers something else, or
   * `signal` aborts the calls (the caller reports it): each call has its own deadline too.
   */
  async list(procs: ProcInfo[], signal?: AbortSignal): Promise<ContainerEngine[]> {
    const call = { timeoutMs: this.timeoutMs, signal };
    const containers = await listContainers(this.socketPath, call);
    const out: ContainerEngine[] = [];
    const live = new Map<string, ContainerFacts>();
    for (const c of containers) {
      if (!VLLM_IMAGE.test(c.image) && !/\bvllm\b/.test(c.command)) continue;
      let info = this.inspected.get(c.id);
      // A container restarted in place (restart policy, docker restart) keeps its id but not its pid.
      if (info?.pid && !procs.some((p) => p.pid === info?.pid)) info = undefined;
      if (!info) {
        try {
          info = await inspectContainer(this.socketPath, c.id, call);
        } catch (err) {
          if (signal?.aborted) throw err;
          continue; // gone between list and inspect
        }
      }
      live.set(c.id, info);
      const hostPid = info.pid;
      const argv = info.argv;
      // The image's own entrypoint may be a wrapper; the processes say what really runs.
      // An image whose entrypoint is `vllm serve` may show only the arguments.
      let launch = parseVllmCmdline(argv) ?? (argv[0]?.startsWith('-') ? parseVllmCmdline(['vllm', 'serve', ...argv]) : null);
      if (hostPid !== null) {
        for (const p of descendantsOf(hostPid, procs)) {
          const l = parseVllmCmdline(p.argv);
          if (l) {
            launch = l;
            break;
          }
        }
      }
      const networkMode = capText(info.networkMode);
      const { endpoint, problem } = containerEndpoint(c.ports, networkMode, launch);
      out.push({
        containerId: capText(c.id),
        name: capText((c.names[0] ?? c.id.slice(0, 12)).replace(/^\//, '')),
        image: capText(c.image),
        networkMode,
        hostPid,
        endpoint,
        problem,
        launch,
      });
    }
    this.inspected = live;
    return out;
  }

  /** Host PIDs of a container's processes: its init and every descendant in /proc. */
  static hostPids(hostPid: number | null, procs: ProcInfo[]): number[] {
    return hostPid === null ? [] : descendantsOf(hostPid, procs).map((p) => p.pid);
  }
}
