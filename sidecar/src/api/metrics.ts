// Prometheus exposition of the snapshot (the gpufleet_* families of ARCHITECTURE.md). A publication is
// kept and written into the families by the first scrape after it, which renders the text once; later
// scrapes write the kept string, so scrapes cost the same at 1 or 1,000 per second. The gpufleet families
// are written by exposition.ts (label text built once per series, no label objects); prom-client only
// supplies its process_* and nodejs_* defaults. Label values are sanitised and each family is capped at
// maxSeries so hostile names or a huge host cannot blow up Prometheus.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { GPU_CAPACITY_STATES, type CapacityAnswer } from '../capacity/types.js';
import type { EnergyReading } from '../energy/energyMeter.js';
import type { Gpu, Snapshot, SourceName } from '../model.js';
import type { LostGpu } from '../store/store.js';
import { Family, labelValue, renderFamilies, type FamilyType } from './exposition.js';

export { sanitizeLabel } from './exposition.js';

/** The sampling period of prom-client's event-loop delay histogram. */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * Compute processes on a GPU and its MIG instances (a pid listed on both counts once); graphics-only ones
 * (a display server) do not make a GPU busy. An unknown type counts: older drivers do not report it.
 */
export function computeProcessCount(g: Gpu): number {
  const pids = new Set<number>();
  const add = (p: { pid: number; type: string | null }) => {
    if (p.type === null || p.type.includes('C')) pids.add(p.pid);
  };
  for (const p of g.processes) add(p);
  for (const m of g.mig.instances) for (const p of m.processes) add(p);
  return pids.size;
}

interface PendingUpdate {
  snap: Snapshot;
  lost: LostGpu[];
  derived: { capacity?: CapacityAnswer | null; energy?: EnergyReading | null };
}

export class SidecarMetrics {
  /** prom-client's default process_* and nodejs_* metrics only. */
  private readonly registry = new Registry();
  private readonly defaultMetrics: boolean;
  private readonly maxSeries: number;
  /** Every family, in the order of the text. */
  private readonly all: Family[] = [];
  /** The families rewritten from each publication. */
  private readonly families: Family[] = [];
  private readonly setCounts = new Map<Family, number>();

  /** Escaped label values. */
  private readonly host: string;
  private readonly version: string;
  private readonly hostInfo;
  private readonly gpuInfo;
  private readonly gpuProcesses;
  private readonly gpuUtil;
  private readonly gpuMemUsed;
  private readonly gpuMemTotal;
  private readonly gpuTemp;
  private readonly gpuPower;
  private readonly gpuPowerLimit;
  private readonly gpuLost;
  private readonly migInfo;
  private readonly migMemUsed;
  private readonly migMemTotal;
  private readonly vgpuInfo;
  private readonly vgpuUtil;
  private readonly vgpuFbUsed;
  private readonly vgpuFbTotal;
  private readonly vgpuActive;
  private readonly engineInfo;
  private readonly engineUp;
  private readonly engineGpu;
  private readonly engineMig;
  private readonly engineKv;
  private readonly engineRunning;
  private readonly engineWaiting;
  private readonly engineBusy;
  private readonly engineGenTps;
  private readonly enginePromptTps;
  private readonly rankKv;
  private readonly rankRunning;
  private readonly rankWaiting;
  private readonly rankBusy;
  private readonly collectorDuration;
  private readonly collectorUp;
  private readonly collectorLastSuccess;
  private readonly collectorErrors;
  private readonly xidErrors;
  private readonly xidSeries = new Set<string>();
  private readonly droppedSeries;
  private readonly capacityState;
  private readonly capacitySince;
  private readonly migProfileInstances;
  private readonly migProfileCreatable;
  private readonly modelEngines;
  private readonly modelEnginesBusy;
  private readonly gpuEnergy;
  private readonly engineEnergy;
  private readonly enginePowerShare;
  private readonly duplicateUuids;
  /** The text scrapes get: rendered by refresh() at the first scrape after an update. */
  private cached: string | null = null;
  /** The last update not yet written into the families. */
  private pending: PendingUpdate | null = null;
  private rendering: Promise<string> | null = null;

