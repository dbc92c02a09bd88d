// Layer 2 of discovery: vLLM engines in containers, through the Docker Engine API (Docker, or
// Podman's Docker-compatible service). A container is an engine when its image or its command says
// vllm (not its name: anyone can name a container "vllm-proxy"). Its endpoint comes from the
// published ports, then the command line (host networking), then its processes' command lines.
// Host PIDs come from inspect's State.Pid and its children in /proc: Podman's `top` answers PIDs
// inside the container, which are useless for matching nvidia-smi's processes.
import { capText } from '../util/capText.js';
import { DockerStatusError, inspectContainer, listContainers, type ContainerFacts, type PortEntry } from './dockerApi.js';
import { describeDockerFailure } from './dockerError.js';
import type { ProcInfo } from './procScan.js';
import { descendants, procTree, type ProcTree } from './procTree.js';
import { localEndpoint, parseVllmCmdline, DEFAULT_VLLM_PORT, type VllmLaunch } from './vllmCmdline.js';

export interface ContainerEngine {
  containerId: string;
  name: string;
  image: string;
  networkMode: string;
  /** The container's init process on the host. */
  hostPid: number | null;
  /** Its processes on the host: the init and every descendant in /proc. */
  pids: number[];
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
  const seen = new Set<string>();
  const tcp = ports.filter((p) => {
    if ((p.Type ?? 'tcp') !== 'tcp' || !p.PublicPort) return false;
    const key = `${p.PrivatePort}:${p.PublicPort}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
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

/**
 * The host pid inspect gives, where /proc agrees it can be this container's first process. The answer is
 * untrusted: a pid of 1 would claim every process on the host for the container, a process of another
 * container is not this one's, and a pid that is not running has nothing to find.
 */
function containerPid(pid: number | null, containerId: string, tree: ProcTree<ProcInfo>): number | null {
  if (pid === null || pid === 1) return null;
  const p = tree.byPid.get(pid);
  if (!p) return null;
  return p.containerId === null || p.containerId === containerId ? pid : null;
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
   * `signal` aborts the calls (the caller reports it): each call has its own deadline too. A container
   * that cannot be inspected is listed with the reason as its problem.
   */
  async list(procs: ProcInfo[], signal?: AbortSignal): Promise<ContainerEngine[]> {
    const call = { timeoutMs: this.timeoutMs, signal };
    const containers = await listContainers(this.socketPath, call);
    const tree = procTree(procs);
    const out: ContainerEngine[] = [];
    const live = new Map<string, ContainerFacts>();
    for (const c of containers) {
      if (!VLLM_IMAGE.test(c.image) && !/\bvllm\b/.test(c.command)) continue;
      const name = capText((c.names[0] ?? c.id.slice(0, 12)).replace(/^\//, ''));
      let info = this.inspected.get(c.id);
      // A container restarted in place (restart policy, docker restart) keeps its id but not its pid.
      if (info?.pid && !tree.byPid.has(info.pid)) info = undefined;
      if (!info) {
        try {
          info = await inspectContainer(this.socketPath, c.id, call);
        } catch (err) {
          if (signal?.aborted) throw err;
          if (err instanceof DockerStatusError && err.statusCode === 404) continue; // gone between list and inspect
          // Asked again next time: the listing's ports may still say where it is.
          const { endpoint } = containerEndpoint(c.ports, 'default', null);
          const why = describeDockerFailure(err, this.socketPath, false).message;
          out.push({
            containerId: capText(c.id), name, image: capText(c.image), networkMode: 'default', hostPid: null, pids: [],
            endpoint, problem: `the container could not be inspected: ${why}`, launch: null,
          });
          continue;
        }
      }
      live.set(c.id, info);
      const hostPid = containerPid(info.pid, c.id, tree);
      const processes = hostPid === null ? [] : descendants([hostPid], tree);
      const argv = info.argv;
      // The image's own entrypoint may be a wrapper; the processes say what really runs.
      // An image whose entrypoint is `vllm serve` may show only the arguments.
      let launch = parseVllmCmdline(argv) ?? (argv[0]?.startsWith('-') ? parseVllmCmdline(['vllm', 'serve', ...argv]) : null);
      for (const p of processes) {
        const l = parseVllmCmdline(p.argv);
        if (l) {
          launch = l;
          break;
        }
      }
      const networkMode = capText(info.networkMode);
      const { endpoint, problem } = containerEndpoint(c.ports, networkMode, launch);
      out.push({
        containerId: capText(c.id),
        name,
        image: capText(c.image),
        networkMode,
        hostPid,
        pids: processes.map((p) => p.pid),
        endpoint,
        problem,
        launch,
      });
    }
    this.inspected = live;
    return out;
  }
}
