import { ParseError } from './errors.js';
import { keepReadElements, parseNvidiaSmiXml, type SmiXmlGpu } from './nvidiaSmiXml.js';
import { fixtureNames, readFixture } from './__tests__/fixtures.js';

const MiB = 1048576;
// Hostile-input cases have a deadline so that a quadratic regression fails instead of stalling the run.
// It is a hang guard sized for a slow shared CI box, not a speed claim: speed is in `npm run bench`.
const HANG_GUARD_MS = 20_000;
const A100_80 = 'q-x_a100-sxm4-80gb_mig-enabled_535.54.03.xml';
const A100_40_PT = 'q-x_a100-sxm4-40gb_mig-enabled_passthrough_510.47.03.xml';
const RTX3060 = 'q-x_rtx-3060_570.124.04.xml';
const A5000X2 = 'q-x_2x-rtx-a5000_llama-server_590.44.01.xml';

function only(xml: string): SmiXmlGpu {
  const log = parseNvidiaSmiXml(xml);
  const [g] = log.gpus;
  if (!g || log.gpus.length !== 1) throw new Error(`expected one GPU, got ${log.gpus.length}`);
  return g;
}

function parseError(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw new Error(`expected a ParseError, got ${String(e)}`);
  }
  throw new Error('expected a ParseError, nothing was thrown');
}

