// The fleet figures of `npm run bench` (issue 10), printed, never asserted: a 1,000-host simulated fleet
// (fleet-sim, `typical` then `all-mig`) scraped every 15 s by a real Prometheus with the fleet rules,
// which also remote-writes into VictoriaMetrics (rules there by vmalert, as in prometheus/scale-out/).
// Each store is measured with the other stopped, as if each had its own machine.
//   - the fleet dashboard's topology queries as Grafana's Prometheus data source sends them
//     (@grafana/prometheus in Chromium → the harness's /api/ds/query → Prometheus): answer bytes in
//     total and the slowest query, at fleet level and for one host;
//   - the same queries on VictoriaMetrics, as a ratio to Prometheus;
//   - in Chromium: the page end to end (queries, frames, render, paint), the panel's first render on
//     those frames, hover and click on a tile, and the host level after the click (its own queries);
//   - series per host and in total, as the store counts them.
// GPUFLEET_BENCH_FLEET_AB=<build>,<build> (folders under dist/panels/) adds clicks on each panel build in
// turn on the same page, for a before / after under the same load.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startFleet } from './fleet.mjs';
import { ROOT, startHarnessServer } from './server.mjs';

const HOSTS = Number(process.env.GPUFLEET_BENCH_FLEET_HOSTS ?? 1000);
/**
 * Scrape and rule interval. 60 s, not the 15 s of a production fleet: on a 2-core machine shared with
 * other work, fleet-sim cannot render 1,000 hosts every 15 s (about 67 renders/s) and every scrape times
 * out; the answers the dashboard gets are the same, only older.
 */
const SCRAPE_S = Number(process.env.GPUFLEET_BENCH_FLEET_SCRAPE_S ?? 60);
const SCALE_OUT = join(ROOT, 'prometheus/scale-out');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (v) => `${v.toFixed(0)} ms`;
const kb = (b) => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`);
const line = (label, value, target = '') =>
  console.log(`  ${label.padEnd(58)} ${value}${target ? `   (goal ${target})` : ''}`);

function flags(file, override) {
  const out = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('-'))
    .map((l) => /^-([\w.]+)=(.*)$/.exec(l))
    .filter((m) => m && !(m[1] in override))
    .map(([, name, value]) => `-${name}=${name === 'rule' && !value.startsWith('/') ? join(ROOT, value) : value}`);
  return [...out, ...Object.entries(override).map(([k, v]) => `-${k}=${v}`)];
}

async function freePort() {
  const srv = http.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function daemon(bin, args, url) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log = (log + d).slice(-5000)));
  proc.stderr.on('data', (d) => (log = (log + d).slice(-5000)));
  const stop = () =>
    new Promise((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        return r();
      }
      proc.once('exit', r);
      // A process stopped by paused() acts on SIGTERM only once it runs again.
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
    });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) {
      return { url, pid: proc.pid, stop };
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${bin} did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** VictoriaMetrics single node and vmalert with the shipped flags files, on loopback, with an Alertmanager sink. */
async function startVictoria() {
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-bench-vm-'));
  const sink = http.createServer((req, res) => req.resume().on('end', () => res.end('{}')));
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const vmPort = await freePort();
  const vm = await daemon(
    'victoria-metrics',
    flags(join(SCALE_OUT, 'victoria-metrics.flags'), {
      storageDataPath: dir,
      httpListenAddr: `127.0.0.1:${vmPort}`,
    }),
    `http://127.0.0.1:${vmPort}`
  );
  const alertPort = await freePort();
  const vmalert = await daemon(
    'vmalert',
    flags(join(SCALE_OUT, 'vmalert.flags'), {
      httpListenAddr: `127.0.0.1:${alertPort}`,
      'datasource.url': vm.url,
      'remoteWrite.url': vm.url,
      'remoteRead.url': vm.url,
      'notifier.url': `http://127.0.0.1:${sink.address().port}`,
    }),
    `http://127.0.0.1:${alertPort}`
  );
  return {
    url: vm.url,
    pids: [vm.pid, vmalert.pid],
    stop: async () => {
      await vmalert.stop();
      await vm.stop();
      sink.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function instant(url, expr) {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr, time: String(Date.now() / 1000) }).toString(),
  });
  const text = await res.text();
  const body = JSON.parse(text);
  return { ms: performance.now() - t0, bytes: Buffer.byteLength(text), rows: body.data?.result?.length ?? 0, error: body.error };
}

