// `nvidia-smi mig -lgip` of the simulated host: each MIG-enabled GPU's instance profiles with how many more
// instances of each could be created next to the ones that exist (Free) and at most (Total), in the layout
// of drivers 525+ (two lines per profile, P2P column), as printed on an H100 by real users.
import type { MigProfileInfo } from './catalog.js';
import type { SimGpu } from './state.js';

const RULE = `+${'-'.repeat(77)}+`;
const HEADER = [
  RULE,
  '| GPU instance profiles:                                                      |',
  '| GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC  |',
  '|                              Free/Total   GiB              CE    JPEG  OFA  |',
  `|${'='.repeat(77)}|`,
];

/** NVML's profile ids of the A100/H100 generation (19 is 1g, 20 its +me twin, 15 1g with two memory slices…). */
const PROFILE_IDS: Record<number, Record<number, number>> = {
  // computeSlices → memorySlices → id
  1: { 1: 19, 2: 15 },
  2: { 2: 14 },
  3: { 4: 9 },
  4: { 4: 5 },
  7: { 8: 0 },
};

/** How many more instances of `p` fit: placed one by one at the driver's first free start, as mig -cgi would. */
export function creatable(g: SimGpu, p: MigProfileInfo): number {
  const used = new Array<boolean>(g.model.migSlots).fill(false);
  let compute = 0;
  for (const d of g.mig.devices) {
    const prof = g.model.migProfiles[d.profile];
    if (!prof) continue;
    compute += prof.computeSlices;
    for (let s = d.placementStart; s < d.placementStart + prof.memorySlices; s++) used[s] = true;
  }
  let n = 0;
  for (;;) {
    if (compute + p.computeSlices > g.model.migComputeSlices) return n;
    const start = p.starts.find((s) => s + p.memorySlices <= g.model.migSlots && used.slice(s, s + p.memorySlices).every((u) => !u));
    if (start === undefined) return n;
    for (let s = start; s < start + p.memorySlices; s++) used[s] = true;
    compute += p.computeSlices;
    n++;
  }
}

function row(gpu: number, name: string, id: number, free: number, total: number, p: MigProfileInfo): string[] {
  // nvidia-smi truncates: 20096 MiB prints as 19.62.
  const gib = (Math.floor((p.memoryMiB / 1024) * 100) / 100).toFixed(2);
  const first =
    `|${String(gpu).padStart(4)}  ${`MIG ${name}`.padEnd(17)}${String(id).padStart(3)}     ${`${free}/${total}`.padEnd(11)}${gib.padEnd(11)}No` +
    `${String(p.multiprocessors).padStart(7)}${String(p.decoders).padStart(6)}${String(p.encoders).padStart(6)}   |`;
  const second = `|${String(p.copyEngines).padStart(62)}${String(p.jpegs).padStart(6)}${String(p.ofas).padStart(6)}   |`;
  return [first, second, RULE];
}

export function renderMigProfiles(sel: { gpus: SimGpu[] }): string {
  const gpus = sel.gpus.filter((g) => g.mig.enabled);
  if (gpus.length === 0) return 'No MIG-enabled devices found.\n';
  const lines = [...HEADER];
  for (const g of gpus) {
    const profiles = Object.values(g.model.migProfiles).sort((a, b) => a.computeSlices - b.computeSlices || a.memorySlices - b.memorySlices);
    for (const p of profiles) {
      const id = PROFILE_IDS[p.computeSlices]?.[p.memorySlices] ?? 0;
      lines.push(...row(g.index, p.name, id, creatable(g, p), p.starts.length, p));
    }
  }
  // Each profile ends with a rule line, the last one closing the table.
  return `${lines.join('\n')}\n`;
}
