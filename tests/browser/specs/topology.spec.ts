import type { Page } from '@playwright/test';

import { DEMO_UID, expect, sidecar, test } from './fixtures';

interface ApiNode {
  id: string;
  kind: string;
  title: string;
  detail: Record<string, unknown>;
}
interface ApiTopology {
  nodes: ApiNode[];
  edges: Array<{ id: string; source: string; target: string }>;
}

/** The dashboard with query A switched to "Topology" in the query editor, as a user does it. */
async function openTopology(openHost: (p: Record<string, string>) => Promise<Page>) {
  const page = await openHost({ view: 'dashboard', ds: DEMO_UID, kind: 'gpus' });
  const panelState = page.getByTestId('panel-state');
  await expect(panelState).toHaveAttribute('data-frames', 'gpus');
  await page.getByTestId('query-section').getByRole('radio', { name: 'Topology' }).click();
  await expect(panelState).toHaveAttribute('data-frames', 'nodes,edges');
  await expect(page.getByTestId('gpufleet-topology')).toBeVisible();
  return page;
}

/** "engine · rank N · on instance" for every rank running on this GPU or one of its instances, from the API's edges. */
function enginesOnGpu(topo: ApiTopology, gpuId: string): string[] {
  const node = new Map(topo.nodes.map((n) => [n.id, n]));
  const targets = new Set([gpuId, ...topo.edges.filter((e) => e.source === gpuId).map((e) => e.target)]);
  const out: string[] = [];
  for (const e of topo.edges) {
    const target = node.get(e.target)!;
    const source = node.get(e.source)!;
    if (!targets.has(e.target) || source.id === gpuId) {
      continue;
    }
    const on = target.kind === 'gpu' ? '' : ` · on ${target.title}`;
    if (source.kind === 'engine') {
      out.push(`${source.title}${on}`);
    } else if (source.kind === 'worker') {
      for (const up of topo.edges.filter((x) => x.target === source.id)) {
        out.push(`${node.get(up.source)!.title} · rank ${source.detail.rank}${on}`);
      }
    }
  }
  return out.sort();
}

async function expectEnginesInDrillDown(drill: ReturnType<Page['getByRole']>, expected: string[]) {
  const region = drill.getByRole('region', { name: 'Engines on this GPU' });
  await expect(region.getByRole('heading')).toHaveText(`Engines on this GPU (${expected.length})`);
  if (expected.length === 0) {
    await expect(region).toContainText('No engine runs here.');
  } else {
    const items = await region.getByRole('listitem').allTextContents();
    expect(items.sort()).toEqual(expected);
  }
}

const ids = async (page: Page, testId: string) =>
  page.getByTestId(testId).evaluateAll((els) => els.map((e) => e.getAttribute('data-node-id')!));