async function waitFor(what, fn, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function summarise(entries) {
  const bytes = entries.reduce((n, e) => n + e.bytes, 0);
  const slowest = entries.reduce((a, e) => (e.ms > (a?.ms ?? -1) ? e : a), undefined);
  return { bytes, slowest, count: entries.length, entries };
}

/**
 * Runs `fn` with these processes stopped (SIGSTOP), then lets them go on. Each store is measured with the
 * other paused: on this 2-core machine they would otherwise share the CPU that production gives each its
 * own machines, and what one store's figure waited on would be the other's ingestion. Prometheus keeps
 * the samples it could not remote-write while VictoriaMetrics is stopped and sends them after.
 */
async function paused(pids, fn) {
  const signal = (pid, sig) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone already (its stop, or a crash): nothing to stop or to let go on.
    }
  };
  try {
    for (const pid of pids) {
      stoppedPids.add(pid);
      signal(pid, 'SIGSTOP');
    }
    return await fn();
  } finally {
    for (const pid of pids) {
      signal(pid, 'SIGCONT');
      stoppedPids.delete(pid);
    }
  }
}

// A bench that exits or is interrupted while a store is stopped lets it go on, so that it can end.
const stoppedPids = new Set();
process.on('exit', () => {
  for (const pid of stoppedPids) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
});

/**
 * Waits until Prometheus has remote-written what it appended (what it held back while VictoriaMetrics was
 * stopped), so VictoriaMetrics is not measured while it ingests the backlog.
 */
async function remoteWriteCaughtUp(promUrl) {
  const newest = (text, name) =>
    Math.max(...text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).map((l) => Number(l.split(' ').at(-1))));
  await waitFor('Prometheus remote-wrote its backlog', async () => {
    const text = await (await fetch(`${promUrl}/metrics`)).text();
    const appended = newest(text, 'prometheus_remote_storage_highest_timestamp_in_seconds');
    const sent = newest(text, 'prometheus_remote_storage_queue_highest_sent_timestamp_seconds');
    return Number.isFinite(appended) && Number.isFinite(sent) && sent >= appended - 5;
  });
}

