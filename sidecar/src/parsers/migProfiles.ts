// `nvidia-smi mig -lgip`: the GPU instance profiles of each MIG-enabled GPU, with how many instances of each
// could still be created ("Instances Free/Total"). The table, as printed by drivers 510–590:
//   |   0  MIG 1g.10gb       19     7/7        9.75       No     16     1     0   |
//   |                                                             1     1     0   |
// (older drivers print one line per profile, without P2P). Only the first line of each profile carries
// what we read: GPU index, name, profile id, free/total. Pure: text in, rows out.

export interface MigProfileRow {
  /** nvidia-smi's GPU index. */
  gpu: number;
  /** The profile name without "MIG " ("1g.10gb", "1g.10gb+me"). */
  profile: string;
  profileId: number;
  free: number;
  total: number;
}

const ROW = /^\|\s*(\d+)\s+MIG\s+(\S{1,64})\s+(\d+)\s+(\d+)\/(\d+)\s/;

export class MigProfilesParseError extends Error {}

/** Rows of every GPU; `[]` when nvidia-smi says no GPU has MIG on. Throws on anything else without rows. */
export function parseMigProfiles(text: string): MigProfileRow[] {
  const rows: MigProfileRow[] = [];
  for (const line of text.split('\n')) {
    const m = ROW.exec(line.trimEnd());
    if (!m) continue;
    const [gpu, profile, id, free, total] = [Number(m[1]), m[2] as string, Number(m[3]), Number(m[4]), Number(m[5])];
    if (free > total) continue;
    rows.push({ gpu, profile, profileId: id, free, total });
  }
  if (rows.length === 0) {
    if (/No MIG-enabled devices found/i.test(text)) return [];
    if (!/GPU instance profiles:/.test(text)) {
      const first = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
      throw new MigProfilesParseError(`not a "nvidia-smi mig -lgip" table${first ? `: ${JSON.stringify(first)}` : ' (empty)'}`);
    }
  }
  return rows;
}
