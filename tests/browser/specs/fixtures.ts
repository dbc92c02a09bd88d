import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Page, expect, test as base } from '@playwright/test';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = join(HERE, '../../artifacts/browser');
export const DEMO_UID = 'gpufleet-demo';
/** The demo's simulation time, pinned for every test (see sidecars.mjs). */
export const PINNED = { t: 60 };

function env(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the specs through playwright.config.ts (its global setup sets it)`);
  }
  return v;
}

export const harness = {
  get url() {
    return env('GPUFLEET_BROWSER_URL');
  },
  get sidecarUrl() {
    return env('GPUFLEET_BROWSER_SIDECAR_URL');
  },
  get token() {
    return env('GPUFLEET_BROWSER_SIDECAR_TOKEN');
  },
  get stoppedSidecarUrl() {
    return env('GPUFLEET_BROWSER_STOPPED_SIDECAR_URL');
  },
  get prometheusUrl() {
    return env('GPUFLEET_BROWSER_PROMETHEUS_URL');
  },
  get fleetHosts() {
    return Number(env('GPUFLEET_BROWSER_FLEET_HOSTS'));
  },
};

/** GET a sidecar route directly, with the token: what the tests compare the page against. */
export async function sidecar<T = any>(path: string): Promise<T> {
  const res = await fetch(`${harness.sidecarUrl}${path}`, { headers: { authorization: `Bearer ${harness.token}` } });
  if (!res.ok) {
    throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  }
  return (await res.json()) as T;
}

/** An instant query straight to the test Prometheus: what the tests compare the page against. */
export async function prometheus(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${harness.prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await res.json();
  if (body.status !== 'success') {
    throw new Error(`${expr}: ${body.error}`);
  }
  return body.data.result;
}

/** Writes the simulator's control file whole (tmp + rename), as its README asks. */
export function control(value: Record<string, unknown>) {
  const file = env('GPUFLEET_BROWSER_CONTROL_FILE');
  writeFileSync(`${file}.tmp`, JSON.stringify(value));
  renameSync(`${file}.tmp`, file);
}

export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface WorkerFixtures {
  /**
   * One host page per worker (so per package set), loaded once with the plugin modules, as a Grafana
   * tab is: each test then moves to its page with gpufleetHost.show(), which mounts that page's
   * components fresh (like Grafana's navigation, without a reload). Loading the multi-MiB host bundle
   * once instead of per test saves most of the suite's time on 2 cores.
   */
  hostPage: Page;
}

interface HostFixtures {
  /** The project name is the host package set (grafana12 / grafana13). */
  hostSet: string;
  /** Shows the host page for these parameters (view, ds, kind) and waits until it is mounted. */
  openHost: (params: Record<string, string>) => Promise<Page>;
  /** Full-page screenshot to tests/artifacts/browser/<set>/<name>.png. */
  shot: (name: string) => Promise<void>;
}

export const test = base.extend<HostFixtures, WorkerFixtures>({
  hostPage: [
    async ({ browser }, use, workerInfo) => {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
      const page = await context.newPage();
      await page.goto(`${harness.url}/?set=${workerInfo.project.name}&view=blank`);
      await page.waitForFunction(() => document.body.dataset.hostReady || document.body.dataset.hostError, null, {
        timeout: 60_000,
      });
      const failed = await page.evaluate(() => document.body.dataset.hostError);
      if (failed) {
        throw new Error(`the host page could not load the plugin: ${failed}`);
      }
      await use(page);
      await context.close();
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  page: async ({ hostPage }, use, testInfo) => {
    await use(hostPage);
    if (testInfo.status !== testInfo.expectedStatus) {
      mkdirSync(testInfo.outputDir, { recursive: true });
      await hostPage.screenshot({ path: join(testInfo.outputDir, 'failed.png'), fullPage: true }).catch(() => {});
    }
    // Listeners a test added end with it.
    hostPage.removeAllListeners('request');
  },
  hostSet: async ({}, use, testInfo) => {
    await use(testInfo.project.name);
  },
  openHost: async ({ page }, use) => {
    const errors: string[] = [];
    const onError = (e: Error) => errors.push(e.message);
    page.on('pageerror', onError);
    await use(async (params) => {
      const view = await page.evaluate((p) => (window as any).gpufleetHost.show(p), params);
      expect(await page.evaluate(() => document.body.dataset.hostView)).toBe(view);
      return page;
    });
    page.off('pageerror', onError);
    // An uncaught exception in the page is a failure even when the assertions passed.
    expect(errors, 'uncaught errors in the page').toEqual([]);
  },
  shot: async ({ page, hostSet }, use) => {
    await use(async (name) => {
      const dir = join(ARTIFACTS, hostSet);
      mkdirSync(dir, { recursive: true });
      // The pointer off the page: no hover tooltip over what the screenshot is about.
      await page.mouse.move(1, 1);
      await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
    });
  },
});

export { expect };
