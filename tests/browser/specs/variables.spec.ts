import { DEMO_UID, expect, sidecar, test } from './fixtures';

test.describe('template variables and query errors', () => {
  test('the gpus variable, applied to a GPUs query, narrows it to the chosen GPUs', async ({
    openHost,
    page,
    shot,
  }) => {
    const queries: any[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/sidecar/api/v1/query')) {
        queries.push(r.postDataJSON());
      }
    });
    await openHost({ view: 'dashboard', ds: DEMO_UID, kind: 'gpus' });
    const panelState = page.getByTestId('panel-state');
    await expect(panelState).toHaveAttribute('data-frames', 'gpus');
    const uuidCells = page.getByTestId('table-view').locator('td[data-field="uuid"]');
    await expect(uuidCells).toHaveCount(8);

    // Variable "gpu": values of GPUs, from the plugin's variable editor.
    const variable = page.getByTestId('variable-section');
    await variable.getByRole('radio', { name: 'GPUs' }).click();
    await variable.getByRole('button', { name: 'Run variable query' }).click();
    const expected = await sidecar('/api/v1/variables/gpus');
    const picker = page.getByLabel('Variable gpu');
    await expect(picker.locator('option')).toHaveText(expected.values.map((v: any) => v.text));

    // $gpu in the query's GPU filter; nothing picked yet → no filter, all GPUs.
    const gpuFilter = page.getByTestId('query-section').getByLabel('GPU filter');
    await gpuFilter.fill('$gpu');
    await gpuFilter.blur();
    await expect(uuidCells).toHaveCount(8);

    const gpu3 = expected.values.find((v: any) => v.text.startsWith('GPU 3 '));
    await picker.selectOption([gpu3.value]);
    await expect(uuidCells).toHaveCount(1);
    await expect(uuidCells).toHaveText([gpu3.value]);
    expect(queries.at(-1).queries[0]).toMatchObject({ kind: 'gpus', filters: { gpu: gpu3.value } });
    await shot('variable-gpu3');

    // Two GPUs picked → the filter goes out as a list, two rows come back.
    const two = expected.values.filter((v: any) => /^GPU [12] /.test(v.text)).map((v: any) => v.value);
    await picker.selectOption(two);
    await expect(uuidCells).toHaveText(two);
    expect(queries.at(-1).queries[0].filters.gpu).toEqual(two);
  });

  test("a query the sidecar rejects shows the sidecar's reason in the panel", async ({ openHost, page }) => {
    await openHost({ view: 'dashboard', ds: DEMO_UID, kind: 'gpus' });
    await expect(page.getByTestId('panel-state')).toHaveAttribute('data-frames', 'gpus');
    // The "GPU" kind needs one GPU; without it the sidecar answers 400 naming the field.
    await page.getByTestId('query-section').getByRole('radio', { name: 'GPU', exact: true }).click();
    const error = page.getByTestId('panel-section').getByRole('alert').first();
    await expect(error).toContainText('The sidecar rejected the query:');
    await expect(error).toContainText('filters.gpu');
  });
});
