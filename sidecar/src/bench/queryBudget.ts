// The worst /api/v1/query the point budget allows, measured in-process: how long planning holds the
// event loop, the longest stretch while the answer is written, the total time and the answer's size.
import express from 'express';
import type { AddressInfo } from 'node:net';
import { planQueries, POINT_BUDGET, DEFAULT_MAX_DATA_POINTS } from '../api/query.js';
import { writeQueryAnswer, type AnswerStats } from '../api/queryAnswer.js';
import type { Sample } from '../store/history.js';
import { Store } from '../store/store.js';

export async function queryBudgetBench(line: (label: string, value: string, target?: string) => void): Promise<void> {
  const ticks = 3600;
  const series = 500;
  const t0 = Date.now() - ticks * 1000;
  // The history stamps each tick with its clock: a hand-moved one lays the ticks a second apart.
  let wall = t0;
  const clock = { wallMs: () => wall, monoMs: () => wall - t0, advance: (ms: number) => { wall += ms; } };
  const store = new Store({ capacity: ticks, maxSeries: 5000, clock });
  const labels = Array.from({ length: series }, (_, i) => ({ host: 'bench', gpu: `GPU-${i}`, gpuIndex: String(i), gpuName: 'H100' }));
  for (let t = 0; t < ticks; t++) {
    const samples: Sample[] = labels.map((l, i) => ({ key: `gpu.utilization|${l.gpu}`, metric: 'gpu.utilization', labels: l, value: (t * 7 + i) % 100 }));
    store.history.append(samples);
    clock.advance(1000);
  }
  store.latest = {
    host: { hostname: 'bench', driverVersion: null, cudaVersion: null, collectedAt: new Date().toISOString(), sources: {} as never },
    gpus: [],
    engines: [],
  };
  // As many whole-history queries of every series at the default points as fit in the budget.
  const n = Math.floor(POINT_BUDGET / (series * DEFAULT_MAX_DATA_POINTS));
  const body = { queries: Array.from({ length: n }, (_, i) => ({ refId: `Q${i}`, kind: 'timeseries', metric: 'gpu.utilization', from: t0, to: Date.now() })) };

  const app = express();
  const runs: { planMs: number; totalMs: number; stats: AnswerStats }[] = [];
  app.post('/q', express.json(), async (req, res) => {
    const t = performance.now();
    const planned = planQueries(store, req.body);
    const planMs = performance.now() - t;
    const stats = await writeQueryAnswer(res, planned, { measureCpu: true });
    runs.push({ planMs, totalMs: performance.now() - t, stats });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/q`;
  for (let i = 0; i < 5; i++) {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await r.arrayBuffer();
  }
  server.close();
  const max = (f: (r: (typeof runs)[number]) => number) => Math.max(...runs.map(f));
  const med = [...runs].sort((a, b) => a.totalMs - b.totalMs)[Math.floor(runs.length / 2)] as (typeof runs)[number];
  console.log(`\n17. Worst /api/v1/query the budget allows: ${n} queries × ${series} series × ${DEFAULT_MAX_DATA_POINTS} points (budget ${POINT_BUDGET.toLocaleString('en-US')}), ${ticks} ticks of history`);
  line('planning (validation, series selection), max', `${max((r) => r.planMs).toFixed(2)} ms`, '< 50 ms');
  line('longest stretch without yielding while writing, CPU', `${max((r) => r.stats.longestSliceCpuMs).toFixed(2)} ms`, '< 50 ms');
  line('the same in wall time (includes other processes)', `${max((r) => r.stats.longestSliceMs).toFixed(2)} ms`);
  line('whole answer written, median', `${med.totalMs.toFixed(0)} ms`);
  line('answer size', `${(med.stats.chars / 1024 / 1024).toFixed(1)} MiB`);
}
