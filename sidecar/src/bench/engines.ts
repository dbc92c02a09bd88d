// Engine figures for npm run bench (issue 4's targets), printed, never asserted:
//   6. /metrics parse throughput on the largest vLLM capture (target over 100 MB/s, issue 12)
//   7. discovery + scrape cycle for a host with 16 engines (target under 100 ms of CPU per cycle)
//   8. the sidecar's CPU share at a 1 s interval on that host (target under 2 % of one core), beside the
//      floor: what fetching the same answers costs a client that does nothing else (fetchFloor.ts)
// The 16 engines are real HTTP servers in one child process answering the real 0.10.1 capture, and
// the process table is a procfs laid out in a temp dir with real vLLM command lines and titles.
import type { ChildProcess } from 'node:child_process';
import { start, stop } from './children.js';
import { fetchFloorShare } from './fetchFloor.js';
import { startHostSidecar } from './sidecarProcess.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineCollector } from '../engines/engineCollector.js';
import { largestMetricsFixture, measurePromTextThroughput } from '../engines/promTextBench.js';

const ENGINES = 16;

function line(label: string, value: string, target?: string): void {
  console.log(`  ${label.padEnd(52)} ${value.padStart(14)}${target ? `   (target ${target})` : ''}`);
}

const SERVERS = `
const http = require('node:http');
const fs = require('node:fs');
const metrics = fs.readFileSync(process.argv[1], 'utf8');
const count = Number(process.argv[2]);
const ports = [];
let left = count;
for (let i = 0; i < count; i++) {
  const s = http.createServer((q, r) => {
    if (q.url === '/metrics') r.end(metrics);
    else if (q.url === '/version') r.end('{"version":"0.10.1"}');
    else if (q.url === '/v1/models') r.end('{"object":"list","data":[{"id":"Qwen/Qwen3-4B-FP8","object":"model","root":"Qwen/Qwen3-4B-FP8","parent":null,"max_model_len":40960}]}');
    else r.end();
  });
  s.listen(0, '127.0.0.1', () => { ports[i] = s.address().port; if (--left === 0) process.stdout.write(JSON.stringify(ports) + '\\n'); });
}`;

function writeProc(root: string, pid: number, ppid: number, argv: string[]) {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stat'), `${pid} (x) S ${ppid} ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${100 + pid} 0 0`);
  writeFileSync(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  writeFileSync(join(dir, 'cgroup'), '0::/system.slice/vllm.service\n');
  writeFileSync(join(dir, 'environ'), 'CUDA_VISIBLE_DEVICES=0\0');
}

/** A procfs with one engine per port (API server + EngineCore each) and 300 unrelated processes. */
export function fakeProc(ports: number[]): string {
  const root = mkdtempSync(join(tmpdir(), 'bench-proc-'));
  writeFileSync(join(root, 'uptime'), '100000.00 1.00\n');
  ports.forEach((port, i) => {
    writeProc(root, 1000 + i * 10, 1, ['/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'Qwen/Qwen3-4B-FP8', '--port', String(port)]);
    writeProc(root, 1001 + i * 10, 1000 + i * 10, ['VLLM::EngineCore']);
  });
  for (let i = 0; i < 300; i++) writeProc(root, 5000 + i, 1, ['/usr/sbin/some-daemon', `--id=${i}`]);
  return root;
}

function procCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** `count` vLLM stand-ins in one child process, each answering the real 0.10.1 capture; their ports. */
export async function startEngineStandIns(count: number): Promise<{ servers: ChildProcess; ports: number[] }> {
  const servers = start(process.execPath, ['-e', SERVERS, largestMetricsFixture(), String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise<number[]>((resolve) => servers.stdout?.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))));
  return { servers, ports };
}

export async function engineBench(): Promise<void> {
  const fixture = largestMetricsFixture();
  const t = measurePromTextThroughput(readFileSync(fixture, 'utf8'));
  console.log(`\n6. vLLM /metrics parse throughput (${fixture.split('/').pop()}, ${t.bytes} bytes)`);
  line('CPU time', `${t.cpuMBps.toFixed(1)} MB/s`, '> 100 MB/s');
  line('wall clock', `${t.wallMBps.toFixed(1)} MB/s`);

  const { servers, ports } = await startEngineStandIns(ENGINES);
  const proc = fakeProc(ports);
  try {
    const collector = new EngineCollector({
      procPath: proc, dockerSocket: null, engineUrls: [], hostname: 'bench', intervalMs: 1000, busyThreshold: 0.9,
      timeoutMs: 2000, graceMs: 300_000, windowMs: 60_000,
    });
    for (let i = 0; i < 3; i++) await collector.collect([]);
    const cpu: number[] = [];
    const wall: number[] = [];
    let engines = 0;
    for (let i = 0; i < 20; i++) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      const r = await collector.collect([]);
      wall.push(performance.now() - w0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      engines = r.engines.filter((e) => e.health === 'up' && e.load.running !== null).length;
    }
    cpu.sort((a, b) => a - b);
    wall.sort((a, b) => a - b);
    console.log(`\n7. Engine cycle: discovery + /health + /metrics for ${ENGINES} engines (${engines} up with load), 300 other processes`);
    line('sidecar CPU per cycle, median', `${(cpu[10] as number).toFixed(1)} ms`, '< 100 ms');
    line('wall per cycle, median', `${(wall[10] as number).toFixed(1)} ms`);

    // The whole sidecar on that host, as an operator runs it (nvidia-smi simulated: one GPU). Not in
    // simulate mode, which would watch only the simulator's own engines and none of these.
    const sidecar = await startHostSidecar('small', ['--proc', proc, '--interval', '1s', '--docker-socket', 'none', '--kmsg', 'none']);
    try {
      await new Promise((r) => setTimeout(r, 8000)); // start-up and the first ticks
      const c0 = procCpuSeconds(sidecar.pid);
      const seconds = 30;
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const share = ((procCpuSeconds(sidecar.pid) - c0) / seconds) * 100;
      const seen = ((await (await fetch(`${sidecar.base}/api/v1/engines`)).json()) as { engines: { health: string }[] }).engines;
      console.log(`\n8. Sidecar CPU share at a 1 s interval on that host (${seconds} s, sidecar process only; the fake nvidia-smi is another process)`);
      line(`CPU share of one core (${seen.filter((e) => e.health === 'up').length} of ${ENGINES} engines up)`, `${share.toFixed(2)} %`, '< 2 %');
    } finally {
      await sidecar.stop();
    }
    // The floor under that share, with the sidecar stopped: only fetching the same 32 answers a second.
    console.log('    floor: fetching the same /health + /metrics answers once a second and nothing else (20 s each)');
    line('  raw sockets, kept open, bodies dropped', `${(await fetchFloorShare(ports, 'socket', 20)).toFixed(2)} %`);
    line('  node:http keep-alive agent, bodies dropped', `${(await fetchFloorShare(ports, 'http', 20)).toFixed(2)} %`);
  } finally {
    await stop(servers);
    rmSync(proc, { recursive: true, force: true });
  }
}
