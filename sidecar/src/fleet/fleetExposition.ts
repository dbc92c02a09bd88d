// Each simulated host's /metrics, rendered by the sidecar's own SidecarMetrics from the host's snapshot at
// the time of the request, and the Prometheus HTTP SD list of the hosts. Rendering is lazy: a host costs
// nothing until scraped, and a rendering is reused for `cacheMs` (a scrape and its retry, or two
// Prometheus replicas, share one).
import { SidecarMetrics } from '../api/metrics.js';
import { CapacityTracker } from '../capacity/tracker.js';
import { hashUnit } from '../sim/util.js';
import type { FleetHost } from './fleetModel.js';
import { BUSY_THRESHOLD, hostCollectors, hostSnapshotAt, prepareHost, type PreparedHost } from './hostSnapshot.js';

/** The sidecar's defaults, but idle-held at once (see render). */
const FLEET_CAPACITY = { idleHeldAfterMs: 0, idleUtilization: 0.05, unavailableAfterXidMs: 600_000 };

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface FleetExpositionOptions {
  /** Scenario time 0 (ms since the Unix epoch). */
  epochMs: number;
  cacheMs: number;
  version: string;
  /** Per-family cap, as the sidecar's --max-series. */
  maxSeries: number;
  now?: () => number;
}

interface Cached {
  at: number;
  text: Promise<string>;
}

export class FleetExposition {
  private readonly prepared = new Map<string, PreparedHost>();
  private readonly byName = new Map<string, FleetHost[]>();
  private readonly cache = new Map<string, Cached>();
  /** One SidecarMetrics per host, kept between scrapes as a real sidecar keeps its registry. */
  private readonly registries = new Map<string, SidecarMetrics>();
  private lastSweep = 0;
  readonly contentType: string;
  /** Renderings done (cache misses), for the bench. */
  renders = 0;

  constructor(
    readonly hosts: readonly FleetHost[],
    private readonly opts: FleetExpositionOptions,
  ) {
    for (const h of hosts) {
      this.prepared.set(h.key, prepareHost(h));
      const same = this.byName.get(h.name) ?? [];
      same.push(h);
      this.byName.set(h.name, same);
    }
    this.contentType = new SidecarMetrics({ maxSeries: 1, defaultMetrics: false }).contentType;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** The host a request names: by name, and by cluster where two hosts share the name. */
  find(name: string, cluster: string | null): { host: FleetHost } | { error: string } {
    const same = this.byName.get(name);
    if (!same) return { error: `no host "${name}" in this fleet` };
    if (same.length === 1 && (cluster === null || same[0]?.cluster === cluster)) return { host: same[0] as FleetHost };
    const match = same.find((h) => h.cluster === cluster);
    if (match) return { host: match };
    return { error: `host "${name}" is in clusters ${same.map((h) => h.cluster).join(', ')}: add ?cluster=NAME` };
  }

  /** The host's exposition now (from the cache when rendered less than cacheMs ago). */
  metrics(host: FleetHost): Promise<string> {
    const now = this.now();
    this.sweep(now);
    const hit = this.cache.get(host.key);
    if (hit && now - hit.at < this.opts.cacheMs) return hit.text;
    const text = Promise.resolve().then(() => this.render(host, now));
    this.cache.set(host.key, { at: now, text });
    text.catch(() => this.cache.delete(host.key));
    return text;
  }

  /** Renders one host at wall-clock time nowMs, uncached. */
  render(host: FleetHost, nowMs: number): Promise<string> {
    this.renders++;
    const p = this.prepared.get(host.key) as PreparedHost;
    const t = Math.max(0, (nowMs - this.opts.epochMs) / 1000);
    const snap = hostSnapshotAt(p, t, this.opts.epochMs);
    let m = this.registries.get(host.key);
    if (!m) {
      m = new SidecarMetrics({ maxSeries: this.opts.maxSeries, host: host.name, version: this.opts.version, defaultMetrics: false });
      this.registries.set(host.key, m);
    }
    // A simulated host's idle engines have been idle since the scenario began: idle-held at once, no timer to
    // carry between renderings. No energy families: a rendering has no previous reading to integrate from.
    const capacity = new CapacityTracker(FLEET_CAPACITY, { wallMs: () => nowMs, monoMs: () => nowMs }).update({ snap, lost: [], busyThreshold: BUSY_THRESHOLD });
    m.update(snap, [], { capacity });
    for (const c of hostCollectors(p)) {
      // A collector run takes tens of milliseconds on a real host; the number only has to look alive.
      m.recordCollector(c, true, 0.02 + 0.08 * hashUnit('fleet-collector', host.key, c, Math.floor(t)), undefined, nowMs);
    }
    return m.refresh(); // after the collectors: render() would hand back the rendering update() started
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 5 * this.opts.cacheMs) return;
    this.lastSweep = now;
    for (const [k, v] of this.cache) if (now - v.at >= this.opts.cacheMs) this.cache.delete(k);
  }

  /**
   * One target group per host, as an operator's relabeling would label it: `instance` the host name, `cluster`
   * and `rack` its placement. `address` is where Prometheus reaches this process (the Host of its SD request).
   */
  sd(address: string): TargetGroup[] {
    return this.hosts.map((h) => {
      const shared = (this.byName.get(h.name)?.length ?? 0) > 1;
      return {
        targets: [address],
        labels: {
          __metrics_path__: `/hosts/${encodeURIComponent(h.name)}/metrics`,
          ...(shared ? { __param_cluster: h.cluster } : {}),
          instance: h.name,
          cluster: h.cluster,
          rack: h.rack,
        },
      };
    });
  }
}
