// The builder for prefiltered nvidia-smi text gives fast-xml-parser's tree, or hands the text back (null).
import { buildKeptXml } from './keptXml.js';
import { fastXmlTree, isArrayElement, keepReadElements } from './nvidiaSmiXml.js';
import { fixtureNames, readFixture } from './__tests__/fixtures.js';

const isArray = isArrayElement;
const fxp = { parse: fastXmlTree };
const known = new Set(['nvidia_smi_log', 'gpu', 'uuid', 'product_name', 'processes', 'process_info', 'pid', 'a', 'b', 'mig_device', 'volatile']);
const build = (xml: string) => buildKeptXml(xml, (n) => known.has(n) || n.includes('uncorrectable'), isArray);
const buildRead = (xml: string) => buildKeptXml(xml, () => true, isArray);

describe('buildKeptXml', () => {
  it.each(fixtureNames().filter((n) => n.endsWith('.xml')))('%s: the same tree as fast-xml-parser', (name) => {
    const kept = keepReadElements(readFixture(name));
    const tree = buildRead(kept);
    expect(tree).not.toBeNull();
    expect(tree).toEqual(fxp.parse(kept));
  });

  it.each([
    ['text, children and text', '<nvidia_smi_log> x <a>1</a> y <a/> <b></b></nvidia_smi_log>'],
    ['an id with text and children', '<nvidia_smi_log><gpu id=" 0:1 ">t<uuid>U</uuid></gpu><gpu id=\'2\'/><gpu/></nvidia_smi_log>'],
    ['one array element, repeated leaves', '<nvidia_smi_log><processes><process_info><pid>1</pid><pid>2</pid></process_info></processes></nvidia_smi_log>'],
    ['entities kept raw', '<?xml version="1.0" ?><!DOCTYPE nvidia_smi_log SYSTEM "v12.dtd"><nvidia_smi_log><product_name>A &amp; B &#65; &x;</product_name></nvidia_smi_log>'],
    ['ECC names', '<nvidia_smi_log><volatile><sram_uncorrectable>1</sram_uncorrectable><dram_uncorrectable>2</dram_uncorrectable></volatile></nvidia_smi_log>'],
  ])('%s: the same tree as fast-xml-parser', (_what, xml) => {
    const tree = build(xml);
    expect(tree).not.toBeNull();
    expect(tree).toEqual(fxp.parse(xml));
  });

  it.each([
    ['an internal DTD subset', '<!DOCTYPE nvidia_smi_log [ <!ENTITY x "y"> ]><nvidia_smi_log><a>&x;</a></nvidia_smi_log>'],
    ['a comment', '<nvidia_smi_log><!-- c --><a>1</a></nvidia_smi_log>'],
    ['CDATA', '<nvidia_smi_log><a><![CDATA[<b>]]></a></nvidia_smi_log>'],
    ['another attribute', '<nvidia_smi_log><gpu idx="1"/></nvidia_smi_log>'],
    ['an entity in the id', '<nvidia_smi_log><gpu id="&amp;"/></nvidia_smi_log>'],
    ['an unknown element', '<nvidia_smi_log><future>1</future></nvidia_smi_log>'],
    ['__proto__', '<nvidia_smi_log><__proto__><a>1</a></__proto__></nvidia_smi_log>'],
    ['a mismatched end tag', '<nvidia_smi_log><a>1</b></nvidia_smi_log>'],
    ['an unclosed element', '<nvidia_smi_log><a>1</nvidia_smi_log>'],
    ['an end tag too many', '<nvidia_smi_log></a></nvidia_smi_log>'],
    ['two roots', '<nvidia_smi_log></nvidia_smi_log><nvidia_smi_log></nvidia_smi_log>'],
    ['text outside the root', 'junk<nvidia_smi_log></nvidia_smi_log>'],
    ['a stray >', '<nvidia_smi_log><a>1 > 0</a></nvidia_smi_log>'],
    ['deep nesting', `<nvidia_smi_log>${'<volatile>'.repeat(40)}${'</volatile>'.repeat(40)}</nvidia_smi_log>`],
    ['no root', ''],
    ['two DOCTYPEs', '<!DOCTYPE nvidia_smi_log><!DOCTYPE nvidia_smi_log><nvidia_smi_log></nvidia_smi_log>'],
    ['markup in the DOCTYPE', '<!DOCTYPE a <x>><nvidia_smi_log></nvidia_smi_log>'],
    ['an unclosed quote in the declaration', '<?xml version="1.0?><nvidia_smi_log></nvidia_smi_log>'],
    ['CR LF in text', '<nvidia_smi_log><product_name>A\r\nB</product_name></nvidia_smi_log>'],
    ['CR in an id', '<nvidia_smi_log><gpu id="a\rb"/></nvidia_smi_log>'],
  ])('%s: handed back to fast-xml-parser', (_what, xml) => {
    expect(build(xml)).toBeNull();
  });

  // Hang guards (jest's deadline, not a speed claim): each input was quadratic in an earlier builder.
  it('many DOCTYPEs are refused at the second, not scanned back each time', () => {
    const xml = `<?xml version="1.0"?>${'<!DOCTYPE a>'.repeat(200_000)}<nvidia_smi_log></nvidia_smi_log>`;
    expect(build(xml)).toBeNull();
  }, 20_000);

  it('text around many children is joined once', () => {
    const xml = `<nvidia_smi_log><processes>${'xxxxxxxxxxxxxxxx<pid/>'.repeat(100_000)}</processes></nvidia_smi_log>`;
    const tree = build(xml);
    expect(tree).toEqual(fxp.parse(xml));
  }, 20_000);
});
