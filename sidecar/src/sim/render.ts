// Renders a simulated host state in nvidia-smi's real output formats, modelled on the captures in
// tests/fixtures/nvidia-smi:
//   -q -x            q-x_rtx-3060_570.124.04.xml (570 layout, DTD v12, tabs) + MIG elements of the A100 535 XML
//   -L               capture_h100-mig_590.48.01.txt
//   vgpu -q          vgpu-q_rtx-pro-6000-blackwell-dc_2-vgpus_580.105.06.txt (colon at column 43)
//   --query-gpu / --query-compute-apps  the CSV sections of capture_h100-mig_590.48.01.txt
// Pure functions: state in, text out.
import { QUERY_COMPUTE_APPS_FIELDS, QUERY_GPU_FIELDS } from './queryFields.js';
import type { SimGpu, SimHostState, SimProcess } from './state.js';
import { hashInt } from './util.js';

/** A command-line problem, printed (on stdout, as nvidia-smi does) with its exit code. */
export class SimCliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number
  ) {
    super(message);
    this.name = 'SimCliError';
  }
}

export interface RenderSelection {
  /** The GPUs to print (an `-i` selection); default: all present. Counts still cover the whole host. */
  gpus?: SimGpu[];
}

// ---------------------------------------------------------------------------------------------------------
// Formatting helpers

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** "Sun Mar 2 15:02:02 2025" (local time, day not padded: the 570 XML's form). */
export function xmlTimestamp(timeMs: number): string {
  const d = new Date(timeMs);
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${d.getDate()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** "2026/07/14 09:00:44.579" (local time), the CSV `timestamp`. */
export function csvTimestamp(timeMs: number): string {
  const d = new Date(timeMs);
  return `${d.getFullYear()}/${two(d.getMonth() + 1)}/${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const mib = (n: number) => `${Math.round(n)} MiB`;
const watts = (n: number) => `${n.toFixed(2)} W`;
const mhz = (n: number) => `${Math.round(n)} MHz`;
const pct = (n: number | null) => (n === null ? 'N/A' : `${Math.round(n)} %`);
const degC = (n: number | null) => (n === null ? 'N/A' : `${Math.round(n)} C`);
const active = (b: boolean) => (b ? 'Active' : 'Not Active');

function busParts(busId: string): { domain: string; bus: string; device: string } {
  // "00000000:18:00.0"
  const [domain = '00000000', bus = '00', rest = '00.0'] = busId.split(':');
  return { domain, bus, device: rest.split('.')[0] ?? '00' };
}

class XmlWriter {
  readonly lines: string[] = [];
  private depth = 0;
  private pad(): string {
    return '\t'.repeat(this.depth);
  }
  open(name: string, attrs = ''): this {
    this.lines.push(`${this.pad()}<${name}${attrs}>`);
    this.depth++;
    return this;
  }
  close(name: string): this {
    this.depth--;
    this.lines.push(`${this.pad()}</${name}>`);
    return this;
  }
  leaf(name: string, value: string | number): this {
    this.lines.push(`${this.pad()}<${name}>${xmlEscape(String(value))}</${name}>`);
    return this;
  }
  group(name: string, leaves: Array<[string, string | number]>): this {
    this.open(name);
    for (const [k, v] of leaves) this.leaf(k, v);
    return this.close(name);
  }
  raw(line: string): this {
    this.lines.push(line);
    return this;
  }
  text(value: string): this {
    this.lines.push(`${this.pad()}${value}`);
    return this;
  }
}

// ---------------------------------------------------------------------------------------------------------
// nvidia-smi -q -x

function writeMigDevices(x: XmlWriter, g: SimGpu): void {
  x.open('mig_devices');
  if (g.mig.devices.length === 0) {
    x.text('None');
  }
  for (const d of g.mig.devices) {
    x.open('mig_device');
    x.leaf('index', d.index).leaf('gpu_instance_id', d.gpuInstanceId).leaf('compute_instance_id', d.computeInstanceId);
    x.open('device_attributes');
    x.group('shared', [
      ['multiprocessor_count', d.multiprocessors],
      ['copy_engine_count', d.copyEngines],
      ['encoder_count', d.encoders],
      ['decoder_count', d.decoders],
      ['ofa_count', d.ofas],
      ['jpg_count', d.jpegs],
    ]);
    x.close('device_attributes');
    x.open('ecc_error_count')
      .group('volatile_count', [['sram_uncorrectable', 0]])
      .close('ecc_error_count');
    x.group('fb_memory_usage', [
      ['total', mib(d.memoryTotalMiB)],
      ['reserved', mib(0)],
      ['used', mib(d.memoryUsedMiB)],
      ['free', mib(d.memoryTotalMiB - d.memoryUsedMiB)],
    ]);
    x.group('bar1_memory_usage', [
      ['total', mib(d.bar1TotalMiB)],
      ['used', mib(d.bar1UsedMiB)],
      ['free', mib(d.bar1TotalMiB - d.bar1UsedMiB)],
    ]);
    x.close('mig_device');
  }
  x.close('mig_devices');
}

function writeProcesses(x: XmlWriter, processes: SimProcess[]): void {
  x.open('processes');
  for (const p of processes) {
    x.group('process_info', [
      ['gpu_instance_id', p.gpuInstanceId ?? 'N/A'],
      ['compute_instance_id', p.computeInstanceId ?? 'N/A'],
      ['pid', p.pid],
      ['type', p.type],
      ['process_name', p.name],
      ['used_memory', mib(p.usedMemoryMiB)],
    ]);
  }
  x.close('processes');
}

function writeGpu(x: XmlWriter, g: SimGpu, state: SimHostState): void {
  const m = g.model;
  const na = 'N/A';
  const { domain, bus, device } = busParts(g.pciBusId);
  const ecc = m.ecc ? '0' : na;
  const migMode = g.mig.capable ? (g.mig.enabled ? 'Enabled' : 'Disabled') : na;
  const fabric = m.fabric;
  const txKb = Math.round(900 + 9000 * g.load + (hashInt('tx', g.uuid, Math.floor(state.t)) % 300));
  const rxKb = Math.round(1200 + 18000 * g.load + (hashInt('rx', g.uuid, Math.floor(state.t)) % 300));

  x.open('gpu', ` id="${g.pciBusId}"`);
  x.leaf('product_name', g.name).leaf('product_brand', m.brand).leaf('product_architecture', m.architecture);
  x.leaf('display_mode', 'Disabled')
    .leaf('display_active', 'Disabled')
    .leaf('persistence_mode', 'Enabled')
    .leaf('addressing_mode', 'None');
  x.group('mig_mode', [
    ['current_mig', migMode],
    ['pending_mig', migMode],
  ]);
  writeMigDevices(x, g);
  x.leaf('accounting_mode', 'Disabled').leaf('accounting_mode_buffer_size', 4000);
  x.group('driver_model', [
    ['current_dm', na],
    ['pending_dm', na],
  ]);
  x.leaf('serial', g.serial)
    .leaf('uuid', g.uuid)
    .leaf('minor_number', g.minorNumber)
    .leaf('vbios_version', m.vbiosVersion);
  x.leaf('multigpu_board', 'No')
    .leaf('board_id', `0x${((Number.parseInt(bus, 16) << 8) | Number.parseInt(device, 16)).toString(16)}`)
    .leaf('board_part_number', m.boardPartNumber);
  x.leaf('gpu_part_number', m.gpuPartNumber).leaf('gpu_fru_part_number', na);
  x.group('platformInfo', [
    ['chassis_serial_number', na],
    ['slot_number', na],
    ['tray_index', na],
    ['host_id', na],
    ['peer_type', na],
    ['module_id', g.minorNumber + 1],
    ['gpu_fabric_guid', na],
  ]);
  x.group('inforom_version', [
    ['img_version', m.inforom.image],
    ['oem_object', m.inforom.oem],
    ['ecc_object', m.inforom.ecc],
    ['pwr_object', na],
  ]);
  x.group('inforom_bbx_flush', [
    ['latest_timestamp', na],
    ['latest_duration', na],
  ]);
  x.group('gpu_operation_mode', [
    ['current_gom', na],
    ['pending_gom', na],
  ]);
  x.leaf('c2c_mode', fabric ? 'Disabled' : na);
  x.group('gpu_virtualization_mode', [
    ['virtualization_mode', g.vgpu ? 'Host VGPU' : 'None'],
    ['host_vgpu_mode', g.vgpu ? (g.vgpu.hostMode === 'sriov' ? 'SR-IOV' : 'Non SR-IOV') : na],
    ['vgpu_heterogeneous_mode', g.vgpu ? 'Disabled' : na],
  ]);
  x.group('gpu_reset_status', [
    ['reset_required', 'No'],
    ['drain_and_reset_recommended', 'No'],
  ]);
  x.leaf('gpu_recovery_action', 'None').leaf('gsp_firmware_version', state.driverVersion);
  x.group('ibmnpu', [['relaxed_ordering_mode', na]]);

  x.open('pci');
  x.leaf('pci_bus', bus)
    .leaf('pci_device', device)
    .leaf('pci_domain', domain.slice(-4))
    .leaf('pci_base_class', 3)
    .leaf('pci_sub_class', 2);
  x.leaf('pci_device_id', m.pciDeviceId).leaf('pci_bus_id', g.pciBusId).leaf('pci_sub_system_id', m.pciSubSystemId);
  x.open('pci_gpu_link_info');
  x.group('pcie_gen', [
    ['max_link_gen', m.pcieGen],
    ['current_link_gen', m.pcieGen],
    ['device_current_link_gen', m.pcieGen],
    ['max_device_link_gen', m.pcieGen],
    ['max_host_link_gen', m.pcieGen],
  ]);
  x.group('link_widths', [
    ['max_link_width', '16x'],
    ['current_link_width', '16x'],
  ]);
  x.close('pci_gpu_link_info');
  x.group('pci_bridge_chip', [
    ['bridge_chip_type', na],
    ['bridge_chip_fw', na],
  ]);
  x.leaf('replay_counter', 0)
    .leaf('replay_rollover_counter', 0)
    .leaf('tx_util', `${txKb} KB/s`)
    .leaf('rx_util', `${rxKb} KB/s`);
  x.leaf('atomic_caps_outbound', na).leaf('atomic_caps_inbound', na);
  x.close('pci');

  x.leaf('fan_speed', m.fan ? `${Math.round(30 + 50 * g.load)} %` : na).leaf('performance_state', g.pstate);
  x.group('clocks_event_reasons', [
    ['clocks_event_reason_gpu_idle', active(g.throttle.idle)],
    ['clocks_event_reason_applications_clocks_setting', active(false)],
    ['clocks_event_reason_sw_power_cap', active(g.throttle.swPowerCap)],
    ['clocks_event_reason_hw_slowdown', active(g.throttle.hwSlowdown || g.throttle.hwThermalSlowdown)],
    ['clocks_event_reason_hw_thermal_slowdown', active(g.throttle.hwThermalSlowdown)],
    ['clocks_event_reason_hw_power_brake_slowdown', active(false)],
    ['clocks_event_reason_sync_boost', active(false)],
    ['clocks_event_reason_sw_thermal_slowdown', active(g.throttle.swThermalSlowdown)],
    ['clocks_event_reason_display_clocks_setting', active(false)],
  ]);
  x.leaf('sparse_operation_mode', na);
  x.group('fb_memory_usage', [
    ['total', mib(g.memory.totalMiB)],
    ['reserved', mib(g.memory.reservedMiB)],
    ['used', mib(g.memory.usedMiB)],
    ['free', mib(g.memory.freeMiB)],
  ]);
  x.group('bar1_memory_usage', [
    ['total', mib(g.bar1.totalMiB)],
    ['used', mib(g.bar1.usedMiB)],
    ['free', mib(g.bar1.totalMiB - g.bar1.usedMiB)],
  ]);
  x.group('cc_protected_memory_usage', [
    ['total', mib(0)],
    ['used', mib(0)],
    ['free', mib(0)],
  ]);
  x.leaf('compute_mode', 'Default');
  x.group('utilization', [
    ['gpu_util', pct(g.utilization.gpu)],
    ['memory_util', pct(g.utilization.memory)],
    ['encoder_util', pct(g.utilization.encoder)],
    ['decoder_util', pct(g.utilization.decoder)],
    ['jpeg_util', pct(g.utilization.jpeg)],
    ['ofa_util', pct(g.utilization.ofa)],
  ]);
  const zeroStats: Array<[string, number]> = [
    ['session_count', 0],
    ['average_fps', 0],
    ['average_latency', 0],
  ];
  x.group('encoder_stats', zeroStats).group('fbc_stats', zeroStats);
  x.group('dram_encryption_mode', [
    ['current_dram_encryption', na],
    ['pending_dram_encryption', na],
  ]);
  x.group('ecc_mode', [
    ['current_ecc', m.ecc ? 'Enabled' : na],
    ['pending_ecc', m.ecc ? 'Enabled' : na],
  ]);
  x.open('ecc_errors');
  x.group('volatile', [
    ['sram_correctable', ecc],
    ['sram_uncorrectable_parity', ecc],
    ['sram_uncorrectable_secded', ecc],
    ['dram_correctable', ecc],
    ['dram_uncorrectable', ecc],
  ]);
  x.group('aggregate', [
    ['sram_correctable', ecc],
    ['sram_uncorrectable_parity', ecc],
    ['sram_uncorrectable_secded', ecc],
    ['dram_correctable', ecc],
    ['dram_uncorrectable', ecc],
    ['sram_threshold_exceeded', m.ecc ? 'No' : na],
  ]);
  x.group('aggregate_uncorrectable_sram_sources', [
    ['sram_l2', ecc],
    ['sram_sm', ecc],
    ['sram_microcontroller', ecc],
    ['sram_pcie', ecc],
    ['sram_other', ecc],
  ]);
  x.close('ecc_errors');
  x.open('retired_pages');
  x.group('multiple_single_bit_retirement', [
    ['retired_count', na],
    ['retired_pagelist', na],
  ]);
  x.group('double_bit_retirement', [
    ['retired_count', na],
    ['retired_pagelist', na],
  ]);
  x.leaf('pending_blacklist', na).leaf('pending_retirement', na);
  x.close('retired_pages');
  x.leaf('remapped_rows', na);
  x.group('temperature', [
    ['gpu_temp', degC(g.temperature.gpuC)],
    ['gpu_temp_tlimit', degC(m.temps.maxOperatingC - g.temperature.gpuC)],
    ['gpu_temp_max_threshold', degC(m.temps.shutdownC)],
    ['gpu_temp_slow_threshold', degC(m.temps.slowdownC)],
    ['gpu_temp_max_gpu_threshold', degC(m.temps.maxOperatingC)],
    ['gpu_target_temperature', na],
    ['memory_temp', degC(g.temperature.memoryC)],
    ['gpu_temp_max_mem_threshold', degC(m.temps.memoryMaxC)],
  ]);
  x.group('supported_gpu_target_temp', [
    ['gpu_target_temp_min', na],
    ['gpu_target_temp_max', na],
  ]);
  x.group('gpu_power_readings', [
    ['power_state', g.pstate],
    ['average_power_draw', watts(g.power.averageW)],
    ['instant_power_draw', watts(g.power.instantW)],
    ['current_power_limit', watts(g.power.limitW)],
    ['requested_power_limit', watts(g.power.limitW)],
    ['default_power_limit', watts(g.power.defaultLimitW)],
    ['min_power_limit', watts(g.power.minLimitW)],
    ['max_power_limit', watts(g.power.maxLimitW)],
  ]);
  x.group('gpu_memory_power_readings', [
    ['average_power_draw', m.memoryTemp ? watts(Math.round(g.power.averageW * 21) / 100) : na],
    ['instant_power_draw', na],
  ]);
  x.group('module_power_readings', [
    ['power_state', g.pstate],
    ['average_power_draw', na],
    ['instant_power_draw', na],
    ['current_power_limit', na],
    ['requested_power_limit', na],
    ['default_power_limit', na],
    ['min_power_limit', na],
    ['max_power_limit', na],
  ]);
  x.leaf('power_smoothing', na);
  x.group('power_profiles', [
    ['power_profile_requested_profiles', na],
    ['power_profile_enforced_profiles', na],
  ]);
  x.group('clocks', [
    ['graphics_clock', mhz(g.clocks.graphics)],
    ['sm_clock', mhz(g.clocks.sm)],
    ['mem_clock', mhz(g.clocks.mem)],
    ['video_clock', mhz(g.clocks.video)],
  ]);
  x.group('applications_clocks', [
    ['graphics_clock', na],
    ['mem_clock', na],
  ]);
  x.group('default_applications_clocks', [
    ['graphics_clock', na],
    ['mem_clock', na],
  ]);
  x.group('deferred_clocks', [['mem_clock', na]]);
  x.group('max_clocks', [
    ['graphics_clock', mhz(m.maxClocks.graphics)],
    ['sm_clock', mhz(m.maxClocks.sm)],
    ['mem_clock', mhz(m.maxClocks.mem)],
    ['video_clock', mhz(m.maxClocks.video)],
  ]);
  x.group('max_customer_boost_clocks', [['graphics_clock', mhz(m.maxClocks.graphics)]]);
  x.group('clock_policy', [
    ['auto_boost', na],
    ['auto_boost_default', na],
  ]);
  x.group('voltage', [['graphics_volt', na]]);
  x.open('fabric');
  x.leaf('state', fabric ? 'Completed' : na)
    .leaf('status', fabric ? 'Success' : na)
    .leaf('cliqueId', fabric ? 0 : na);
  x.leaf('clusterUuid', fabric ? '00000000-0000-0000-0000-000000000000' : na);
  x.group('health', [
    ['bandwidth', na],
    ['route_recovery_in_progress', na],
    ['route_unhealthy', na],
    ['access_timeout_recovery', na],
  ]);
  x.close('fabric');
  x.open('supported_clocks').open('supported_mem_clock').leaf('value', mhz(m.maxClocks.mem));
  for (let c = m.maxClocks.graphics; c >= m.idleClocks.graphics; c -= m.graphicsClockStep)
    x.leaf('supported_graphics_clock', mhz(c));
  x.close('supported_mem_clock').close('supported_clocks');
  writeProcesses(x, g.processes);
  x.open('accounted_processes').close('accounted_processes');
  x.group('capabilities', [['egm', 'disabled']]);
  x.close('gpu');
  x.raw('');
}

/** `nvidia-smi -q -x`: one complete XML document, ending with a newline. */
export function renderQueryXml(state: SimHostState, sel: RenderSelection = {}): string {
  const x = new XmlWriter();
  x.raw('<?xml version="1.0"?>');
  x.raw('<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">');
  x.open('nvidia_smi_log');
  x.leaf('timestamp', xmlTimestamp(state.timeMs))
    .leaf('driver_version', state.driverVersion)
    .leaf('cuda_version', state.cudaVersion);
  x.leaf('attached_gpus', state.gpus.length);
  for (const g of sel.gpus ?? state.gpus) writeGpu(x, g, state);
  x.close('nvidia_smi_log');
  return `${x.lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// nvidia-smi -L

/** `nvidia-smi -L`, spaced like capture_h100-mig: `  MIG 3g.40gb     Device  0: (UUID: MIG-…)`. */
export function renderList(state: SimHostState, sel: RenderSelection = {}): string {
  const out: string[] = [];
  for (const g of sel.gpus ?? state.gpus) {
    out.push(`GPU ${g.index}: ${g.name} (UUID: ${g.uuid})`);
    for (const d of g.mig.devices) {
      out.push(`  MIG ${d.profile.padEnd(12)}Device ${String(d.index).padStart(2)}: (UUID: ${d.uuid})`);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

// ---------------------------------------------------------------------------------------------------------
// nvidia-smi vgpu -q

/** Key column of `nvidia-smi -q`/`vgpu -q` text: the colon sits at column 43 (index 42). */
export const VGPU_COLON_INDEX = 42;

function kv(indent: number, key: string, value: string | number): string {
  return `${`${' '.repeat(indent)}${key}`.padEnd(VGPU_COLON_INDEX)}: ${value}`;
}

/** `nvidia-smi vgpu -q` in the 580.105.06 layout; GPUs with no vGPU print `Active vGPUs : 0`. */
export function renderVgpuQuery(state: SimHostState, sel: RenderSelection = {}): string {
  const blocks: string[] = [];
  for (const g of sel.gpus ?? state.gpus) {
    const vgpus = g.vgpu?.vgpus ?? [];
    const l: string[] = [`GPU ${g.pciBusId}`, kv(4, 'Active vGPUs', vgpus.length)];
    for (const v of vgpus) {
      l.push(kv(4, 'vGPU ID', v.vgpuId));
      l.push(kv(8, 'VM UUID', v.vmUuid));
      l.push(kv(8, 'VM Name', v.vmName));
      l.push(kv(8, 'vGPU Name', v.typeName));
      l.push(kv(8, 'vGPU Type', v.typeId));
      l.push(kv(8, 'vGPU UUID', v.uuid));
      l.push(kv(8, 'Guest Driver Version', v.guestDriverVersion ?? 'N/A'));
      l.push(kv(8, 'License Status', v.licenseStatus));
      l.push(kv(8, 'GPU Instance ID', 'N/A'));
      l.push(kv(8, 'Placement ID', v.placementId));
      l.push('        PCI');
      l.push(kv(12, 'Bus Id', v.guestPciBusId));
      l.push('        FB Memory Usage');
      l.push(kv(12, 'Total', mib(v.framebufferTotalMiB)));
      l.push(kv(12, 'Used', mib(v.framebufferUsedMiB)));
      l.push(kv(12, 'Free', mib(v.framebufferTotalMiB - v.framebufferUsedMiB)));
      l.push('        Utilization');
      l.push(kv(12, 'GPU', pct(v.utilization.gpu)));
      l.push(kv(12, 'Memory', pct(v.utilization.memory)));
      l.push(kv(12, 'Encoder', pct(v.utilization.encoder)));
      l.push(kv(12, 'Decoder', pct(v.utilization.decoder)));
    }
    blocks.push(l.join('\n'));
  }
  return blocks.length ? `${blocks.join('\n\n')}\n` : '';
}

// ---------------------------------------------------------------------------------------------------------
// CSV queries

export interface CsvOptions {
  noheader: boolean;
  nounits: boolean;
}

type FieldTable = ReadonlyArray<readonly [string, string, readonly string[]]>;

function resolveFields(table: FieldTable, requested: string[]): Array<{ name: string; unit: string }> {
  if (requested.length === 0 || requested.some((f) => f === '')) {
    throw new SimCliError("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n", 2);
  }
  return requested.map((f) => {
    const key = f.trim();
    const hit = table.find(([name, , aliases]) => name === key || aliases.includes(key));
    if (!hit) throw new SimCliError(`Field "${key}" is not a valid field to query.\n\n`, 2);
    return { name: hit[0], unit: hit[1] };
  });
}

function csv(header: string[], rows: string[][], opts: CsvOptions, units: string[]): string {
  const out: string[] = [];
  if (!opts.noheader) out.push(header.join(', '));
  for (const r of rows) {
    out.push(
      r
        .map((v, i) => {
          const u = units[i];
          return opts.nounits && u && v.endsWith(` ${u}`) ? v.slice(0, -(u.length + 1)) : v;
        })
        .join(', ')
    );
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

const NA = '[N/A]';
const hex = (s: string) => `0x${s}`;

function clockReasonsMask(g: SimGpu): string {
  let m = 0;
  if (g.throttle.idle) m |= 0x1;
  if (g.throttle.swPowerCap) m |= 0x4;
  if (g.throttle.hwSlowdown || g.throttle.hwThermalSlowdown) m |= 0x8;
  if (g.throttle.swThermalSlowdown) m |= 0x20;
  if (g.throttle.hwThermalSlowdown) m |= 0x40;
  return `0x${m.toString(16).toUpperCase().padStart(16, '0')}`;
}

function gpuField(name: string, g: SimGpu, state: SimHostState): string {
  const m = g.model;
  const { domain, bus, device } = busParts(g.pciBusId);
  const util = (v: number | null) => (v === null ? NA : `${Math.round(v)} %`);
  const migMode = g.mig.capable ? (g.mig.enabled ? 'Enabled' : 'Disabled') : NA;
  switch (name) {
    case 'timestamp':
      return csvTimestamp(state.timeMs);
    case 'driver_version':
      return state.driverVersion;
    case 'count':
      return String(state.gpus.length);
    case 'name':
      return g.name;
    case 'serial':
      return g.serial;
    case 'uuid':
      return g.uuid;
    case 'pci.bus_id':
      return g.pciBusId;
    case 'pci.domain':
      return hex(domain.slice(-4));
    case 'pci.bus':
      return hex(bus);
    case 'pci.device':
      return hex(device);
    case 'pci.baseClass':
      return '0x3';
    case 'pci.subClass':
      return '0x2';
    case 'pci.device_id':
      return hex(m.pciDeviceId);
    case 'pci.sub_device_id':
      return hex(m.pciSubSystemId);
    case 'pcie.link.gen.current':
    case 'pcie.link.gen.gpucurrent':
    case 'pcie.link.gen.max':
    case 'pcie.link.gen.gpumax':
      return String(m.pcieGen);
    case 'pcie.link.width.current':
    case 'pcie.link.width.max':
      return '16';
    case 'index':
      return String(g.index);
    case 'display_mode':
    case 'display_active':
    case 'accounting.mode':
      return 'Disabled';
    case 'display_attached':
      return 'No';
    case 'persistence_mode':
      return 'Enabled';
    case 'addressing_mode':
    case 'gpu_recovery_action':
      return 'None';
    case 'accounting.buffer_size':
      return '4000';
    case 'vbios_version':
      return m.vbiosVersion;
    case 'inforom.img':
      return m.inforom.image;
    case 'inforom.oem':
      return m.inforom.oem;
    case 'inforom.ecc':
      return m.inforom.ecc;
    case 'inforom.checksum_validation':
      return 'valid';
    case 'fan.speed':
      return m.fan ? `${Math.round(30 + 50 * g.load)} %` : NA;
    case 'pstate':
      return g.pstate;
    case 'clocks_event_reasons.supported':
      return '0x00000000000001FF';
    case 'clocks_event_reasons.active':
      return clockReasonsMask(g);
    case 'clocks_event_reasons.gpu_idle':
      return active(g.throttle.idle);
    case 'clocks_event_reasons.sw_power_cap':
      return active(g.throttle.swPowerCap);
    case 'clocks_event_reasons.hw_slowdown':
      return active(g.throttle.hwSlowdown || g.throttle.hwThermalSlowdown);
    case 'clocks_event_reasons.hw_thermal_slowdown':
      return active(g.throttle.hwThermalSlowdown);
    case 'clocks_event_reasons.sw_thermal_slowdown':
      return active(g.throttle.swThermalSlowdown);
    case 'clocks_event_reasons.applications_clocks_setting':
    case 'clocks_event_reasons.hw_power_brake_slowdown':
    case 'clocks_event_reasons.sync_boost':
      return active(false);
    case 'memory.total':
      return mib(g.memory.totalMiB);
    case 'memory.reserved':
      return mib(g.memory.reservedMiB);
    case 'memory.used':
      return mib(g.memory.usedMiB);
    case 'memory.free':
      return mib(g.memory.freeMiB);
    case 'compute_mode':
      return 'Default';
    case 'compute_cap':
      return m.computeCap;
    case 'utilization.gpu':
      return util(g.utilization.gpu);
    case 'utilization.memory':
      return util(g.utilization.memory);
    case 'utilization.encoder':
      return util(g.utilization.encoder);
    case 'utilization.decoder':
      return util(g.utilization.decoder);
    case 'utilization.jpeg':
      return util(g.utilization.jpeg);
    case 'utilization.ofa':
      return util(g.utilization.ofa);
    case 'encoder.stats.sessionCount':
    case 'encoder.stats.averageFps':
    case 'encoder.stats.averageLatency':
      return '0';
    case 'ecc.mode.current':
    case 'ecc.mode.pending':
      return m.ecc ? 'Enabled' : NA;
    case 'temperature.gpu':
      return String(g.temperature.gpuC);
    case 'temperature.gpu.tlimit':
      return String(m.temps.maxOperatingC - g.temperature.gpuC);
    case 'temperature.memory':
      return g.temperature.memoryC === null ? NA : String(g.temperature.memoryC);
    case 'power.draw':
    case 'power.draw.average':
      return watts(g.power.averageW);
    case 'power.draw.instant':
      return watts(g.power.instantW);
    case 'power.limit':
    case 'enforced.power.limit':
      return watts(g.power.limitW);
    case 'power.default_limit':
      return watts(g.power.defaultLimitW);
    case 'power.min_limit':
      return watts(g.power.minLimitW);
    case 'power.max_limit':
      return watts(g.power.maxLimitW);
    case 'clocks.current.graphics':
      return mhz(g.clocks.graphics);
    case 'clocks.current.sm':
      return mhz(g.clocks.sm);
    case 'clocks.current.memory':
      return mhz(g.clocks.mem);
    case 'clocks.current.video':
      return mhz(g.clocks.video);
    case 'clocks.max.graphics':
      return mhz(m.maxClocks.graphics);
    case 'clocks.max.sm':
      return mhz(m.maxClocks.sm);
    case 'clocks.max.memory':
      return mhz(m.maxClocks.mem);
    case 'mig.mode.current':
    case 'mig.mode.pending':
      return migMode;
    case 'gsp.mode.current':
    case 'gsp.mode.default':
      return 'Enabled';
    case 'c2c.mode':
      return m.fabric ? 'Disabled' : NA;
    case 'protected_memory.total':
    case 'protected_memory.used':
    case 'protected_memory.free':
      return mib(0);
    case 'fabric.state':
      return m.fabric ? 'Completed' : NA;
    case 'fabric.status':
      return m.fabric ? 'Success' : NA;
    case 'platform.module_id':
      return String(g.minorNumber + 1);
  }
  if (name.startsWith('ecc.errors.')) {
    if (!m.ecc) return NA;
    if (name.endsWith('.thresholdExceeded')) return 'No';
    return /\.(device_memory|dram|sram|total|parity|secded|l2|sm|mcu|pcie|other)$/.test(name) ? '0' : NA;
  }
  if (name.startsWith('clocks_event_reasons_counters.')) return '0 us';
  return NA;
}

/** `nvidia-smi --query-gpu=FIELDS --format=csv[,noheader][,nounits]`. Unknown fields throw SimCliError (exit 2). */
export function renderQueryGpuCsv(
  state: SimHostState,
  fields: string[],
  opts: CsvOptions,
  sel: RenderSelection = {}
): string {
  const cols = resolveFields(QUERY_GPU_FIELDS, fields);
  const header = cols.map((c) => (c.unit ? `${c.name} [${c.unit}]` : c.name));
  const rows = (sel.gpus ?? state.gpus).map((g) => cols.map((c) => gpuField(c.name, g, state)));
  return csv(
    header,
    rows,
    opts,
    cols.map((c) => c.unit)
  );
}

/** `nvidia-smi --query-compute-apps=FIELDS --format=csv…`: one row per compute process (C or C+G). */
export function renderComputeAppsCsv(
  state: SimHostState,
  fields: string[],
  opts: CsvOptions,
  sel: RenderSelection = {}
): string {
  const cols = resolveFields(QUERY_COMPUTE_APPS_FIELDS, fields);
  const header = cols.map((c) => (c.unit ? `${c.name} [${c.unit}]` : c.name));
  const rows: string[][] = [];
  for (const g of sel.gpus ?? state.gpus) {
    for (const p of g.processes) {
      if (p.type === 'G') continue;
      rows.push(
        cols.map((c) => {
          switch (c.name) {
            case 'timestamp':
              return csvTimestamp(state.timeMs);
            case 'gpu_name':
              return g.name;
            case 'gpu_bus_id':
              return g.pciBusId;
            case 'gpu_serial':
              return g.serial;
            case 'gpu_uuid':
              return g.uuid;
            case 'pid':
              return String(p.pid);
            case 'process_name':
              return p.name;
            case 'used_gpu_memory':
              return mib(p.usedMemoryMiB);
            default:
              return NA;
          }
        })
      );
    }
  }
  return csv(
    header,
    rows,
    opts,
    cols.map((c) => c.unit)
  );
}

// ---------------------------------------------------------------------------------------------------------
// Faults

/**
 * What a broken driver stack prints instead of a proper answer: the start of a real answer cut off mid-line
 * followed by binary and text junk. Deterministic for a given state and command.
 */
export function renderGarbage(state: SimHostState, command: string, good: string): string {
  const seed = hashInt('garbage', state.hostname, command, Math.floor(state.t));
  const cut = good.slice(0, Math.max(40, Math.floor(good.length * (0.2 + (seed % 40) / 100))));
  const junkChars = '\u0000\u0001\u00ff\u00fe<&>#%@!?*;:~^|\\/\u001b[0m';
  let junk = '';
  for (let i = 0; i < 160; i++) junk += junkChars[hashInt('j', seed, i) % junkChars.length] ?? '?';
  return `${cut}${junk}\nNVRM: \u00ff\u00ff\u00ff\u00ff unexpected data\n`;
}

/** The real texts nvidia-smi prints (on stdout) for the exit-error fault, with its exit code. */
export function exitErrorOutput(
  message: string,
  state: SimHostState,
  busId: string
): { text: string; exitCode: number } {
  const shortBus = busId.replace(/^0000(?=[0-9A-F]{4}:)/, '');
  switch (message) {
    case 'unknown':
      return { text: `Unable to determine the device handle for GPU${shortBus}: Unknown Error\n`, exitCode: 255 };
    case 'lost':
      return {
        text: `Unable to determine the device handle for GPU${shortBus}: GPU is lost. Reboot the system to recover this GPU\n`,
        exitCode: 15,
      };
    case 'no-driver':
      return {
        text: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n\n",
        exitCode: 9,
      };
    default: {
      const nvml = state.driverVersion.split('.').slice(0, 2).join('.');
      return {
        text: `Failed to initialize NVML: Driver/library version mismatch\nNVML library version: ${nvml}\n`,
        exitCode: 18,
      };
    }
  }
}
