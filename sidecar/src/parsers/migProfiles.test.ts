// `nvidia-smi mig -lgip` parsed from a real root session (A100-PCIE-40GB, driver 510) and the newer two-line
// layout (what the fake prints from the H100 captures' format).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MigProfilesParseError, parseMigProfiles } from './migProfiles.js';

const FIXTURES = join(process.cwd(), '..', 'tests', 'fixtures', 'nvidia-smi');

/** The output of the session's `nvidia-smi mig -lgip` command, up to the next prompt. */
function lgipOfSession(): string {
  const text = readFileSync(join(FIXTURES, 'mig-cli-session_a100-pcie-40gb_esxi_510.47.03.txt'), 'utf8');
  const start = text.indexOf('nvidia-smi mig -lgip');
  return text.slice(text.indexOf('\n', start) + 1, text.indexOf('[root@', start + 1));
}

describe('nvidia-smi mig -lgip', () => {
  it('reads every profile of the real A100 capture', () => {
    expect(parseMigProfiles(lgipOfSession())).toEqual([
      { gpu: 0, profile: '1g.5gb', profileId: 19, free: 0, total: 7 },
      { gpu: 0, profile: '1g.5gb+me', profileId: 20, free: 0, total: 1 },
      { gpu: 0, profile: '2g.10gb', profileId: 14, free: 0, total: 3 },
      { gpu: 0, profile: '3g.20gb', profileId: 9, free: 0, total: 2 },
      { gpu: 0, profile: '4g.20gb', profileId: 5, free: 0, total: 1 },
      { gpu: 0, profile: '7g.40gb', profileId: 0, free: 0, total: 1 },
    ]);
  });

  it('reads the two-line layout of newer drivers, several GPUs', () => {
    const text = [
      '+-----------------------------------------------------------------------------+',
      '| GPU instance profiles:                                                      |',
      '| GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC  |',
      '|                              Free/Total   GiB              CE    JPEG  OFA  |',
      '|=============================================================================|',
      '|   0  MIG 1g.10gb       19     2/7        9.75       No     16     1     0   |',
      '|                                                             1     1     0   |',
      '+-----------------------------------------------------------------------------+',
      '|   1  MIG 3g.40gb        9     1/2        39.50      No     60     3     0   |',
      '|                                                             3     3     0   |',
      '+-----------------------------------------------------------------------------+',
    ].join('\n');
    expect(parseMigProfiles(text)).toEqual([
      { gpu: 0, profile: '1g.10gb', profileId: 19, free: 2, total: 7 },
      { gpu: 1, profile: '3g.40gb', profileId: 9, free: 1, total: 2 },
    ]);
  });

  it('answers no rows when no GPU has MIG on, and refuses other text', () => {
    expect(parseMigProfiles('No MIG-enabled devices found.\n')).toEqual([]);
    expect(() => parseMigProfiles('Insufficient Permissions\n')).toThrow(MigProfilesParseError);
    expect(() => parseMigProfiles('')).toThrow(/empty/);
  });
});
