import type { Page } from '@playwright/test';

import { expect, harness, prometheus, test } from './fixtures';

/**
 * The provisioned fleet dashboard (gpufleet-fleet) with only Prometheus: its variables and its topology
 * panel queried through Grafana's own Prometheus data source (`@grafana/prometheus`: query building,
 * variable interpolation, /api/ds/query, response parsing and the table transform), the harness server
 * playing Grafana's backend in front of a real Prometheus that scrapes fleet-sim with the fleet rules.
 * What the page must show is counted straight from Prometheus' raw families.
 */

async function openFleet(openHost: (p: Record<string, string>) => Promise<Page>, params: Record<string, string> = {}) {
  const page = await openHost({ view: 'fleet', ds: 'gpufleet-prometheus', ...params });
  // Done, or Error when every query failed.
  await expect(page.getByTestId('panel-state')).toHaveAttribute('data-state', /^(Done|Error)$/, { timeout: 30_000 });
  return page;
}

const countOf = async (expr: string) => Number((await prometheus(`count(${expr})`))[0]?.value[1] ?? 0);

const tileKeys = (page: Page) =>
  page.getByTestId('gpufleet-host').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')!.slice(5)));

test.describe('fleet dashboard on Prometheus through @grafana/prometheus', () => {
  test('fleet level: one tile per host, with the counts of the raw families', async ({ openHost, shot }) => {
    const page = await openFleet(openHost);
    await expect(page.getByTestId('gpufleet-fleet')).toBeVisible();
    const hosts = (await prometheus('gpufleet_host_info')).map((s) => s.metric.host).sort();
    expect(hosts).toHaveLength(harness.fleetHosts);
    expect((await tileKeys(page)).sort()).toEqual(hosts);

    // The queries went the way Grafana's Prometheus data source sends them: one POST /api/ds/query.
    const requests: Array<{ method: string; url: string; status: number }> = await page.evaluate(
      () => (window as any).gpufleetHost.requests
    );
    const dsQueries = requests.filter((r) => r.url.startsWith('/api/ds/query'));
    expect(dsQueries.length).toBeGreaterThan(0);
    expect(dsQueries.every((r) => r.method === 'POST' && r.url.includes('ds_type=prometheus') && r.status === 200)).toBe(true);

    // A MIG host's tile: its GPUs, free GPUs, MIG instances and engines as the raw families count them.
    const mig = (await prometheus('count by (host) (gpufleet_mig_instance_info)'))[0];
    expect(mig).toBeDefined();
    const host = mig.metric.host;
    const gpus = await countOf(`gpufleet_gpu_info{host="${host}"}`);
    const engines = await countOf(`gpufleet_engine_info{host="${host}"}`);
    const tile = page.getByRole('button', { name: `host ${host}`, exact: true });
    await expect(tile).toContainText(`${gpus} GPU`);
    await expect(tile).toContainText(`${mig.value[1]} MIG`);
    await expect(tile).toContainText(`${engines} engine`);
    await shot('fleet-prometheus');
  });

  test('a click on a tile: that host\'s GPUs, MIG instances and engines, and $host set to it', async ({
    openHost,
    shot,
  }) => {
    const page = await openFleet(openHost);
    const host = (await prometheus('count by (host) (gpufleet_mig_instance_info)'))[0].metric.host;
    await page.getByRole('button', { name: `host ${host}`, exact: true }).click();
    const topo = page.getByTestId('gpufleet-topology');
    await expect(topo).toBeVisible();
    // The fleet level stays mounted under the host, out of sight.
    await expect(page.getByTestId('gpufleet-fleet')).toBeHidden();
    await expect(page.getByRole('button', { name: `host ${host}`, exact: true })).toHaveCount(0);
    // The panel's pick went through the URL to the dashboard variable, as in Grafana.
    await expect(page.getByLabel('Variable host')).toHaveValue(host);

    const gpuIds = (await prometheus(`gpufleet_gpu_info{host="${host}"}`)).map((s) => s.metric.gpu_uuid);
    await expect(page.getByTestId('gpufleet-gpu')).toHaveCount(gpuIds.length, { timeout: 20_000 });
    const migs = await countOf(`gpufleet_mig_instance_info{host="${host}"}`);
    const chips = await page.getByTestId('gpufleet-mig').count();
    const more = await page
      .getByRole('button', { name: /more instances of/ })
      .evaluateAll((els) => els.reduce((n, e) => n + Number(e.textContent!.slice(1)), 0));
    expect(chips + more).toBe(migs);
    await expect(page.getByTestId('gpufleet-engine')).toHaveCount(await countOf(`gpufleet_engine_info{host="${host}"}`));
    await shot('fleet-prometheus-host');

    // Back to every host.
    await page.getByRole('button', { name: 'All hosts' }).click();
    await expect(page.getByTestId('gpufleet-fleet')).toBeVisible();
    await expect(page.getByLabel('Variable host')).toHaveValue('$__all');
  });

  test('a model picked in $model: that model\'s engines across the hosts, and only their GPUs', async ({
    openHost,
  }) => {
    const page = await openFleet(openHost);
    // The variable's options came from Prometheus through the data source's metricFindQuery.
    const models = (await prometheus('count by (model) (gpufleet_engine_info)')).map((s) => s.metric.model).sort();
    const options = await page
      .getByLabel('Variable model')
      .locator('option')
      .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
    expect(options.filter((o) => o !== '$__all').sort()).toEqual(models);

    const model = models[0];
    await page.getByLabel('Variable model').selectOption(model);
    await expect(page.getByTestId('gpufleet-topology')).toBeVisible();
    const engines = await prometheus(`gpufleet_engine_info{model="${model}"}`);
    await expect(page.getByTestId('gpufleet-engine')).toHaveCount(engines.length, { timeout: 20_000 });
    // GPUs drawn: those the model's engines run on (whole GPUs and the parents of their MIG instances).
    const gpus = await countOf(
      `count by (host, gpu_uuid) (gpufleet_engine_gpu and on (host, engine_id) gpufleet_engine_info{model="${model}"})`
    );
    await expect(page.getByTestId('gpufleet-gpu')).toHaveCount(gpus);
  });

  test('Prometheus unreachable or too slow: each query says so, with what to do, and no tile shows a 0', async ({
    openHost,
  }) => {
    const down = await openFleet(openHost, { ds: 'gpufleet-prometheus-down' });
    await expect(down.getByRole('alert').filter({ hasText: 'The topology query failed' })).toBeVisible();
    await expect(down.getByTestId('gpufleet-host')).toHaveCount(0);
    await expect(down.getByText(/Query hosts failed: Post ".*\/api\/v1\/query": dial tcp/)).toBeVisible();

    const slow = await openFleet(openHost, { ds: 'gpufleet-prometheus-slow' });
    await expect(slow.getByTestId('gpufleet-host')).toHaveCount(0);
    await expect(slow.getByText(/Query hosts failed: .*context deadline exceeded.*raise --query.timeout/)).toBeVisible();
  });
});
