import { DEMO_UID, PINNED, control, expect, sidecar, test, waitUntil } from './fixtures';

test('an annotation query returns the gpu-lost / gpu-back events of a GPU that fell off the bus', async ({
  openHost,
  page,
  shot,
}) => {
  const since = Date.now();
  const eventsSince = async (kind: string) =>
    (await sidecar(`/api/v1/events?from=${since}&kind=${kind}`)).events as any[];
  // GPU 7 falls off the bus (simulator control file), then comes back.
  try {
    control({ ...PINNED, lostGpus: [7] });
    await waitUntil('a gpu-lost event', async () => (await eventsSince('gpu-lost')).length > 0);
  } finally {
    control(PINNED);
  }
  await waitUntil('a gpu-back event', async () => (await eventsSince('gpu-back')).length > 0);
  await waitUntil('all 8 GPUs back', async () => (await sidecar('/api/v1/gpus')).gpus.length === 8);

  await openHost({ view: 'dashboard', ds: DEMO_UID, kind: 'gpus' });
  const section = page.getByTestId('annotations-section');
  await section.getByRole('checkbox', { name: 'gpu-lost' }).check({ force: true });
  await section.getByRole('checkbox', { name: 'gpu-back' }).check({ force: true });
  await section.getByRole('button', { name: 'Run annotation query' }).click();
  const items = section.getByTestId('annotation-event');
  await expect(section.getByTestId('annotation-events')).toBeVisible();

  // The same events the sidecar lists for the last hour (earlier runs' included), no others.
  const hourAgo = Date.now() - 3_600_000;
  const api = (await sidecar(`/api/v1/events?from=${hourAgo}`)).events.filter((e: any) =>
    ['gpu-lost', 'gpu-back'].includes(e.kind)
  );
  await expect(items).toHaveCount(api.length);
  await expect(items).toHaveText(
    api.map((e: any) => `${e.kind} · ${e.subject} — ${e.text} (${e.host}) [gpufleet, ${e.kind}, ${e.host}]`)
  );
  const times = await items.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-time'))));
  expect(times).toEqual(api.map((e: any) => Date.parse(e.time)));
  await expect(items.filter({ hasText: 'is no longer reported by nvidia-smi' }).first()).toBeVisible();
  await expect(items.filter({ hasText: 'is back' }).first()).toBeVisible();
  await shot('annotations-gpu-lost-back');
});
