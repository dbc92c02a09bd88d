import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Browser, type Page, test as base } from '@playwright/test';

import { APP_ID, ROOT, startHarnessServer } from '../server.mjs';
import { DEMO_UID, expect, harness, sidecar } from './fixtures';

/**
 * The release archive as an operator installs it: `npm run package`'s packing step over the built
 * dist/, unpacked by Debian's unzip into an empty plugins folder, then served by a harness server of its
 * own from that folder (nothing of dist/ in reach) and loaded in the browser like every other spec.
 */
interface ArchiveFixtures {
  archive: { url: string; pluginsDir: string };
  archivePage: Page;
}

async function openPage(browser: Browser, url: string, set: string) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
  const page = await context.newPage();
  await page.goto(`${url}/?set=${set}&view=blank`);
  await page.waitForFunction(() => document.body.dataset.hostReady || document.body.dataset.hostError, null, {
    timeout: 60_000,
  });
  return page;
}

const test = base.extend<{}, ArchiveFixtures>({
  archive: [
    async ({}, use) => {
      const dir = mkdtempSync(join(tmpdir(), 'gpufleet-archive-'));
      try {
        execFileSync('node', [join(ROOT, 'scripts/package-plugin.mjs'), '--out-dir', join(dir, 'release')], {
          stdio: 'pipe',
        });
        const [zip] = readdirSync(join(dir, 'release')).filter((f) => f.endsWith('.zip'));
        const pluginsDir = join(dir, 'plugins');
        mkdirSync(pluginsDir);
        execFileSync('unzip', ['-q', join(dir, 'release', zip), '-d', pluginsDir]);
        const server = await startHarnessServer({
          pluginDir: join(pluginsDir, APP_ID),
          datasources: [{ uid: DEMO_UID, name: 'gpufleet demo', url: harness.sidecarUrl, secureJsonData: { token: harness.token } }],
        });
        await use({ url: server.url, pluginsDir });
        await server.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  archivePage: [
    async ({ browser, archive }, use, workerInfo) => {
      const page = await openPage(browser, archive.url, workerInfo.project.name);
      await use(page);
      await page.context().close();
    },
    { scope: 'worker', timeout: 90_000 },
  ],
});

test('the plugin archive unpacked into an empty plugins folder loads: app, data source and topology panel', async ({
  archive,
  archivePage: page,
}) => {
  // One folder in the plugins folder, named by the app's id: what Grafana walks.
  expect(readdirSync(archive.pluginsDir)).toEqual([APP_ID]);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  expect(await page.evaluate(() => document.body.dataset.hostError ?? '')).toBe('');

  await page.evaluate(() => (window as any).gpufleetHost.show({ view: 'app' }));
  await expect(page.getByRole('heading', { name: 'gpufleet: GPU, MIG, vGPU and vLLM observability' })).toBeVisible();
  const fetched = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)
  );
  for (const m of ['module.js', 'datasource/module.js', 'panels/topology/module.js']) {
    expect(fetched).toContain(`/public/plugins/${APP_ID}/${m}`);
  }

  // The data source (its route from the archive's datasource/plugin.json) and the panel draw the demo host.
  await page.evaluate((ds) => (window as any).gpufleetHost.show({ view: 'dashboard', ds, kind: 'gpus' }), DEMO_UID);
  const panelState = page.getByTestId('panel-state');
  await expect(panelState).toHaveAttribute('data-frames', 'gpus');
  await page.getByTestId('query-section').getByRole('radio', { name: 'Topology' }).click();
  await expect(panelState).toHaveAttribute('data-frames', 'nodes,edges');
  const topo = await sidecar<{ nodes: Array<{ id: string; kind: string }> }>('/api/v1/topology');
  const gpuIds = topo.nodes.filter((n) => n.kind === 'gpu').map((n) => n.id);
  expect(gpuIds.length).toBeGreaterThan(0);
  await expect(page.getByTestId('gpufleet-gpu')).toHaveCount(gpuIds.length);
  expect(
    await page.getByTestId('gpufleet-gpu').evaluateAll((els) => els.map((e) => e.getAttribute('data-node-id')))
  ).toEqual(gpuIds);
  expect(errors, 'uncaught errors in the page').toEqual([]);
});
