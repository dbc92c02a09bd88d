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
      { containerId: 'c1', name: 'vllm-a', image: 'vllm/vllm-openai', networkMode: 'bridge', hostPid: null, endpoint: 'http://127.0.0.1:80', problem: null, launch: null },
    ]);
    expect(c?.id).toBe('h:80');
  });
});