  /**
   * `host` names this sidecar's host on the collector families and on gpufleet_host_info before the first
   * snapshot; `version` is the sidecar's own, on gpufleet_host_info.
   */
  constructor(opts: { maxSeries: number; host?: string; version?: string; defaultMetrics?: boolean }) {
    this.maxSeries = opts.maxSeries;
    this.host = labelValue(opts.host ?? '');
    this.version = labelValue(opts.version ?? '');
    const family = (name: string, help: string, type: FamilyType, labelNames: readonly string[], perPublication: boolean) => {
      const f = new Family(name, help, type, labelNames);
      this.all.push(f);
      if (perPublication) this.families.push(f);
      return f;
    };
    const gauge = (name: string, help: string, labelNames: readonly string[]) => family(name, help, 'gauge', labelNames, true);
    const counter = (name: string, help: string, labelNames: readonly string[]) => family(name, help, 'counter', labelNames, false);
    this.hostInfo = gauge('gpufleet_host_info', 'A host with a gpufleet sidecar (value 1, also with no GPU): the hosts of a fleet', [
      'host', 'version', 'driver_version', 'cuda_version',
    ]);
    const gpu = ['host', 'gpu_uuid', 'gpu_index'] as const;
    this.gpuInfo = gauge('gpufleet_gpu_info', 'A physical GPU (value 1); labels carry its name and MIG/vGPU modes', [
      'host', 'gpu_uuid', 'gpu_index', 'name', 'pci_bus_id', 'mig_mode', 'vgpu_mode',
    ]);
    this.gpuUtil = gauge('gpufleet_gpu_utilization_ratio', 'GPU utilization 0..1 (absent with MIG on: the driver reports N/A)', gpu);
    this.gpuMemUsed = gauge('gpufleet_gpu_memory_used_bytes', 'GPU framebuffer memory used', gpu);
    this.gpuMemTotal = gauge('gpufleet_gpu_memory_total_bytes', 'GPU framebuffer memory total', gpu);
    this.gpuTemp = gauge('gpufleet_gpu_temperature_celsius', 'GPU temperature', gpu);
    this.gpuPower = gauge('gpufleet_gpu_power_watts', 'GPU power draw', gpu);
    this.gpuPowerLimit = gauge('gpufleet_gpu_power_limit_watts', 'GPU enforced power limit', gpu);
    this.gpuProcesses = gauge('gpufleet_gpu_processes', 'Compute processes on the GPU, its MIG instances\' included (0: no process holds it)', gpu);
    this.gpuLost = gauge('gpufleet_gpu_lost', 'A GPU seen earlier that nvidia-smi no longer reports (value 1 until it is back)', [
      'host', 'gpu_uuid', 'gpu_index', 'name',
    ]);
    this.migInfo = gauge('gpufleet_mig_instance_info', 'A MIG instance (value 1)', ['host', 'gpu_uuid', 'mig_uuid', 'gi_id', 'ci_id', 'profile']);
    const mig = ['host', 'gpu_uuid', 'mig_uuid'] as const;
    this.migMemUsed = gauge('gpufleet_mig_memory_used_bytes', 'MIG instance memory used', mig);
    this.migMemTotal = gauge('gpufleet_mig_memory_total_bytes', 'MIG instance memory total', mig);
    this.vgpuInfo = gauge('gpufleet_vgpu_instance_info', 'A host-side vGPU instance attached to a VM (value 1)', [
      'host', 'gpu_uuid', 'vgpu_id', 'vgpu_uuid', 'vgpu_type', 'vm_id', 'vm_name',
    ]);
    const vgpu = ['host', 'gpu_uuid', 'vgpu_id'] as const;
    this.vgpuUtil = gauge('gpufleet_vgpu_utilization_ratio', 'vGPU instance GPU utilization 0..1', vgpu);
    this.vgpuFbUsed = gauge('gpufleet_vgpu_framebuffer_used_bytes', 'vGPU instance framebuffer used', vgpu);
    this.vgpuFbTotal = gauge('gpufleet_vgpu_framebuffer_total_bytes', 'vGPU instance framebuffer total', vgpu);
    this.vgpuActive = gauge('gpufleet_vgpu_active', 'vGPU instance attached to a running VM (1) or not (0)', vgpu);
    this.engineInfo = gauge('gpufleet_engine_info', 'An LLM engine found on this host (value 1)', [
      'host', 'engine_id', 'type', 'model', 'endpoint', 'deployment', 'version',
    ]);
    const eng = ['host', 'engine_id'] as const;
    this.engineUp = gauge('gpufleet_engine_up', 'Whether the engine answers /health (1) or not (0)', eng);
    // Two families, not one with an optional mig_uuid: Prometheus drops empty labels, so whole-GPU rows
    // would lack mig_uuid and a join on it would find duplicate series.
    this.engineGpu = gauge('gpufleet_engine_gpu', 'An engine rank on a physical GPU (value 1; a rank on a MIG instance: its parent GPU)', [
      'host', 'engine_id', 'rank', 'gpu_uuid',
    ]);
    this.engineMig = gauge('gpufleet_engine_mig', 'An engine rank on a MIG instance (value 1): join on (host, mig_uuid) with gpufleet_mig_instance_info', [
      'host', 'engine_id', 'rank', 'gpu_uuid', 'mig_uuid',
    ]);
    this.engineKv = gauge('gpufleet_engine_kv_cache_usage_ratio', 'KV-cache usage 0..1; with data-parallel ranks, the fullest rank\'s', eng);
    this.engineRunning = gauge('gpufleet_engine_requests_running', 'Requests being processed, all data-parallel ranks together', eng);
    this.engineWaiting = gauge('gpufleet_engine_requests_waiting', 'Requests waiting in the queue, all data-parallel ranks together', eng);
    this.engineBusy = gauge(
      'gpufleet_engine_busy',
      'Every data-parallel rank\'s KV-cache usage is above --busy-threshold (1) or not (0); one rank: its own (Dynamo\'s worker rule)',
      eng,
    );
    const rank = ['host', 'engine_id', 'rank'] as const;
    this.rankKv = gauge('gpufleet_engine_rank_kv_cache_usage_ratio', 'KV-cache usage 0..1 of one data-parallel rank (rank: the global DP rank)', rank);
    this.rankRunning = gauge('gpufleet_engine_rank_requests_running', 'Requests being processed by one data-parallel rank', rank);
    this.rankWaiting = gauge('gpufleet_engine_rank_requests_waiting', 'Requests waiting for one data-parallel rank', rank);
    this.rankBusy = gauge('gpufleet_engine_rank_busy', 'One data-parallel rank\'s KV-cache usage is above --busy-threshold (1) or not (0)', rank);
    this.engineGenTps = gauge('gpufleet_engine_generation_tokens_per_second', 'Generated tokens per second over the load window', eng);
    this.enginePromptTps = gauge('gpufleet_engine_prompt_tokens_per_second', 'Prompt tokens per second over the load window', eng);
    // Set as collectors run, not from a publication: kept between publications.
    const collector = ['host', 'collector'] as const;
    this.collectorDuration = family('gpufleet_collector_duration_seconds', 'Duration of the last run of each collector', 'gauge', collector, false);
    this.collectorUp = family('gpufleet_collector_up', 'Whether the last run of each collector succeeded (1) or failed (0)', 'gauge', collector, false);
    this.collectorLastSuccess = family('gpufleet_collector_last_success_timestamp_seconds', 'Unix time of the last successful run of each collector', 'gauge', collector, false);
    this.collectorErrors = counter('gpufleet_collector_errors_total', 'Failed collector runs by reason (timeout, spawn, exit, parse, too-large, http, other)', [
      'host', 'collector', 'reason',
    ]);
    this.xidErrors = counter('gpufleet_gpu_xid_errors_total', 'Xid errors the NVIDIA driver logged for each GPU since the sidecar started, by Xid code', [
      'host', 'gpu_uuid', 'gpu_index', 'xid',
    ]);
    this.duplicateUuids = counter('gpufleet_gpu_duplicate_uuid_total',
      'GPUs found reporting the UUID of another GPU of this host (masked capture, broken board), each counted once; they stay apart by gpu_index',
      ['host']);
    this.droppedSeries = counter('gpufleet_metrics_dropped_series_total', 'Series left out of /metrics because a family reached --max-series', []);
    this.capacityState = gauge('gpufleet_gpu_capacity_state',
      'GPU capacity state: 1 for the current one of free, idle-held, busy, unavailable, 0 for the others (GET /api/v1/capacity says why)',
      ['host', 'gpu_uuid', 'gpu_index', 'state']);
    this.capacitySince = gauge('gpufleet_gpu_capacity_state_since_timestamp_seconds',
      'Unix time the GPU entered its capacity state (at the latest, when the sidecar started)', gpu);
    this.migProfileInstances = gauge('gpufleet_mig_profile_instances',
      'MIG instances per GPU and profile, used (a compute process or engine rank on it) or free', ['host', 'gpu_uuid', 'profile', 'state']);
    this.migProfileCreatable = gauge('gpufleet_mig_profile_creatable',
      'More MIG instances of the profile that could be created on the GPU now (nvidia-smi mig -lgip Free; only when it answers)',
      ['host', 'gpu_uuid', 'profile']);
    this.modelEngines = gauge('gpufleet_model_engines', 'Engines up and serving the model (by the model label of gpufleet_engine_info)', ['host', 'model']);
    this.modelEnginesBusy = gauge('gpufleet_model_engines_busy',
      'Engines of the model that are busy; every engine of the model is busy when this equals gpufleet_model_engines > 0', ['host', 'model']);
    this.enginePowerShare = gauge('gpufleet_engine_power_share_ratio',
      "Share 0..1 of the GPU's power charged to the engine: a MIG instance's compute slices, a shared whole GPU by its processes' memory",
      ['host', 'engine_id', 'gpu_uuid']);
    // Counters, but rewritten from the meter's totals with each publication that carries them (setEnergy).
    this.gpuEnergy = counter('gpufleet_gpu_energy_joules_total',
      "GPU energy since the sidecar started: nvidia-smi's 1 s average power integrated over time (trapezoids between ticks; gaps over 5 intervals are left out)",
      gpu);
    this.engineEnergy = counter('gpufleet_engine_energy_joules_total',
      "The engine's share of its GPUs' energy since the sidecar started (see gpufleet_engine_power_share_ratio)", eng);
    // From the start, so that increase() sees the first duplicate.
    if (this.host) this.duplicateUuids.add(`host="${this.host}"`, 0);
    this.defaultMetrics = opts.defaultMetrics !== false;
    // The event-loop delay histogram (nodejs_eventloop_lag_*) samples on a timer: at prom-client's
    // default 10 ms that timer alone cost ~7 ms of CPU a second here, more than the rest of an idle
    // sidecar's tick; at 100 ms a stall still shows in its percentiles, for ~1 ms a second.
    if (this.defaultMetrics) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    if (this.host) this.setHostInfo(this.host, '', '');
  }