describe('parseNvidiaSmiXml on real fixtures', () => {
  it('A100-SXM4-80GB, 535, DTD v12: MIG enabled with 4 instances (GI 3..6)', () => {
    const log = parseNvidiaSmiXml(readFixture(A100_80));
    expect(log.driverVersion).toBe('535.54.03');
    expect(log.cudaVersion).toBe('12.2');
    expect(log.timestamp).toBe('Fri Aug  4 11:44:30 2023');
    expect(log.attachedGpus).toBe(4); // the author trimmed the file to one <gpu>
    expect(log.gpus).toHaveLength(1);
    const g = only(readFixture(A100_80));
    expect(g.name).toBe('NVIDIA A100-SXM4-80GB');
    expect(g.uuid).toBe('GPU-513536b6-7d19-9063-b049-1e69664bb298');
    expect(g.pciBusId).toBe('00000000:01:00.0');
    expect(g.minorNumber).toBe(1);
    expect(g.serial).toBe('1650522003820');
    expect(g.migMode).toBe('enabled');
    expect(g.pendingMigMode).toBe('enabled');
    expect(g.migDevices.map((d) => [d.index, d.gpuInstanceId, d.computeInstanceId])).toEqual([
      [0, 3, 0],
      [1, 4, 0],
      [2, 5, 0],
      [3, 6, 0],
    ]);
    for (const d of g.migDevices) {
      expect(d.memory).toEqual({ totalBytes: 20937965568, usedBytes: 12 * MiB }); // 19968 MiB / 12 MiB
      expect(d.multiprocessorCount).toBe(14);
    }
    expect(g.utilization).toEqual({ gpu: null, memory: null, encoder: null, decoder: null }); // N/A under MIG
    expect(g.powerW).toBe(67.03);
    expect(g.powerLimitW).toBe(500);
    expect(g.temperatureC).toBe(27);
    expect(g.clocks).toEqual({ smMHz: 1275, memMHz: 1593 });
    expect(g.memory).toEqual({ totalBytes: 81920 * MiB, usedBytes: 50 * MiB });
    expect(g.virtualizationMode).toBe('None');
    expect(g.hostVgpuMode).toBe('none');
    expect(g.processes).toEqual([]); // <processes />
    expect(g.eccUncorrectedVolatile).toBe(0); // sram 0 + dram 0
  });

  it('A100-SXM4-40GB, 510, DTD v11, pass-through VM: old <power_readings>', () => {
    const log = parseNvidiaSmiXml(readFixture(A100_40_PT));
    expect(log.driverVersion).toBe('510.47.03');
    expect(log.cudaVersion).toBe('11.6');
    const g = only(readFixture(A100_40_PT));
    expect(g.virtualizationMode).toBe('Pass-Through');
    expect(g.hostVgpuMode).toBe('none');
    expect(g.powerW).toBe(66.92);
    expect(g.powerLimitW).toBe(400);
    expect(g.temperatureC).toBe(36);
    expect(g.migMode).toBe('enabled');
    expect(g.migDevices.map((d) => [d.gpuInstanceId, d.computeInstanceId, d.multiprocessorCount])).toEqual([
      [1, 0, 42],
      [2, 0, 42],
    ]);
    expect(g.migDevices[0]?.memory).toEqual({ totalBytes: 19968 * MiB, usedBytes: 19 * MiB });
    expect(g.memory.totalBytes).toBe(40960 * MiB);
    expect(g.processes).toEqual([]); // <processes>\n</processes>
    expect(g.eccUncorrectedVolatile).toBeNull(); // all volatile counters N/A
    expect(g.clocks).toEqual({ smMHz: 1410, memMHz: 1215 });
  });

  it('RTX 3060, 570: power from instant_power_draw (no power_draw), mig_devices None', () => {
    const log = parseNvidiaSmiXml(readFixture(RTX3060));
    expect(log.driverVersion).toBe('570.124.04');
    const g = only(readFixture(RTX3060));
    expect(g.name).toBe('NVIDIA GeForce RTX 3060');
    expect(g.powerW).toBe(11.63); // instant, not the 11.60 W average
    expect(g.powerLimitW).toBe(170);
    expect(g.migMode).toBe('unsupported');
    expect(g.pendingMigMode).toBe('unsupported');
    expect(g.migDevices).toEqual([]);
    expect(g.serial).toBeNull(); // N/A
    expect(g.utilization).toEqual({ gpu: 0, memory: 0, encoder: 0, decoder: 0 }); // real zeros
    expect(g.memory).toEqual({ totalBytes: 12288 * MiB, usedBytes: 116 * MiB });
    expect(g.temperatureC).toBe(42);
    expect(g.pciBusId).toBe('00000000:2D:00.0');
    expect(g.eccUncorrectedVolatile).toBeNull();
  });

  it('2× RTX A5000, 590, DTD v13: one llama-server process on each GPU', () => {
    const log = parseNvidiaSmiXml(readFixture(A5000X2));
    expect(log.driverVersion).toBe('590.44.01');
    expect(log.cudaVersion).toBe('13.1');
    expect(log.attachedGpus).toBe(2);
    expect(log.gpus.map((g) => [g.pciBusId, g.uuid, g.minorNumber])).toEqual([
      ['00000000:81:00.0', 'GPU-12345678-aaaa-bbbb-cccc-0123456789ab', 1],
      ['00000000:C1:00.0', 'GPU-12345678-aaaa-bbbb-cccc-0123456789cd', 0], // minor_number is not the order
    ]);
    expect(log.gpus.map((g) => g.processes)).toEqual([
      [
        {
          pid: 100477,
          name: '/root/src/llama.cpp/build/bin/llama-server',
          type: 'C',
          usedMemoryBytes: 22430 * MiB,
          gpuInstanceId: null,
          computeInstanceId: null,
        },
      ],
      [
        {
          pid: 100477,
          name: '/root/src/llama.cpp/build/bin/llama-server',
          type: 'C',
          usedMemoryBytes: 17246 * MiB,
          gpuInstanceId: null,
          computeInstanceId: null,
        },
      ],
    ]);
    expect(log.gpus.map((g) => g.powerW)).toEqual([6.52, 13.59]);
    expect(log.gpus.map((g) => g.powerLimitW)).toEqual([230, 230]);
    expect(log.gpus.map((g) => g.memory.usedBytes)).toEqual([22437 * MiB, 17253 * MiB]);
    expect(log.gpus.map((g) => g.temperatureC)).toEqual([13, 15]);
    expect(log.gpus[0]?.eccUncorrectedVolatile).toBeNull();
  });

  it.each(fixtureNames().filter((n) => n.endsWith('.xml')))(
    '%s: the prefilter changes nothing but the size',
    (name) => {
      const xml = readFixture(name);
      expect(keepReadElements(xml).length).toBeLessThan(xml.length * 0.3);
      expect(parseNvidiaSmiXml(xml)).toEqual(parseNvidiaSmiXml(xml, { prefilter: false }));
    }
  );
});

