// Run by the benchmark in a fresh process: resident memory with a full hour of history at 1 s.
import { fillHistory } from './demoHost.js';

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const baselineRssMB = process.memoryUsage().rss / 1e6;
const { store } = fillHistory(3600, 1000);
gc?.();
const m = process.memoryUsage();
process.stdout.write(
  JSON.stringify({
    rssMB: m.rss / 1e6,
    heapMB: m.heapUsed / 1e6,
    baselineRssMB,
    series: store.history.seriesCount,
    ticks: store.history.length,
    // Keep the store reachable until measured.
    events: store.events.size,
  }),
);
