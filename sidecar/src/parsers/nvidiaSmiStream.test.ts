import { keepReadElements, parseNvidiaSmiXml } from './nvidiaSmiXml.js';
import { splitSmiLogStream, type SmiLogStreamSplitter } from './nvidiaSmiStream.js';
import { readFixture } from './__tests__/fixtures.js';

const XMLS = [
  'q-x_a100-sxm4-80gb_mig-enabled_535.54.03.xml',
  'q-x_a100-sxm4-40gb_mig-enabled_passthrough_510.47.03.xml',
  'q-x_rtx-3060_570.124.04.xml',
  'q-x_2x-rtx-a5000_llama-server_590.44.01.xml',
];
/** A real document as the splitter returns it: from "<?xml" to "</nvidia_smi_log>". */
const docs = XMLS.map((n) => readFixture(n).trim());

function feed(s: SmiLogStreamSplitter, text: string, chunk: number): { documents: string[]; errors: string[] } {
  const documents: string[] = [];
  const errors: string[] = [];
  for (let i = 0; i < text.length; i += chunk) {
    const r = s.push(text.slice(i, i + chunk));
    documents.push(...r.documents);
    errors.push(...r.errors);
  }
  const r = s.end();
  return { documents: [...documents, ...r.documents], errors: [...errors, ...r.errors] };
}

describe('splitSmiLogStream', () => {
  it.each([1, 3, 17, 4096, 65536, 10_000_000])('splits real documents fed in %d-character chunks', (chunk) => {
    const stream = docs.join('\n');
    const { documents, errors } = feed(splitSmiLogStream(), stream, chunk);
    expect(errors).toEqual([]);
    expect(documents).toEqual(docs);
    expect(documents.map((d) => parseNvidiaSmiXml(d).driverVersion)).toEqual([
      '535.54.03',
      '510.47.03',
      '570.124.04',
      '590.44.01',
    ]);
  });

  it('reports text between documents and keeps going', () => {
    const stream = `${docs[2]}\nFailed to initialize NVML: Unknown Error\n${docs[2]}\n`;
    const { documents, errors } = feed(splitSmiLogStream(), stream, 100);
    expect(documents).toEqual([docs[2], docs[2]]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^dropped \d+ characters of non-XML output: 'Failed to initialize NVML: Unknown Error'$/);
  });

  it('drops a document cut short by the next one', () => {
    const a = docs[0] ?? '';
    const stream = `${a.slice(0, 5000)}${docs[2]}`;
    const { documents, errors } = feed(splitSmiLogStream(), stream, 1000);
    expect(documents).toEqual([docs[2]]);
    expect(errors).toEqual(['dropped an incomplete document (5000 characters) cut short by the next one']);
  });

  it('bounds its buffer and recovers', () => {
    const s = splitSmiLogStream({ maxBufferChars: 10_000 });
    const r1 = s.push(`<?xml version="1.0"?><nvidia_smi_log>${'<x>1</x>'.repeat(2000)}`);
    expect(r1.documents).toEqual([]);
    expect(r1.errors).toHaveLength(1);
    expect(r1.errors[0]).toMatch(/^dropped \d+ characters holding no complete document \(limit 10000\)$/);
    expect(s.bufferedChars).toBe(0);
    // The rest of the oversized document is garbage now; the next real one is found again.
    const r2 = s.push(`${'<x>1</x>'.repeat(10)}</nvidia_smi_log>\n${docs[2]}`);
    expect(r2.documents).toEqual([docs[2]]);
    expect(r2.errors).toHaveLength(1);
  });

  it('holds at most a few characters of garbage', () => {
    const s = splitSmiLogStream();
    for (let i = 0; i < 1000; i++) s.push('garbage garbage garbage <');
    expect(s.bufferedChars).toBe(1); // a "<" that could start "<?xml"
    const r = s.push(`?xml version="1.0"?>${(docs[2] ?? '').slice('<?xml version="1.0"?>'.length)}`);
    expect(r.documents).toEqual([docs[2]]);
    // One report for the whole run of garbage, not one per chunk.
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/^dropped 24999 characters of non-XML output: 'garbage garbage garbage < ?garbage/);
  });

  it('reports a long run of garbage without waiting for a document', () => {
    const s = splitSmiLogStream();
    const errors: string[] = [];
    for (let i = 0; i < 100; i++) errors.push(...s.push('x'.repeat(1000)).errors);
    expect(errors).toEqual([`dropped 66000 characters of non-XML output: '${'x'.repeat(80)}…'`]);
    expect(s.end().errors).toEqual([`dropped 34000 characters of non-XML output: '${'x'.repeat(80)}…'`]);
  });

  it('reports a stream that ends inside a document', () => {
    const s = splitSmiLogStream();
    expect(s.push((docs[1] ?? '').slice(0, 300)).documents).toEqual([]);
    expect(s.bufferedChars).toBe(300);
    expect(s.end().errors).toEqual(['stream ended inside a document (300 characters dropped)']);
    expect(s.bufferedChars).toBe(0);
  });

  it('stays linear with tiny chunks of a large document', () => {
    const big = docs[3] ?? '';
    const { documents } = feed(splitSmiLogStream(), big, 2);
    expect(documents).toEqual([big]);
  }, 20_000); // a hang guard against a quadratic rescan, not a speed claim

  it('ignores empty and non-string chunks', () => {
    const s = splitSmiLogStream();
    expect(s.push('')).toEqual({ documents: [], errors: [] });
    expect(s.push(undefined as unknown as string)).toEqual({ documents: [], errors: [] });
    expect(s.end()).toEqual({ documents: [], errors: [] });
  });
});

describe('splitSmiLogStream with a filter', () => {
  it.each([1, 3, 17, 4096, 65536, 10_000_000])('gives what filtering each whole document gives, in %d-character chunks', (chunk) => {
    const stream = docs.join('\n');
    const { documents, errors } = feed(splitSmiLogStream({ keep: keepReadElements }), stream, chunk);
    expect(errors).toEqual([]);
    expect(documents).toEqual(docs.map(keepReadElements));
    expect(documents.map((d) => parseNvidiaSmiXml(d))).toEqual(docs.map((d) => parseNvidiaSmiXml(d)));
  });

  it('counts and bounds what it holds by the raw text', () => {
    const s = splitSmiLogStream({ maxBufferChars: 1000, keep: keepReadElements });
    // Most of it filtered away at the cut after </gpu>, but counted as it came.
    const input = `<?xml version="1.0"?><nvidia_smi_log><gpu><uuid>GPU-1</uuid></gpu>${'<supported_clocks>x</supported_clocks>'.repeat(40)}`;
    const r = s.push(input);
    expect(r.errors).toEqual([`dropped ${input.length} characters holding no complete document (limit 1000)`]);
    expect(s.bufferedChars).toBe(0);
  });
});
