import {
  naToNull,
  normalizePciBusId,
  parseCelsius,
  parseIntOrNull,
  parseMHz,
  parseMiB,
  parsePercent,
  parseWatts,
} from './values.js';

describe('naToNull', () => {
  it.each([
    'N/A',
    '[N/A]',
    '[Not Supported]',
    '[Insufficient Permissions]',
    '[Unknown Error]',
    'Not Supported',
    'Unknown Error',
    'Requested functionality has been deprecated',
    '[Requested functionality has been deprecated]',
    '[GPU requires reset]',
    'Not Found',
    '',
    '   ',
    '  N/A  ',
    'n/a',
  ])('%j is missing', (v) => {
    expect(naToNull(v)).toBeNull();
  });

  it('keeps real values, trimmed', () => {
    expect(naToNull('  Pass-Through ')).toBe('Pass-Through');
    expect(naToNull('None')).toBe('None');
    expect(naToNull('0')).toBe('0');
    expect(naToNull('Not Active')).toBe('Not Active');
    expect(naToNull('N/A (Expiry: N/A)')).toBe('N/A (Expiry: N/A)');
  });

  it('gives null for non-strings', () => {
    expect(naToNull(undefined)).toBeNull();
    expect(naToNull(null)).toBeNull();
    expect(naToNull(42)).toBeNull();
    expect(naToNull({ '#text': 'x' })).toBeNull();
  });
});

describe('parseMiB', () => {
  it('converts nvidia-smi sizes to bytes', () => {
    expect(parseMiB('19968 MiB')).toBe(20937965568);
    expect(parseMiB('0 MiB')).toBe(0);
    expect(parseMiB('2036MiB')).toBe(2036 * 1048576);
    expect(parseMiB('4 GiB')).toBe(4 * 1024 ** 3);
    expect(parseMiB('512 KiB')).toBe(512 * 1024);
    expect(parseMiB('100 B')).toBe(100);
    expect(parseMiB('1.5 GiB')).toBe(1610612736);
    expect(parseMiB('81920')).toBe(81920 * 1048576);
  });

  it.each([
    '-5 MiB',
    'NaN MiB',
    'Infinity MiB',
    '99999999999999999999 MiB',
    '1e3 MiB',
    '12 MB',
    '12 bananas',
    'N/A',
    '[N/A]',
    '',
    '0x10 MiB',
  ])('%j is null, never 0', (v) => {
    expect(parseMiB(v)).toBeNull();
  });
});

describe('unit parsers', () => {
  it('percent', () => {
    expect(parsePercent('12 %')).toBe(12);
    expect(parsePercent('0 %')).toBe(0);
    expect(parsePercent('7%')).toBe(7);
    expect(parsePercent('100 %')).toBe(100);
    expect(parsePercent('101 %')).toBeNull();
    expect(parsePercent('-1 %')).toBeNull();
    expect(parsePercent('N/A')).toBeNull();
    expect(parsePercent('12 W')).toBeNull();
  });

  it('watts', () => {
    expect(parseWatts('67.03 W')).toBe(67.03);
    expect(parseWatts('500.00 W')).toBe(500);
    expect(parseWatts('NaN W')).toBeNull();
    expect(parseWatts('-3 W')).toBeNull();
    expect(parseWatts('1000000 W')).toBeNull();
    expect(parseWatts('[Not Supported]')).toBeNull();
    expect(parseWatts('67.03 MHz')).toBeNull();
  });

  it('celsius', () => {
    expect(parseCelsius('27 C')).toBe(27);
    expect(parseCelsius('53C')).toBe(53);
    expect(parseCelsius('-8 C')).toBeNull();
    expect(parseCelsius('9999 C')).toBeNull();
    expect(parseCelsius('N/A')).toBeNull();
  });

  it('megahertz', () => {
    expect(parseMHz('1275 MHz')).toBe(1275);
    expect(parseMHz('Requested functionality has been deprecated')).toBeNull();
    expect(parseMHz('99999999 MHz')).toBeNull();
  });

  it('integers', () => {
    expect(parseIntOrNull('42')).toBe(42);
    expect(parseIntOrNull(' 0 ')).toBe(0);
    expect(parseIntOrNull('N/A')).toBeNull();
    expect(parseIntOrNull('-1')).toBeNull();
    expect(parseIntOrNull('1.5')).toBeNull();
    expect(parseIntOrNull('99999999999999999999')).toBeNull();
    expect(parseIntOrNull('12abc')).toBeNull();
  });
});

describe('normalizePciBusId', () => {
  it('makes the formats of different commands comparable', () => {
    expect(normalizePciBusId('00000001:C8:00.0')).toBe('00000001:c8:00.0');
    expect(normalizePciBusId('0001:c8:00.0')).toBe('00000001:c8:00.0');
    expect(normalizePciBusId('00000000:2D:00.0')).toBe(normalizePciBusId('0000:2d:00.0'));
    expect(normalizePciBusId('2d:00.0')).toBe('00000000:2d:00.0');
    expect(normalizePciBusId(' not a bus id ')).toBe('not a bus id');
  });
});
