import { expect, test } from './fixtures';

const EXPECTED: Record<string, { react: string; grafana: string }> = {
  grafana12: { react: '18.3.1', grafana: '12.4.10' },
  grafana13: { react: '19.2.9', grafana: '13.2.2' },
};

test('the app plugin loads through SystemJS against the shared packages of this Grafana version', async ({
  openHost,
  hostSet,
  page,
  shot,
}) => {
  await openHost({ view: 'app' });

  await expect(page.getByRole('heading', { name: 'gpufleet: GPU, MIG, vGPU and vLLM observability' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Add the data source' })).toBeVisible();
  // Fetched from the path Grafana serves plugins from, nested plugins from their own folders.
  const fetched = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)
  );
  for (const m of ['module.js', 'datasource/module.js', 'panels/topology/module.js']) {
    expect(fetched).toContain(`/public/plugins/gpufleet-observability-app/${m}`);
  }

  // The page runs the React and @grafana packages of this set, not the plugin's build-time ones.
  const info = await page.evaluate(() => (window as any).gpufleetHost);
  expect(info.set).toBe(hostSet);
  expect(info.versions.reactRuntime).toBe(EXPECTED[hostSet].react);
  expect(info.versions['@grafana/ui']).toBe(EXPECTED[hostSet].grafana);
  expect(info.versions['@grafana/data']).toBe(EXPECTED[hostSet].grafana);
  expect(info.shared).toEqual(
    expect.arrayContaining([
      'react',
      'react-dom',
      '@grafana/data',
      '@grafana/ui',
      '@grafana/runtime',
      'rxjs',
      '@emotion/css',
    ])
  );
  await shot('app-root');
});