  /** Label values escaped (labelValue). */
  private setHostInfo(host: string, driverVersion: string, cudaVersion: string): void {
    this.set(this.hostInfo, `host="${host}",version="${this.version}",driver_version="${driverVersion}",cuda_version="${cudaVersion}"`, 1);
  }

  /** A series of a per-publication family, unless the family has maxSeries already or the value is not a number. */
  private set(f: Family, labels: string, value: number | null | undefined): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    const n = this.setCounts.get(f) ?? 0;
    if (n >= this.maxSeries) {
      this.droppedSeries.add('', 1);
      return;
    }
    this.setCounts.set(f, n + 1);
    f.set(labels, value);
  }

  /**
   * Rewrites every snapshot family from one tick's snapshot, with the capacity answer and the energy totals
   * when given (the fleet simulator has no energy meter).
   */
  update(snap: Snapshot, lost: Iterable<LostGpu>, derived: { capacity?: CapacityAnswer | null; energy?: EnergyReading | null } = {}): void {
    // Kept, and written into the families when /metrics is next asked for: both loops publish every
    // interval, and setting and rendering every series twice a second for a scrape every 5–15 s was
    // most of the sidecar's own CPU per tick (and most of its garbage). A scrape still gets the last
    // publication: at most one rendering per publication, paid by the first scrape after it.
    this.pending = { snap, lost: [...lost], derived };
  }

  private apply(update: PendingUpdate): void {
    const { snap, lost, derived } = update;
    for (const f of this.families) f.reset();
    this.setCounts.clear();
    const host = labelValue(snap.host.hostname);
    this.setHostInfo(host, labelValue(snap.host.driverVersion), labelValue(snap.host.cudaVersion));
    const parentOfMig = new Map<string, string>();
    for (const g of snap.gpus) {
      const uuid = labelValue(g.uuid);
      // One label text for the eight per-GPU families.
      const l = `host="${host}",gpu_uuid="${uuid}",gpu_index="${g.index === null ? '' : labelValue(g.index)}"`;
      this.set(this.gpuInfo,
        `${l},name="${labelValue(g.name)}",pci_bus_id="${labelValue(g.pciBusId)}",mig_mode="${labelValue(g.mig.mode)}",vgpu_mode="${labelValue(g.vgpu.hostMode)}"`, 1);
      this.set(this.gpuProcesses, l, computeProcessCount(g));
      this.set(this.gpuUtil, l, g.utilization.gpu === null ? null : g.utilization.gpu / 100);
      this.set(this.gpuMemUsed, l, g.memory.usedBytes);
      this.set(this.gpuMemTotal, l, g.memory.totalBytes);
      this.set(this.gpuTemp, l, g.temperatureC);
      this.set(this.gpuPower, l, g.powerW);
      this.set(this.gpuPowerLimit, l, g.powerLimitW);
      for (const m of g.mig.instances) {
        if (m.uuid) parentOfMig.set(m.uuid, g.uuid);
        const ml = `host="${host}",gpu_uuid="${uuid}",mig_uuid="${labelValue(m.uuid ?? `${g.uuid}/${m.gpuInstanceId}/${m.computeInstanceId}`)}"`;
        this.set(this.migInfo, `${ml},gi_id="${labelValue(m.gpuInstanceId)}",ci_id="${labelValue(m.computeInstanceId)}",profile="${labelValue(m.profile)}"`, 1);
        this.set(this.migMemUsed, ml, m.memory.usedBytes);
        this.set(this.migMemTotal, ml, m.memory.totalBytes);
      }
      for (const v of g.vgpu.instances) {
        const vl = `host="${host}",gpu_uuid="${uuid}",vgpu_id="${labelValue(v.id)}"`;
        this.set(this.vgpuInfo,
          `${vl},vgpu_uuid="${labelValue(v.uuid)}",vgpu_type="${labelValue(v.type)}",vm_id="${labelValue(v.vmId)}",vm_name="${labelValue(v.vmName)}"`, 1);
        this.set(this.vgpuUtil, vl, v.utilization.gpu === null ? null : v.utilization.gpu / 100);
        this.set(this.vgpuFbUsed, vl, v.framebuffer.usedBytes);
        this.set(this.vgpuFbTotal, vl, v.framebuffer.totalBytes);
        this.set(this.vgpuActive, vl, v.active ? 1 : 0);
      }
    }
    for (const e of snap.engines) {
      const el = `host="${host}",engine_id="${labelValue(e.id)}"`;
      this.set(this.engineInfo,
        `${el},type="${labelValue(e.type)}",model="${labelValue(e.model)}",endpoint="${labelValue(e.endpoint)}",deployment="${labelValue(e.deployment)}",version="${labelValue(e.version)}"`, 1);
      this.set(this.engineUp, el, e.health === 'up' ? 1 : 0);
      for (const w of e.workers) {
        const rl = `${el},rank="${labelValue(w.rank)}"`;
        for (const gpu of w.gpuUuids) this.set(this.engineGpu, `${rl},gpu_uuid="${labelValue(gpu)}"`, 1);
        for (const mig of w.migUuids) {
          const parent = parentOfMig.get(mig) ?? (w.gpuUuids.length === 1 ? w.gpuUuids[0] : undefined);
          this.set(this.engineMig, `${rl},gpu_uuid="${labelValue(parent)}",mig_uuid="${labelValue(mig)}"`, 1);
        }
      }
      if (e.health !== 'up') continue;
      this.set(this.engineKv, el, e.load.kvCacheUsage);
      this.set(this.engineRunning, el, e.load.running);
      this.set(this.engineWaiting, el, e.load.waiting);
      this.set(this.engineBusy, el, e.busy ? 1 : 0);
      this.set(this.engineGenTps, el, e.load.generationTokensPerSec);
      this.set(this.enginePromptTps, el, e.load.promptTokensPerSec);
      for (const r of e.ranks ?? []) {
        const rl = `${el},rank="${labelValue(r.rank)}"`;
        this.set(this.rankKv, rl, r.kvCacheUsage);
        this.set(this.rankRunning, rl, r.running);
        this.set(this.rankWaiting, rl, r.waiting);
        this.set(this.rankBusy, rl, r.busy ? 1 : 0);
      }
    }
    for (const g of lost) {
      this.set(this.gpuLost, `host="${host}",gpu_uuid="${labelValue(g.uuid)}",gpu_index="${labelValue(g.index)}",name="${labelValue(g.name)}"`, 1);
    }
    if (derived.capacity) this.setCapacity(host, derived.capacity);
    if (derived.energy) this.setEnergy(host, derived.energy);
  }

  private setCapacity(host: string, c: CapacityAnswer): void {
    for (const g of c.gpus) {
      const l = `host="${host}",gpu_uuid="${labelValue(g.uuid)}",gpu_index="${labelValue(g.index)}"`;
      for (const state of GPU_CAPACITY_STATES) this.set(this.capacityState, `${l},state="${state}"`, g.state === state ? 1 : 0);
      this.set(this.capacitySince, l, Date.parse(g.since) / 1000);
    }
    for (const m of c.mig) {
      const l = `host="${host}",gpu_uuid="${labelValue(m.gpuUuid)}",profile="${labelValue(m.profile)}"`;
      this.set(this.migProfileInstances, `${l},state="free"`, m.free);
      this.set(this.migProfileInstances, `${l},state="used"`, m.used);
      if (m.creatable !== undefined) this.set(this.migProfileCreatable, l, m.creatable);
    }
    for (const m of c.models) {
      const l = `host="${host}",model="${labelValue(m.model)}"`;
      this.set(this.modelEngines, l, m.engineCount);
      this.set(this.modelEnginesBusy, l, m.busyCount);
    }
  }

  /** Counters from the meter's totals: reset and set again, so GPUs and engines that left go with them. */
  private setEnergy(host: string, e: EnergyReading): void {
    this.gpuEnergy.reset();
    this.engineEnergy.reset();
    let n = 0;
    for (const g of e.gpus) {
      if (n++ >= this.maxSeries) {
        this.droppedSeries.add('', 1);
        continue;
      }
      if (Number.isFinite(g.joules)) this.gpuEnergy.add(`host="${host}",gpu_uuid="${labelValue(g.uuid)}",gpu_index="${labelValue(g.index)}"`, g.joules);
    }
    n = 0;
    for (const x of e.engines) {
      if (n++ >= this.maxSeries) {
        this.droppedSeries.add('', 1);
        continue;
      }
      const id = labelValue(x.id);
      if (Number.isFinite(x.joules)) this.engineEnergy.add(`host="${host}",engine_id="${id}"`, x.joules);
      for (const s of x.shares) this.set(this.enginePowerShare, `host="${host}",engine_id="${id}",gpu_uuid="${labelValue(s.gpuUuid)}"`, s.ratio);
    }
  }

  /**
   * Renders the families now (prom-client's process_* and nodejs_* defaults are read at this moment too)
   * and keeps the text for scrapes until the next refresh.
   */
  refresh(): Promise<string> {
    if (this.pending) {
      this.apply(this.pending);
      this.pending = null;
    }
    const own = renderFamilies(this.all);
    if (!this.defaultMetrics) {
      this.rendering = null;
      this.cached = `${own}\n`;
      return Promise.resolve(this.cached);
    }
    const p: Promise<string> = this.registry.metrics().then((defaults) => {
      const text = `${own}\n\n${defaults}`;
      if (this.rendering === p) {
        this.rendering = null;
        // A publication that came in meanwhile makes this text old: its waiters get it, nobody after.
        if (!this.pending) this.cached = text;
      }
      return text;
    }, (err: unknown) => {
      // A failed rendering must not stick: the next scrape gets the last good text or tries again.
      if (this.rendering === p) this.rendering = null;
      throw err;
    });
    this.rendering = p;
    return p;
  }

  recordXid(host: string, gpuUuid: string, gpuIndex: number | null, xid: number): void {
    const uuid = labelValue(gpuUuid);
    const code = labelValue(xid);
    const key = `${uuid}|${code}`;
    if (!this.xidSeries.has(key) && this.xidSeries.size >= this.maxSeries) {
      this.droppedSeries.add('', 1);
      return;
    }
    this.xidSeries.add(key);
    this.xidErrors.add(`host="${labelValue(host)}",gpu_uuid="${uuid}",gpu_index="${labelValue(gpuIndex)}",xid="${code}"`, 1);
  }

  /** GPUs newly seen sharing another GPU's UUID (GpuReading.newDuplicateUuids). */
  recordDuplicateUuids(count: number): void {
    if (count > 0) this.duplicateUuids.add(`host="${this.host}"`, count);
  }

  recordCollector(collector: SourceName, ok: boolean, durationSeconds: number, reason?: string, at = Date.now()): void {
    const l = `host="${this.host}",collector="${labelValue(collector)}"`;
    if (Number.isFinite(durationSeconds)) this.collectorDuration.set(l, durationSeconds);
    this.collectorUp.set(l, ok ? 1 : 0);
    if (ok) this.collectorLastSuccess.set(l, at / 1000);
    else this.collectorErrors.add(`${l},reason="${labelValue(reason ?? 'other')}"`, 1);
  }

  /**
   * The text of the last publication: rendered at the first scrape after it, then kept; while one is
   * rendering, that one. A publication that arrives during a rendering waits for it to finish, so one
   * text never mixes two publications.
   */
  render(): Promise<string> {
    if (this.rendering) return this.pending ? this.rendering.then(() => this.render(), () => this.render()) : this.rendering;
    return this.cached !== null && !this.pending ? Promise.resolve(this.cached) : this.refresh();
  }

  /**
   * The text render() would resolve with, when it has it at once: not while a refresh is rendering, nor
   * when a publication waits to be rendered (the scrape that renders it goes the slow way).
   */
  renderedNow(): string | null {
    return this.rendering || this.pending ? null : this.cached;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