test.describe('topology panel with a real topology query', () => {
  test('draws every GPU, MIG and vGPU instance, engine and edge of /api/v1/topology', async ({ openHost, shot }) => {
    const page = await openTopology(openHost);
    const topo = await sidecar<ApiTopology>('/api/v1/topology');
    const byKind = (k: string) => topo.nodes.filter((n) => n.kind === k);
    const kindOf = new Map(topo.nodes.map((n) => [n.id, n.kind]));
    expect(byKind('gpu')).toHaveLength(8);

    // GPU rows: the same GPUs, in index order, with the sidecar's titles.
    expect(await ids(page, 'gpufleet-gpu')).toEqual(byKind('gpu').map((n) => n.id));
    const rowTitles = await page
      .getByTestId('gpufleet-gpu')
      .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
    expect(rowTitles).toEqual(byKind('gpu').map((n) => `gpu ${n.title}`));

    // Instances: chips drawn in their GPU row, plus the "+N" of a row without room for all.
    const migChips = await ids(page, 'gpufleet-mig');
    const vgpuChips = await ids(page, 'gpufleet-vgpu');
    const more = await page
      .getByRole('button', { name: /more instances of/ })
      .evaluateAll((els) => els.reduce((n, e) => n + Number(e.textContent!.slice(1)), 0));
    expect(new Set(migChips).size).toBe(migChips.length);
    for (const id of migChips) {
      expect(kindOf.get(id)).toBe('mig');
    }
    for (const id of vgpuChips) {
      expect(kindOf.get(id)).toBe('vgpu');
    }
    expect(migChips.length + vgpuChips.length + more).toBe(byKind('mig').length + byKind('vgpu').length);
    expect(byKind('mig').length).toBeGreaterThan(0);
    expect(byKind('vgpu').length).toBeGreaterThan(0);

    // Engines and ranks, and the lines between columns: every edge but GPU → instance containment
    // (drawn as chips inside the row, not as lines).
    expect(await ids(page, 'gpufleet-engine')).toHaveLength(byKind('engine').length);
    expect(await ids(page, 'gpufleet-worker')).toHaveLength(byKind('worker').length);
    const lines = topo.edges.filter(
      (e) => !(kindOf.get(e.source) === 'gpu' && ['mig', 'vgpu'].includes(kindOf.get(e.target) ?? ''))
    );
    await expect(page.getByTestId('gpufleet-edge')).toHaveCount(lines.length);

    const instances = byKind('mig').length + byKind('vgpu').length;
    await expect(page.getByTestId('gpufleet-topology')).toContainText(
      `${byKind('engine').length} engines · ${byKind('worker').length} ranks · 8 GPUs · ${instances} instances`
    );
    await expect(page.getByLabel('Legend')).toContainText('Load');
    await shot('topology-demo');
  });

  test('each GPU row carries the capacity chip of /api/v1/capacity (a single host, no Prometheus)', async ({ openHost }) => {
    const cap = await sidecar<{ gpus: Array<{ uuid: string; state: string }> }>('/api/v1/capacity');
    const page = await openTopology(openHost);
    const after = await sidecar<{ gpus: Array<{ uuid: string; state: string }> }>('/api/v1/capacity');
    const chips = await page
      .getByTestId('gpufleet-gpu')
      .evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-node-id'), e.querySelector('[data-testid="gpufleet-capacity"]')?.textContent ?? null])
      );
    // The panel's query ran between the two reads: each chip is the state of one of them (a tick may flip one).
    const states = (c: typeof cap, uuid: string) => c.gpus.find((g) => g.uuid === uuid)?.state;
    expect(chips).toHaveLength(8);
    for (const [id, chip] of chips) {
      const uuid = String(id).replace(/^gpu:/, '');
      expect({ id, chip }).toEqual({ id, chip: chip === states(after, uuid) ? states(after, uuid) : states(cap, uuid) });
    }
    expect(chips.some(([, chip]) => chip === 'busy')).toBe(true);
  });

  test('a GPU tooltip shows the figures of /api/v1/gpus', async ({ openHost }) => {
    const page = await openTopology(openHost);
    const { gpus } = await sidecar('/api/v1/gpus');
    const g0 = gpus.find((g: any) => g.index === 0);
    await page.getByRole('button', { name: 'gpu GPU 0', exact: true }).hover();
    const tip = page.getByRole('tooltip');
    await expect(tip).toBeVisible();
    await expect(tip.locator('tr', { hasText: 'Utilization' })).toContainText(`${Math.round(g0.utilization.gpu)}%`);
    await expect(tip.locator('tr', { hasText: 'Temperature' })).toContainText(`${g0.temperatureC} °C`);
  });

  test('click GPU 3 → the drill-down lists its VMs with their vGPU types', async ({ openHost, shot }) => {
    const page = await openTopology(openHost);
    const { gpus } = await sidecar('/api/v1/gpus');
    const g3 = gpus.find((g: any) => g.index === 3);
    expect(g3.vgpu.instances.length).toBeGreaterThan(0);

    await page.getByRole('button', { name: 'gpu GPU 3', exact: true }).click();
    const drill = page.getByRole('dialog', { name: 'GPU GPU 3 details' });
    await expect(drill).toBeVisible();
    const rows = drill.getByTestId('gpufleet-drill-vgpu');
    await expect(rows).toHaveCount(g3.vgpu.instances.length);
    const cells = await rows.evaluateAll((trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? ''))
    );
    g3.vgpu.instances.forEach((v: any, i: number) => {
      expect(cells[i][0]).toBe(v.type);
      expect(cells[i][1]).toBe(`${v.vmName}VM id ${v.vmId}`);
      expect(cells[i][4]).toBe(
        `${v.active ? 'active' : v.active === false ? 'inactive' : 'active ?'}${
          v.licensed ? 'licensed' : v.licensed === false ? 'unlicensed' : 'licence ?'
        }`
      );
    });
    await expect(drill.getByText('No MIG instances.')).toBeVisible();
    // The table fits the pane and the pane the panel (at 1400 px the State column used to run past the
    // panel's right edge): no horizontal scrolling, every State cell inside.
    const panelBox = (await page.getByTestId('gpufleet-topology').boundingBox())!;
    const drillBox = (await drill.boundingBox())!;
    expect(drillBox.x + drillBox.width).toBeLessThanOrEqual(panelBox.x + panelBox.width + 0.5);
    expect(await drill.evaluate((el) => el.scrollWidth - el.clientWidth)).toBe(0);
    for (const box of await rows.evaluateAll((trs) =>
      trs.map((tr) => tr.querySelectorAll('td')[4].getBoundingClientRect().right)
    )) {
      expect(box).toBeLessThanOrEqual(drillBox.x + drillBox.width + 0.5);
    }
    const topo = await sidecar<ApiTopology>('/api/v1/topology');
    await expectEnginesInDrillDown(drill, enginesOnGpu(topo, `gpu:${g3.uuid}`));
    await shot('drilldown-gpu3-vgpu');
  });

  test('click GPU 1 and GPU 2 → the drill-down lists their MIG profiles', async ({ openHost, shot }) => {
    const page = await openTopology(openHost);
    const { gpus } = await sidecar('/api/v1/gpus');
    const topo = await sidecar<ApiTopology>('/api/v1/topology');
    for (const index of [1, 2]) {
      const g = gpus.find((x: any) => x.index === index);
      expect(g.mig.mode).toBe('enabled');
      await page.getByRole('button', { name: `gpu GPU ${index}`, exact: true }).click();
      const drill = page.getByRole('dialog', { name: `GPU GPU ${index} details` });
      await expect(drill).toBeVisible();
      const rows = drill.getByTestId('gpufleet-drill-mig');
      await expect(rows).toHaveCount(g.mig.instances.length);
      const cells = await rows.evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? ''))
      );
      expect(cells.map((c) => c[0])).toEqual(g.mig.instances.map((m: any) => m.profile));
      expect(cells.map((c) => c[1])).toEqual(
        g.mig.instances.map((m: any) => `${m.gpuInstanceId} / ${m.computeInstanceId}`)
      );
      await expect(drill.getByText('No vGPU instances.')).toBeVisible();
      // The engines whose ranks run on this GPU's MIG instances (the demo runs one per instance of GPU 1).
      await expectEnginesInDrillDown(drill, enginesOnGpu(topo, `gpu:${g.uuid}`));
      await shot(`drilldown-gpu${index}-mig`);
      await drill.getByRole('button', { name: 'Close GPU details' }).click();
      await expect(drill).toBeHidden();
    }
  });

  test('data links: the GPU drill-down and a clicked engine link to their dashboards with the node in the variables', async ({
    openHost,
    shot,
  }) => {
    const page = await openTopology(openHost);
    const { host, gpus } = await sidecar('/api/v1/gpus');
    const { engines } = await sidecar('/api/v1/engines');
    expect(engines.length).toBeGreaterThan(0);
    // The dashboard's own time range rides along (Grafana's ${__url_time_range}; the page's is now-1h … now).
    const params = (href: string | null) => new URL(href!, 'http://grafana.local').searchParams;

    // GPU 1 (MIG) and GPU 3 (vGPU): "Open GPU dashboard" carries this GPU's UUID and the sidecar's host.
    for (const index of [1, 3]) {
      const g = gpus.find((x: any) => x.index === index);
      await page.getByRole('button', { name: `gpu GPU ${index}`, exact: true }).click();
      const drill = page.getByRole('dialog', { name: `GPU GPU ${index} details` });
      const link = drill.getByRole('link', { name: 'Open GPU dashboard' });
      await expect(link).toBeVisible();
      const href = await link.getAttribute('href');
      expect(new URL(href!, 'http://grafana.local').pathname).toBe('/d/gpufleet-gpu/gpu-detail');
      expect(Object.fromEntries(params(href))).toEqual({
        'var-host': host,
        'var-gpu': g.uuid,
        from: 'now-1h',
        to: 'now',
      });
      await drill.getByRole('button', { name: 'Close GPU details' }).click();
      await expect(drill).toBeHidden();
    }

    // Every engine drawn (each one of /api/v1/engines): a click pins its card (the next click moves it),
    // whose "Open engine dashboard" carries the engine's id (the engine_id label).
    const card = page.getByRole('dialog', { name: /^Engine / });
    const drawn = await ids(page, 'gpufleet-engine');
    expect(drawn.length).toBeGreaterThan(0);
    for (const nodeId of drawn) {
      const id = nodeId.slice('engine:'.length);
      expect(engines.map((e: any) => e.id)).toContain(id);
      const node = page.locator(`[data-testid="gpufleet-engine"][data-node-id="${nodeId}"]`);
      await node.click();
      const title = (await node.getAttribute('aria-label'))!.slice('engine '.length);
      await expect(card).toHaveAccessibleName(`Engine ${title}`);
      const href = await card.getByRole('link', { name: 'Open engine dashboard' }).getAttribute('href');
      expect(new URL(href!, 'http://grafana.local').pathname).toBe('/d/gpufleet-engine/engine-detail');
      expect(Object.fromEntries(params(href))).toEqual({
        'var-host': host,
        'var-engine': id,
        from: 'now-1h',
        to: 'now',
      });
    }
    await card.press('Escape');
    await expect(card).toBeHidden();

    // A rank opens its engine's card; the drill-down of the GPU it runs on links the same engine.
    const withRank = engines.find(
      (e: any) => drawn.includes(`engine:${e.id}`) && e.workers.some((w: any) => w.gpuUuids.length > 0)
    );
    const rank = withRank.workers.find((w: any) => w.gpuUuids.length > 0);
    await page.locator(`[data-node-id="worker:${withRank.id}/${rank.rank}"]`).click();
    await expect(card).toHaveAccessibleName(`Engine ${withRank.model ?? withRank.id}`);
    expect(params(await card.getByRole('link').getAttribute('href')).get('var-engine')).toBe(withRank.id);
    await shot('engine-card-link');
    await card.press('Escape');
    await expect(card).toBeHidden();
    const onGpu = gpus.find((g: any) => g.uuid === rank.gpuUuids[0]);
    await page.getByRole('button', { name: `gpu GPU ${onGpu.index}`, exact: true }).click();
    const engineLinks = page
      .getByRole('dialog', { name: `GPU GPU ${onGpu.index} details` })
      .getByRole('region', { name: 'Engines on this GPU' })
      .getByRole('link', { name: withRank.model ?? withRank.id });
    await expect(engineLinks.first()).toBeVisible();
    const hrefs = await engineLinks.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(hrefs.map((h) => params(h).get('var-engine'))).toContain(withRank.id);
  });

  test("the topology frames carry the field names Grafana's Node Graph panel reads", async ({ openHost, page }) => {
    // The stock Node Graph panel is part of Grafana's own source (public/app/plugins/panel/nodeGraph)
    // and is not published to npm, so it cannot be mounted here. What can be checked outside Grafana:
    // the frames from the data source use the field names @grafana/data exports for it
    // (NodeGraphDataFrameFieldNames; the panel matches them case-insensitively) and ask for it.
    await openHost({ view: 'bench', ds: DEMO_UID });
    const { names, frames } = await page.evaluate(async (uid) => {
      const h = (window as any).gpufleetHost;
      return { names: h.nodeGraphFieldNames() as string[], frames: await h.topologyFrames(uid) };
    }, DEMO_UID);
    const nodes = frames.find((f: any) => f.name === 'nodes');
    const edges = frames.find((f: any) => f.name === 'edges');
    const lower = (xs: string[]) => xs.map((x) => x.toLowerCase());
    for (const f of ['id', 'title', 'subtitle', 'mainstat', 'secondarystat', 'color']) {
      expect(lower(names)).toContain(f);
      expect(lower(nodes.fields)).toContain(f);
    }
    expect(nodes.fields.some((f: string) => f.startsWith('arc__'))).toBe(true);
    expect(nodes.fields.some((f: string) => f.startsWith('detail__'))).toBe(true);
    expect(edges.fields).toEqual(expect.arrayContaining(['id', 'source', 'target']));
    expect(nodes.preferredVisualisationType).toBe('nodeGraph');
    expect(edges.preferredVisualisationType).toBe('nodeGraph');
    const topo = await sidecar<ApiTopology>('/api/v1/topology');
    expect(nodes.length).toBe(topo.nodes.length);
    expect(edges.length).toBe(topo.edges.length);
  });
});