/** One mix: the fleet, the stores, the page. `browser` is a launched Playwright Chromium. */
async function benchMix(browser, mix, runs) {
  console.log(
    `\n3. fleet dashboard on Prometheus, ${HOSTS} hosts, ${mix} (fleet-sim seed 1, ${SCRAPE_S} s scrapes; each store measured with the other stopped)`
  );
  const started = Date.now();
  const vm = await startVictoria();
  let fleet;
  let server;
  let context;
  try {
    fleet = await startFleet({ hosts: HOSTS, mix, interval: SCRAPE_S, remoteWriteUrl: vm.url, readyTimeoutMs: 900_000 });
    await waitFor('VictoriaMetrics has every host and the fleet rules', async () => {
      const r = await fetch(`${vm.url}/api/v1/query?query=${encodeURIComponent('count(gpufleet:host_gpus:count)')}`);
      return Number((await r.json()).data?.result?.[0]?.value?.[1] ?? 0) === HOSTS;
    });
    line('fleet, Prometheus and VictoriaMetrics ready in', `${((Date.now() - started) / 1000).toFixed(0)} s`);

    // Series, as the store counts them.
    // Per host: the series that name it (the scrape's own up / scrape_* series carry only `instance`).
    const perHost = (await fleet.query('count by (host) ({job="gpufleet-sidecar", host!=""})')).map((s) => Number(s.value[1]));
    const total = Number((await fleet.query('count({job="gpufleet-sidecar"})'))[0]?.value[1] ?? 0);
    const rules = Number((await fleet.query('count({__name__=~"gpufleet:.+"})'))[0]?.value[1] ?? 0);
    perHost.sort((a, b) => a - b);
    line('series per host in Prometheus, min / median / max', `${perHost[0]} / ${median(perHost)} / ${perHost.at(-1)}`);
    line('series of the fleet in total (scraped; + recording rules)', `${total.toLocaleString('en-US')} + ${rules.toLocaleString('en-US')}`);

    server = await startHarnessServer({
      datasources: [
        { uid: 'gpufleet-prometheus', name: 'Prometheus', type: 'prometheus', url: fleet.promUrl, jsonData: { httpMethod: 'POST', timeInterval: `${SCRAPE_S}s` } },
        { uid: 'gpufleet-victoria', name: 'VictoriaMetrics', type: 'prometheus', url: vm.url, jsonData: { httpMethod: 'POST', timeInterval: `${SCRAPE_S}s` } },
      ],
    });
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const wait = async (selector) => {
      try {
        await page.waitForSelector(selector, { timeout: 300_000 });
      } catch (err) {
        const last = server.queryLog.at(-1);
        throw new Error(
          `${selector} did not appear: ${server.queryLog.length} queries logged (last ${last?.refId} HTTP ${last?.status}, ${last ? ms(last.ms) : '-'}); page errors: ${pageErrors.join('; ') || 'none'}`
        );
      }
    };
    // The run's end: Done, or Error (a query failed: Prometheus' error, or the data source's timeout), which
    // is said at once with the failed queries rather than waited out.
    const waitDone = async () => {
      await wait('[data-testid="panel-state"][data-state="Done"], [data-testid="panel-state"][data-state="Error"]');
      const state = await page.getAttribute('[data-testid="panel-state"]', 'data-state');
      if (state !== 'Done') {
        const failed = server.queryLog.filter((e) => e.status !== 200);
        const some = failed.slice(0, 3).map((e) => `${e.refId} HTTP ${e.status} after ${ms(e.ms)}`);
        throw new Error(`the query run ended in ${state}: ${failed.length} queries failed (${some.join('; ')})`);
      }
    };
    await page.goto(`${server.url}/?set=grafana12&view=blank`);
    await page.waitForFunction(() => document.body.dataset.hostReady || document.body.dataset.hostError, null, { timeout: 120_000 });

    // Answer bytes: what the data source asked for at fleet level, then for one host.
    const levels = {};
    // The other store's processes, stopped while one is measured.
    const others = { 'gpufleet-prometheus': vm.pids, 'gpufleet-victoria': [fleet.pids[1]] };
    for (const uid of ['gpufleet-prometheus', 'gpufleet-victoria']) {
      if (uid === 'gpufleet-victoria') {
        await remoteWriteCaughtUp(fleet.promUrl);
      }
      await paused(others[uid], async () => {
        let mark = server.queryLog.length;
        await page.evaluate((ds) => window.gpufleetHost.show({ view: 'fleet', ds }), uid);
        await wait('[data-testid="gpufleet-host"]');
        await waitDone();
        const fleetLevel = server.queryLog.slice(mark);
        mark = server.queryLog.length;
        await page.locator('[data-testid="gpufleet-host"]').nth(3).click();
        await wait('[data-testid="gpufleet-gpu"]');
        await waitDone();
        levels[uid] = { fleet: summarise(fleetLevel), host: summarise(server.queryLog.slice(mark)) };
      });
    }
    const p = levels['gpufleet-prometheus'];
    for (const [level, entries] of [['fleet level', p.fleet.entries], ['one host', p.host.entries]]) {
      const top = [...entries].sort((a, b) => b.ms - a.ms).slice(0, 5);
      line(`  ${level}, slowest 5 through the harness (Prometheus)`, top.map((e) => `${e.refId} ${ms(e.ms)}`).join(', '));
    }
    const v = levels['gpufleet-victoria'];
    const goal = mix === 'all-mig' ? '< 2 MB' : '< 1 MB';
    line(`fleet level: ${p.fleet.count} queries, Prometheus answer bytes`, kb(p.fleet.bytes), goal);
    line('fleet level: slowest query (Prometheus)', `${ms(p.fleet.slowest.ms)} (${p.fleet.slowest.refId})`);
    line(`one host: ${p.host.count} queries, answer bytes / slowest`, `${kb(p.host.bytes)} / ${ms(p.host.slowest.ms)} (${p.host.slowest.refId})`);
    line(
      'VictoriaMetrics / Prometheus, fleet level: bytes, slowest',
      `${(v.fleet.bytes / p.fleet.bytes).toFixed(2)} × / ${(v.fleet.slowest.ms / p.fleet.slowest.ms).toFixed(2)} ×`
    );
    line(
      'VictoriaMetrics / Prometheus, one host: bytes, slowest',
      `${(v.host.bytes / p.host.bytes).toFixed(2)} × / ${(v.host.slowest.ms / p.host.slowest.ms).toFixed(2)} ×`
    );

    // The same fleet-level expressions straight to each store, one after another (no browser).
    const asked = server.queryLog.filter((e) => e.path === 'api/v1/query').slice(0, p.fleet.count);
    const direct = { p: [], v: [] };
    await paused(others['gpufleet-prometheus'], async () => {
      for (const { expr } of asked) {
        direct.p.push(await instant(fleet.promUrl, expr));
      }
    });
    await remoteWriteCaughtUp(fleet.promUrl);
    await paused(others['gpufleet-victoria'], async () => {
      for (const { expr } of asked) {
        direct.v.push(await instant(vm.url, expr));
      }
    });
    // Per query, the slowest first: what the fleet level waits on in each store.
    const perQuery = asked
      .map((e, i) => ({ refId: e.refId, p: direct.p[i], v: direct.v[i] }))
      .sort((a, b) => b.p.ms - a.p.ms);
    for (const q of perQuery.filter((x) => x.p.rows > 0 || x.p.ms >= 20)) {
      line(`  ${q.refId}: rows, bytes, Prometheus / VictoriaMetrics`, `${q.p.rows}, ${kb(q.p.bytes)}, ${ms(q.p.ms)} / ${ms(q.v.ms)}`);
    }
    const empty = perQuery.filter((x) => x.p.rows === 0 && x.p.ms < 20);
    line(`  ${empty.length} queries with no rows (each < 20 ms), Prometheus in all`, ms(empty.reduce((n, x) => n + x.p.ms, 0)));
    const sum = (xs, k) => xs.reduce((n, x) => n + x[k], 0);
    line(
      'fleet-level queries in sequence, Prometheus / VictoriaMetrics',
      `${ms(sum(direct.p, 'ms'))} / ${ms(sum(direct.v, 'ms'))} (${(sum(direct.v, 'ms') / sum(direct.p, 'ms')).toFixed(2)} ×)`
    );

    // Chromium: end to end, render, hover, click, host level (median of the runs; the first run apart).
    for (const uid of ['gpufleet-prometheus', 'gpufleet-victoria']) {
      if (uid === 'gpufleet-victoria') {
        await remoteWriteCaughtUp(fleet.promUrl);
      }
      const r = await paused(others[uid], () =>
        page.evaluate(([ds, n]) => window.gpufleetHost.benchFleet(ds, n), [uid, uid === 'gpufleet-prometheus' ? runs : 1])
      );
      const med = (k) => median(r.map((x) => x[k]));
      const store = uid === 'gpufleet-prometheus' ? 'Prometheus' : 'VictoriaMetrics';
      console.log(`  Chromium, grafana12 host set, ${store} (${r[0].tiles} tiles, ${r[0].rows} rows; median of ${r.length})`);
      line('  page end to end: queries + frames + render + paint', ms(med('endToEndMs')), mix === 'all-mig' ? '< 1 s' : '');
      line('  of which the data source (ds.query → frames)', ms(med('queriesMs')));
      if (uid === 'gpufleet-prometheus') {
        line('  panel first render: commit / paint', `${ms(med('renderCommitMs'))} / ${ms(med('renderPaintMs'))}`, '< 500 ms');
        line('  hover a tile (to paint)', ms(med('hoverMs')), '< 100 ms');
        line('  click a tile (host level painted)', ms(med('clickMs')), '< 100 ms');
        line(
          '    of which handlers / React commit / style and layout',
          `${ms(med('clickScriptMs'))} / ${ms(med('clickCommitMs'))} / ${ms(med('clickLayoutMs'))}`
        );
        // Chromium's long animation frames (> 50 ms) inside each click, from the click: what the paint waited
        // on. A frame whose wall time far exceeds its scripts and rendering waited for a core.
        for (const [i, x] of r.entries()) {
          const frames = (x.clickFrames ?? []).map(
            (f) =>
              `+${ms(f.startMs)}: ${ms(f.ms)} (scripts ${ms(f.scriptMs)}, render ${ms(f.renderMs)}` +
              `${f.scripts.length ? `; ${f.scripts[0]}` : ''})`
          );
          line(`    click ${i + 1} (${ms(x.clickMs)}): long frames`, frames.join('; ') || 'none over 50 ms');
        }
      }
      line(`  host level after the click (its queries, ${r[0].hostGpus} GPUs drawn)`, ms(med('hostLevelMs')), '< 300 ms');
      line('  back to the fleet ("All hosts"): every tile painted', ms(med('backMs')));
      // What each figure waited on (medians): variable reloads, the /api/ds/query answer, its parse, the
      // data source's frames, the panel.
      for (const [label, key] of [['page end to end', 'fleetWait'], ['host level', 'hostWait']]) {
        const w = (k) => median(r.map((x) => x[key][k]));
        line(
          `  ${label} waited on: before the run (variables) / ds answer / parse / frames / panel`,
          `${ms(w('beforeRunMs'))} (${ms(w('variablesMs'))}) / ${ms(w('dsFetchMs'))} / ${ms(w('dsParseMs'))} / ${ms(w('framesMs'))} / ${ms(w('panelMs'))}` +
            ` (${w('dsRequests')} ds + ${w('labelRequests')} other requests)`
        );
      }
    }

    // Panel builds side by side (GPUFLEET_BENCH_FLEET_AB=topology-before,topology: folders under
    // dist/panels/), one run of each in turn on the same page and stores, so that both see the same load.
    const builds = (process.env.GPUFLEET_BENCH_FLEET_AB ?? '').split(',').filter(Boolean);
    if (builds.length > 0) {
      const ab = new Map(builds.map((b) => [b, []]));
      for (let i = 0; i < Number(process.env.GPUFLEET_BENCH_FLEET_AB_RUNS ?? 6); i++) {
        for (const b of builds) {
          const [x] = await paused(others['gpufleet-prometheus'], () =>
            page.evaluate(([n]) => window.gpufleetHost.benchFleet('gpufleet-prometheus', 1, n), [b])
          );
          ab.get(b).push(x);
        }
      }
      for (const [b, xs] of ab) {
        const med = (k) => median(xs.map((x) => x[k]));
        line(
          `  ${b}: click, median of ${xs.length} (min-max); handlers / commit`,
          `${ms(med('clickMs'))} (${ms(Math.min(...xs.map((x) => x.clickMs)))}-${ms(Math.max(...xs.map((x) => x.clickMs)))}); ` +
            `${ms(med('clickScriptMs'))} / ${ms(med('clickCommitMs'))}; hover ${ms(med('hoverMs'))}; back ${ms(med('backMs'))}`
        );
      }
    }
  } finally {
    await context?.close();
    await server?.close();
    await fleet?.stop();
    await vm.stop();
  }
}

export async function fleetBench(browser, runs = 3) {
  try {
    execFileSync('victoria-metrics', ['-version'], { stdio: 'ignore' });
  } catch {
    console.log('\n3. fleet dashboard on Prometheus: skipped (victoria-metrics is not installed: scripts/install-deps)');
    return;
  }
  for (const mix of (process.env.GPUFLEET_BENCH_FLEET_MIX ?? 'typical,all-mig').split(',')) {
    try {
      await benchMix(browser, mix, runs);
    } catch (err) {
      console.log(`  not measured: ${String(err?.message ?? err).split('\n')[0]}`);
    }
  }
}
