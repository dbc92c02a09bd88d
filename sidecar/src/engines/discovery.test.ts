// Discovery's candidates from a process table: what an invalid --host becomes, and one engine per id.
import { discoverEngines } from './discovery.js';
import type { ProcInfo } from './procScan.js';

const proc = (pid: number, argv: string[]): ProcInfo => ({ pid, ppid: 1, startTime: pid, argv, containerId: null });

describe('discoverEngines with untrusted command lines', () => {
  it('keeps a launch with an invalid --host as an engine that says why, with no endpoint built from it', () => {
    const [c] = discoverEngines([proc(10, ['vllm', 'serve', 'x', '--host', '127.0.0.1/internal/secret#', '--port', '8000'])], [], 'h');
    expect(c).toMatchObject({ id: 'h:8000', endpoint: '', socketPath: null, problem: '--host is neither an IP address nor a host name (it contains "/")' });
  });

  it('lets a reachable engine win over an invalid --host on the same port, whichever comes first', () => {
    const bad = proc(10, ['vllm', 'serve', 'x', '--host', 'not:ipv6', '--port', '8000']);
    const good = proc(20, ['vllm', 'serve', 'org/m', '--port', '8000']);
    for (const procs of [[bad, good], [good, bad]]) {
      expect(discoverEngines(procs, [], 'h').map((c) => [c.id, c.endpoint, c.apiPid])).toEqual([['h:8000', 'http://127.0.0.1:8000', 20]]);
    }
  });

  it('names a container engine published on port 80 by that port', () => {
    const [c] = discoverEngines([], [], 'h', [
      { containerId: 'c1', name: 'vllm-a', image: 'vllm/vllm-openai', networkMode: 'bridge', hostPid: null, pids: [], endpoint: 'http://127.0.0.1:80', problem: null, launch: null },
    ]);
    expect(c?.id).toBe('h:80');
  });
});

describe('discoverEngines: the Rust frontend (VLLM_USE_RUST_FRONTEND=1)', () => {
  const child = (pid: number, ppid: number, argv: string[]): ProcInfo => ({ pid, ppid, startTime: pid, argv, containerId: null });
  // As vLLM launches it (the fixture vllm-log_rust-frontend-launch_tp1_vllm-pr44183.log).
  const rust = (args: object) => [
    '/usr/local/lib/python3.12/dist-packages/vllm/vllm-rs', 'frontend', '--listen-fd', '18', '--input-address', 'ipc:///tmp/a', '--output-address', 'ipc:///tmp/b',
    '--engine-count', '1', '--args-json', JSON.stringify(args),
  ];
  const serve = child(10, 1, ['/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'org/m', '-tp', '2']);
  const front = child(11, 10, rust({ model: 'org/m', model_tag: 'org/m', tensor_parallel_size: 2 }));
  const core = child(12, 10, ['VLLM::EngineCore']);

  it('reads the port from the socket the frontend inherited: one engine, the serve process its root, every process in it', () => {
    const seen: Array<[number, number]> = [];
    const listenAddress = (pid: number, fd: number) => {
      seen.push([pid, fd]);
      return pid === 11 && fd === 18 ? { host: '0.0.0.0', port: 8123 } : null;
    };
    const out = discoverEngines([serve, front, core], [], 'h', [], { listenAddress });
    expect(seen).toEqual([[11, 18]]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ id: 'h:8123', endpoint: 'http://127.0.0.1:8123', apiPid: 10, pids: [10, 11, 12] });
    // the serve process's own command line is the launch (it says -tp 2 and more than the JSON)
    expect(out[0]?.launch?.entrypoint).toBe('cli-serve');
    expect(out[0]?.launch?.parallel.tensor).toBe(2);
  });

  it('an IPv6 wildcard socket is reached on ::1', () => {
    const out = discoverEngines([serve, front], [], 'h', [], { listenAddress: () => ({ host: '::', port: 9000 }) });
    expect(out.map((c) => c.endpoint)).toEqual(['http://[::1]:9000']);
  });

  it('without a readable socket the frontend joins its serve process, at that one\'s port', () => {
    const out = discoverEngines([serve, front, core], [], 'h', [], { listenAddress: () => null });
    expect(out.map((c) => [c.id, c.pids])).toEqual([['h:8000', [10, 11, 12]]]);
  });

  it('a frontend on its own (no vllm serve parent) is an engine from its JSON, the socket still deciding the port', () => {
    const alone = child(20, 1, rust({ model: 'org/solo', port: 8500 }));
    expect(discoverEngines([alone], [], 'h').map((c) => [c.id, c.launch?.model])).toEqual([['h:8500', 'org/solo']]);
    expect(discoverEngines([alone], [], 'h', [], { listenAddress: () => ({ host: '127.0.0.1', port: 8600 }) }).map((c) => c.id)).toEqual(['h:8600']);
  });

  it('an --args-json that is no JSON object is said, never trusted; the launch still counts', () => {
    for (const bad of ['{"model": "x"', '["model"]', '{"__proto__": {"port": 1}, "model": 7}']) {
      const argv = [...rust({}).slice(0, -1), bad];
      const [c] = discoverEngines([child(30, 1, argv)], [], 'h');
      expect(c?.id).toBe('h:8000');
      expect(c?.launch?.model).toBeNull();
    }
    const [c] = discoverEngines([child(30, 1, [...rust({}).slice(0, -1), '{"model": "x"'])], [], 'h');
    expect(c?.launch?.problems).toEqual(['--args-json is not JSON']);
  });
});
