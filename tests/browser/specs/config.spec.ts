import { type APIRequestContext, type Page } from '@playwright/test';

import { expect, harness, sidecar, test } from './fixtures';

/** "Add data source" as Grafana's API does it: an empty gpufleet data source with this uid. */
async function addDataSource(request: APIRequestContext, uid: string, settings: Record<string, unknown> = {}) {
  const res = await request.put(`${harness.url}/api/datasources/uid/${uid}`, {
    data: { name: `gpufleet ${uid}`, url: '', ...settings },
  });
  expect(res.ok()).toBe(true);
}

async function saveAndTest(page: Page) {
  await page.getByRole('button', { name: 'Save & test' }).click();
  const result = page.getByTestId('save-and-test-result');
  await expect(result).toBeVisible({ timeout: 15_000 });
  return result;
}

test.describe('data source settings', () => {
  test('URL and token, then Save & test: the sidecar version and which sources work', async ({
    openHost,
    page,
    request,
    hostSet,
    shot,
  }) => {
    const uid = `config-ok-${hostSet}`;
    await addDataSource(request, uid);
    // Every request the browser sends: the token must not be among them after it is saved.
    const browserAuth: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/datasources/proxy/') && r.headers().authorization) {
        browserAuth.push(r.url());
      }
    });
    await openHost({ view: 'config', ds: uid });
    await expect(page.getByText('Where is the sidecar?')).toBeVisible();

    await page.getByLabel('Sidecar URL').fill(harness.sidecarUrl);
    await page.getByLabel('Bearer token').fill(harness.token);
    const result = await saveAndTest(page);

    const health = await sidecar('/api/v1/health');
    const names = Object.keys(health.sources);
    const working = names.filter((n) => health.sources[n].status === 'ok');
    const disabled = names.filter((n) => health.sources[n].status === 'disabled');
    expect(working).toContain('gpu');
    await expect(result).toHaveAttribute('data-status', 'success');
    await expect(result).toContainText(`gpufleet sidecar ${health.version} on ${health.host} (up `);
    await expect(result).toContainText(`is ok. Working: ${working.join(', ')}.`);
    if (disabled.length) {
      await expect(result).toContainText(`Disabled: ${disabled.join(', ')}.`);
    }
    // Per-source detail lines.
    for (const n of names) {
      await expect(result).toContainText(`${n}: ${health.sources[n].status}`);
    }

    // Saved: the token is now "configured" and is not sent back to the page; the proxy adds it.
    await expect(page.getByRole('button', { name: 'Reset' })).toBeVisible();
    await expect(page.getByLabel('Bearer token')).not.toHaveValue(harness.token);
    const saved = await (await request.get(`${harness.url}/api/datasources/uid/${uid}`)).json();
    expect(saved.secureJsonFields).toEqual({ token: true });
    expect(JSON.stringify(saved)).not.toContain(harness.token);
    expect(browserAuth).toEqual([]);
    await shot('config-save-and-test-ok');
  });

  test('without the token the sidecar refuses, and the message says to check the token', async ({
    openHost,
    page,
    request,
    hostSet,
    shot,
  }) => {
    const uid = `config-no-token-${hostSet}`;
    await addDataSource(request, uid, { url: harness.sidecarUrl });
    await openHost({ view: 'config', ds: uid });
    await expect(page.getByLabel('Sidecar URL')).toHaveValue(harness.sidecarUrl);
    const result = await saveAndTest(page);
    await expect(result).toHaveAttribute('data-status', 'error');
    await expect(result).toContainText(
      'The sidecar refused the request (401 unauthorized): missing or wrong credentials (Authorization: Bearer <token>)'
    );
    await expect(result).toContainText('Check the bearer token in the data source settings.');
    await shot('config-save-and-test-401');
  });

  test('Save & test against a stopped sidecar: a clear connection failure', async ({
    openHost,
    page,
    request,
    hostSet,
    shot,
  }) => {
    const uid = `config-stopped-${hostSet}`;
    await addDataSource(request, uid);
    await openHost({ view: 'config', ds: uid });
    await page.getByLabel('Sidecar URL').fill(harness.stoppedSidecarUrl);
    const result = await saveAndTest(page);
    await expect(result).toHaveAttribute('data-status', 'error');
    await expect(result).toContainText(
      'Grafana could not reach the sidecar (502 Bad Gateway). Check that the sidecar is running and that the data source URL points at it.'
    );
    await shot('config-save-and-test-stopped');
  });

  test('a URL with a path is flagged before saving', async ({ openHost, page, request, hostSet }) => {
    const uid = `config-bad-url-${hostSet}`;
    await addDataSource(request, uid);
    await openHost({ view: 'config', ds: uid });
    await page.getByLabel('Sidecar URL').fill(`${harness.sidecarUrl}/api/v1`);
    await expect(page.getByText('Give the sidecar base URL without a path')).toBeVisible();
  });
});