// A minimal document in the real layout, for hostile and edge cases.
function doc(gpus: string, head = ''): string {
  return `<?xml version="1.0" ?>\n<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">\n<nvidia_smi_log>${head}${gpus}</nvidia_smi_log>\n`;
}
function gpu(inner: string, id = '00000000:01:00.0'): string {
  return `<gpu id="${id}">${inner}</gpu>`;
}

describe('parseNvidiaSmiXml on hostile or broken input', () => {
  it('empty output', () => {
    expect(parseError(() => parseNvidiaSmiXml('')).message).toBe('nvidia-smi -q -x: output is empty');
    expect(parseError(() => parseNvidiaSmiXml(' \n\t\n')).problem).toBe('output is empty');
  });

  it('a crash message instead of XML', () => {
    const e = parseError(() => parseNvidiaSmiXml('Segmentation fault (core dumped)\n'));
    expect(e.message).toBe("nvidia-smi -q -x: output is not XML (starts with 'Segmentation fault (core dumped)')");
    expect(e.source).toBe('nvidia-smi -q -x');
    const driver = parseError(() =>
      parseNvidiaSmiXml(
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n"
      )
    );
    expect(driver.message).toBe(
      "nvidia-smi -q -x: output is not XML (starts with 'NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Ma…')"
    );
  });

  it('garbage bytes: a short, printable message', () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) % 256));
    const e = parseError(() => parseNvidiaSmiXml(bytes.toString('latin1')));
    expect(e.problem).toMatch(/^output is not XML \(starts with '/);
    // eslint-disable-next-line no-control-regex
    expect(e.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(e.message.length).toBeLessThan(140);
  });

  it('XML that is not an nvidia-smi log', () => {
    expect(parseError(() => parseNvidiaSmiXml('<?xml version="1.0"?><html><body/></html>')).problem).toMatch(
      /^output has no <nvidia_smi_log> root element/
    );
  });

  it.each([0.5, 0.9, 0.999])('a real document cut at %d of its length (killed on timeout)', (frac) => {
    const xml = readFixture(A100_80);
    const e = parseError(() => parseNvidiaSmiXml(xml.slice(0, Math.floor(xml.length * frac))));
    expect(e.problem).toMatch(/^output is truncated: no closing <\/nvidia_smi_log>/);
  });

  it('a real document cut inside a tag', () => {
    const xml = readFixture(A5000X2);
    expect(parseError(() => parseNvidiaSmiXml(xml.slice(0, xml.indexOf('<uuid>') + 3))).problem).toMatch(/truncated/);
  });

  it('two documents glued together', () => {
    const xml = readFixture(RTX3060);
    expect(parseError(() => parseNvidiaSmiXml(xml + xml)).problem).toMatch(/more than one <nvidia_smi_log> document/);
  });

  it('billion laughs: entities are not expanded', () => {
    const lol = [
      '<?xml version="1.0"?>',
      '<!DOCTYPE nvidia_smi_log [',
      '  <!ENTITY lol "lol">',
      ...Array.from({ length: 9 }, (_, i) => `  <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`),
      ']>',
      `<nvidia_smi_log><driver_version>&lol9;</driver_version>${gpu('<uuid>GPU-1</uuid><product_name>&lol;</product_name>')}</nvidia_smi_log>`,
    ].join('\n');
    const before = process.memoryUsage().heapUsed;
    const log = parseNvidiaSmiXml(lol);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * MiB);
    expect(log.driverVersion).toBe('&lol9;');
    expect(log.gpus[0]?.name).toBe('&lol;');
  }, HANG_GUARD_MS);

  it('external entities are refused', () => {
    const xxe =
      '<?xml version="1.0"?>\n<!DOCTYPE nvidia_smi_log [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n' +
      `<nvidia_smi_log>${gpu('<uuid>GPU-1</uuid><product_name>&xxe;</product_name>')}</nvidia_smi_log>`;
    expect(parseError(() => parseNvidiaSmiXml(xxe)).message).toBe(
      'nvidia-smi -q -x: malformed XML: External entities are not supported'
    );
  });

  it('decodes only the predefined entities and character references', () => {
    const g = only(
      doc(
        gpu(
          '<uuid>GPU-1</uuid><product_name>A &amp; B &lt;x&gt; &#x41;&#66; &unknown; &amp;lt;</product_name>' +
            '<processes><process_info><pid>7</pid><process_name>python3 -c &quot;x&quot;</process_name></process_info></processes>'
        )
      )
    );
    expect(g.name).toBe('A & B <x> AB &unknown; &lt;');
    expect(g.processes[0]?.name).toBe('python3 -c "x"');
  });

  it('impossible numbers become null, never 0', () => {
    const g = only(
      doc(
        gpu(
          '<uuid>GPU-1</uuid>' +
            '<fb_memory_usage><total>99999999999999999999 MiB</total><used>-5 MiB</used></fb_memory_usage>' +
            '<gpu_power_readings><power_draw>NaN W</power_draw><current_power_limit>[Unknown Error]</current_power_limit></gpu_power_readings>' +
            '<temperature><gpu_temp>-273 C</gpu_temp></temperature>' +
            '<utilization><gpu_util>250 %</gpu_util><memory_util>Infinity %</memory_util></utilization>' +
            '<clocks><sm_clock>1e9 MHz</sm_clock></clocks>' +
            '<processes><process_info><pid>-1</pid><process_name>x</process_name></process_info>' +
            '<process_info><pid>12</pid><used_memory>[N/A]</used_memory></process_info></processes>'
        )
      )
    );
    expect(g.memory).toEqual({ totalBytes: null, usedBytes: null });
    expect(g.powerW).toBeNull();
    expect(g.powerLimitW).toBeNull();
    expect(g.temperatureC).toBeNull();
    expect(g.utilization.gpu).toBeNull();
    expect(g.utilization.memory).toBeNull();
    expect(g.clocks.smMHz).toBeNull();
    expect(g.processes).toEqual([
      { pid: 12, name: '', type: null, usedMemoryBytes: null, gpuInstanceId: null, computeInstanceId: null },
    ]);
  });

  it('skips a GPU without uuid, keeps the rest; missing elements are null', () => {
    const log = parseNvidiaSmiXml(
      doc(
        gpu('<product_name>ghost</product_name>', '00000000:02:00.0') +
          gpu('<uuid>GPU-2</uuid>', '00000000:03:00.0') +
          '<gpu/>'
      )
    );
    expect(log.gpus).toHaveLength(1);
    const g = log.gpus[0];
    expect(g?.uuid).toBe('GPU-2');
    expect(g?.pciBusId).toBe('00000000:03:00.0'); // from the id attribute when <pci> is missing
    expect(g?.name).toBe('');
    expect(g?.migMode).toBe('unsupported');
    expect(g?.pendingMigMode).toBeNull();
    expect(g?.powerW).toBeNull();
    expect(g?.memory).toEqual({ totalBytes: null, usedBytes: null });
    expect(g?.virtualizationMode).toBeNull();
    expect(g?.eccUncorrectedVolatile).toBeNull();
    expect(log.driverVersion).toBeNull();
    expect(log.attachedGpus).toBeNull();
  });

  it('an empty log has no GPUs', () => {
    expect(parseNvidiaSmiXml('<nvidia_smi_log></nvidia_smi_log>')).toEqual({
      timestamp: null,
      driverVersion: null,
      cudaVersion: null,
      attachedGpus: null,
      gpus: [],
    });
  });

  it('older ECC layout: volatile double_bit total', () => {
    const g = only(
      doc(
        gpu(
          '<uuid>GPU-1</uuid><ecc_errors><volatile><single_bit><total>5</total></single_bit>' +
            '<double_bit><device_memory>2</device_memory><total>3</total></double_bit></volatile></ecc_errors>'
        )
      )
    );
    expect(g.eccUncorrectedVolatile).toBe(3);
  });

  it('deep nesting is refused, not a stack overflow', () => {
    const deep = `${'<volatile>'.repeat(5000)}${'</volatile>'.repeat(5000)}`;
    const xml = doc(gpu(`<uuid>GPU-1</uuid>${deep}`));
    expect(parseError(() => parseNvidiaSmiXml(xml)).problem).toMatch(/^malformed XML/);
    expect(parseError(() => parseNvidiaSmiXml(xml, { prefilter: false })).problem).toMatch(/^malformed XML/);
  });

  it('element names cannot pollute prototypes', () => {
    parseNvidiaSmiXml(
      doc(gpu('<uuid>GPU-1</uuid><__proto__><polluted>yes</polluted></__proto__><constructor>x</constructor>'))
    );
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('an unclosed unread element does not make the prefilter quadratic or lossy', () => {
    const xml = doc(
      gpu(
        '<uuid>GPU-1</uuid>' +
          '<supported_clocks>'.repeat(20_000) +
          '<fb_memory_usage><total>1 MiB</total></fb_memory_usage>'
      )
    );
    const kept = keepReadElements(xml);
    expect(kept.split('<supported_clocks>')).toHaveLength(20_001);
    expect(kept).toContain('<fb_memory_usage><total>1 MiB</total></fb_memory_usage>');
    const manyOpen = doc(gpu('<uuid>GPU-1</uuid>' + '<x '.repeat(50_000)));
    const keptOpen = keepReadElements(manyOpen);
    expect(keptOpen).toContain('<uuid>GPU-1</uuid>');
    expect(keptOpen.length).toBeLessThanOrEqual(manyOpen.length);
  }, HANG_GUARD_MS);

  it('the prefilter drops unread elements of any shape, keeps read ones', () => {
    expect(
      keepReadElements(
        '<nvidia_smi_log>\n  <future_thing a="1"><uuid>NO</uuid></future_thing>\n  <empty/>\n  <gpu id="x">\n    <uuid>GPU-1</uuid>' +
          '<fan_speed>30 %</fan_speed><ecc_errors><volatile><sram_uncorrectable_parity>1</sram_uncorrectable_parity>' +
          '<sram_correctable>9</sram_correctable></volatile></ecc_errors>\n  </gpu>\n</nvidia_smi_log>'
      )
    ).toBe(
      '<nvidia_smi_log><gpu id="x"><uuid>GPU-1</uuid><ecc_errors><volatile><sram_uncorrectable_parity>1</sram_uncorrectable_parity>' +
        '</volatile></ecc_errors></gpu></nvidia_smi_log>'
    );
  });

  it('refuses oversized output before parsing it', () => {
    const huge = `<nvidia_smi_log>${' '.repeat(64 * MiB)}</nvidia_smi_log>`;
    expect(parseError(() => parseNvidiaSmiXml(huge)).problem).toMatch(
      /^output is too large \(64\.0 MiB, limit 64\.0 MiB\)/
    );
    expect(parseError(() => parseNvidiaSmiXml(readFixture(RTX3060), { maxChars: 1000 })).problem).toMatch(/too large/);
  });

  it('a 10,000-GPU document is parsed in bounded time', () => {
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const bus = `00000000:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}.0`;
      parts.push(
        gpu(
          `<product_name>G${i}</product_name><uuid>GPU-${i}</uuid><pci><pci_bus_id>${bus}</pci_bus_id></pci>` +
            '<fb_memory_usage><total>1024 MiB</total><used>1 MiB</used></fb_memory_usage>' +
            '<supported_clocks><supported_mem_clock><value>1 MHz</value></supported_mem_clock></supported_clocks>',
          bus
        )
      );
    }
    const xml = doc(parts.join('\n'));
    const log = parseNvidiaSmiXml(xml);
    expect(log.gpus).toHaveLength(10_000);
    expect(log.gpus[9_999]?.uuid).toBe('GPU-9999');
    expect(log.gpus[9_999]?.memory.totalBytes).toBe(1024 * MiB);
  }, HANG_GUARD_MS);
});
