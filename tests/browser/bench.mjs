#!/usr/bin/env node
// The plugin's figures (issue item 5), printed, never asserted:
//   - topology panel first render and click → drill-down time in Debian's Chromium, for the demo
//     host's real topology (from a sidecar on `demo`, through the data source) and for a synthetic
//     64-GPU / 448-MIG / 32-engine one, on both host package sets (Grafana 12.4 + React 18, 13.2 + React 19);
//   - the size of each dist module.js;
//   - the fleet dashboard on Prometheus at 1,000 hosts (fleetBench.mjs): answer bytes, slowest query,
//     VictoriaMetrics beside Prometheus, page and panel times in Chromium, series per host.
// GPUFLEET_BENCH_ONLY=fleet runs only the fleet part, =plugin only the rest.
// Run from the repository root after `npm run build` (the root `npm run bench` does both):
//   node tests/browser/bench.mjs [runs]
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { chromium } from '@playwright/test';

import { ROOT, startHarnessServer } from './server.mjs';
import { CHROMIUM_ARGS } from './chromium.mjs';
import { fleetBench } from './fleetBench.mjs';
import { startSidecar } from './sidecars.mjs';

const RUNS = Number(process.argv[2] ?? 7);
const SETS = ['grafana12', 'grafana13'];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (v) => `${v.toFixed(1)} ms`.padStart(10);
const line = (label, value, target = '') =>
  console.log(`  ${label.padEnd(58)} ${value}${target ? `   (target ${target})` : ''}`);

console.log('\nGrafana plugin (tests/browser/bench.mjs)');
const modules = ['dist/module.js', 'dist/datasource/module.js', 'dist/panels/topology/module.js'];
console.log('\n1. dist module.js sizes (production build)');
for (const m of modules) {
  const buf = readFileSync(join(ROOT, m));
  line(
    m,
    `${(statSync(join(ROOT, m)).size / 1024).toFixed(1)} KiB (gzip ${(gzipSync(buf).length / 1024).toFixed(1)} KiB)`
  );
}

execFileSync('bash', [join(ROOT, 'tests/browser/setup.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
const only = process.env.GPUFLEET_BENCH_ONLY;
if (only === 'fleet') {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  try {
    await fleetBench(browser, Math.min(RUNS, 3));
  } finally {
    await browser.close();
  }
  process.exit(0);
}
const token = 'bench-token';
const sidecar = await startSidecar({ token });
const server = await startHarnessServer({
  datasources: [{ uid: 'gpufleet-demo', name: 'gpufleet demo', url: sidecar.url, secureJsonData: { token } }],
});
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
const load0 = loadavg()[0];
try {
  console.log(
    `\n2. topology panel in Chromium ${browser.version()}, 1400×800 px; first = first mount in a fresh page, ` +
      `then the median of ${RUNS - 1} more mounts (render = React commit; paint = next frame; click = GPU 3 → drill-down dialog)`
  );
  for (const set of SETS) {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(`${server.url}/?set=${set}&view=bench&ds=gpufleet-demo`);
    await page.waitForFunction(() => document.body.dataset.hostReady || document.body.dataset.hostError);
    const error = await page.evaluate(() => document.body.dataset.hostError);
    if (error) {
      throw new Error(`${set}: ${error}`);
    }
    const versions = await page.evaluate(() => window.gpufleetHost.versions);
    console.log(
      `\n  ${set}: @grafana/ui ${versions['@grafana/ui']}, React ${versions.reactRuntime}; host page + plugin modules loaded in ${Date.now() - t0} ms`
    );
    for (const source of ['demo', 'synthetic']) {
      const runs = await page.evaluate(
        ([s, n]) => window.gpufleetHost.benchPanel(s, n, 'gpufleet-demo'),
        [source, RUNS]
      );
      const [first, ...rest] = runs;
      const c = first.counts;
      const what =
        source === 'demo'
          ? `demo host (${c.gpus} GPUs, ${c.migChips} MIG + ${c.vgpuChips} vGPU chips, ${c.engines} engines)`
          : `synthetic (${c.gpus} GPUs, 448 MIG, ${c.engines} engines, ${c.edges} edges)`;
      console.log(`  ${set} · ${what}`);
      line('first render: commit / to paint', `${ms(first.renderCommitMs)} / ${ms(first.renderPaintMs)}`, '< 300 ms');
      line(
        'render, median: commit / to paint',
        `${ms(median(rest.map((r) => r.renderCommitMs)))} / ${ms(median(rest.map((r) => r.renderPaintMs)))}`,
        '< 300 ms'
      );
      line(
        'click → drill-down, first: in DOM / to paint',
        `${ms(first.clickDomMs)} / ${ms(first.clickPaintMs)}`,
        '< 100 ms'
      );
      line(
        'click → drill-down, median: in DOM / to paint',
        `${ms(median(rest.map((r) => r.clickDomMs)))} / ${ms(median(rest.map((r) => r.clickPaintMs)))}`,
        '< 100 ms'
      );
    }
    await context.close();
  }
  if (only !== 'plugin') {
    await fleetBench(browser, Math.min(RUNS, 3));
  }
  const load1 = loadavg()[0];
  console.log(
    `\n  machine load average (1 min) ${load0.toFixed(1)} → ${load1.toFixed(1)} on ${
      (await import('node:os')).cpus().length
    } cores${load1 > 2.5 ? ': other work was running, the figures are inflated' : ''}`
  );
} finally {
  await browser.close();
  await server.close();
  await sidecar.stop();
}
