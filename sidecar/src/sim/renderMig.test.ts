// The fake's `nvidia-smi mig -lgip`: the real layout (read back by the sidecar's parser), and Free counts that
// follow the instances already placed.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMigProfiles } from '../parsers/migProfiles.js';
import { parseArgs } from './fakeCli.js';
import { renderMigProfiles } from './renderMig.js';
import { loadScenarioFile } from './scenario.js';
import { hostStateAt } from './state.js';

const here = dirname(fileURLToPath(import.meta.url));
const load = (name: string) => loadScenarioFile(join(here, 'scenarios', `${name}.yaml`));

describe('fake nvidia-smi mig -lgip', () => {
  it('prints the two-line table 79 columns wide, and the parser reads back what is left to create', () => {
    const state = hostStateAt(load('capacity'), 10);
    const text = renderMigProfiles({ gpus: state.gpus });
    for (const line of text.trimEnd().split('\n')) expect(line).toHaveLength(79);
    expect(text).toContain('|   4  MIG 1g.10gb       19     1/7        9.75       No     16     1     0   |');
    // 3g.40gb + 3×1g.10gb use 6 of 7 compute slices and 7 of 8 memory slices: one more 1g.10gb fits, nothing else.
    expect(parseMigProfiles(text).map((r) => [r.gpu, r.profile, r.free, r.total])).toEqual([
      [4, '1g.10gb', 1, 7], [4, '1g.20gb', 0, 4], [4, '2g.20gb', 0, 3], [4, '3g.40gb', 0, 2], [4, '4g.40gb', 0, 1], [4, '7g.80gb', 0, 1],
    ]);
  });

  it('no room left on the demo\'s full MIG GPUs, in either of GPU 1\'s layouts', () => {
    const demo = load('demo');
    const rows = (t: number) => {
      const s = hostStateAt(demo, t);
      return parseMigProfiles(renderMigProfiles({ gpus: s.gpus })).filter((r) => r.free > 0);
    };
    expect(rows(100)).toEqual([]);
    expect(rows(400)).toEqual([]);
  });

  it('says so when no GPU has MIG on; parses `mig -lgip [-i N]` and refuses other mig commands', () => {
    const small = hostStateAt(load('small'), 0);
    expect(renderMigProfiles({ gpus: small.gpus })).toBe('No MIG-enabled devices found.\n');
    expect(parseArgs(['mig', '-lgip', '-i', '4'])).toMatchObject({ command: 'mig', ids: ['4'] });
    expect(() => parseArgs(['mig', '-cgi', '9'])).toThrow();
  });
});
