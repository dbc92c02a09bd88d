// `nvidia-smi -L`: GPU index, name and UUID, and per MIG device its profile and UUID.
//
//   GPU 0: NVIDIA H200 (UUID: GPU-00000000-0000-0000-0000-000000000000)
//     MIG 1c.3g.71gb  Device  0: (UUID: MIG-00000000-0000-0000-0000-000000000000)
//     MIG 2g.35gb     Device  2: (UUID: MIG-00000002-0000-0000-0000-000000000002)
//
// Older drivers (R450/R460) print MIG UUIDs as "MIG-GPU-<gpu uuid>/<gi>/<ci>": any UUID token is
// accepted. This is the only place nvidia-smi states the GPU index and the MIG profile names and
// UUIDs next to each other; the MIG "Device N" is the `<mig_device><index>` of `nvidia-smi -q -x`.
//
// Lines that are neither are ignored, so a shell session or capture around the output does no harm;
// a MIG line only attaches to a GPU line directly above it (other MIG lines in between).

export interface ListedMigDevice {
  /** "Device N": the MIG device index, equal to `<mig_device><index>` in the XML. */
  index: number;
  /** "3g.40gb", "1c.3g.71gb", "1g.5gb+me". */
  profile: string;
  uuid: string;
}

export interface ListedGpu {
  index: number;
  name: string;
  uuid: string;
  migDevices: ListedMigDevice[];
}

const GPU_LINE = /^\s*GPU (\d{1,6}): (.+?) \(UUID: ([^\s()]+)\)\s*$/;
const MIG_LINE = /^\s+MIG (\S+)\s+Device\s+(\d{1,6}):\s*\(UUID: ([^\s()]+)\)\s*$/;
/** Longest line looked at; real lines are < 120 characters. Bounds regex work on junk. */
const MAX_LINE = 512;

export function parseNvidiaSmiList(text: string): ListedGpu[] {
  if (typeof text !== 'string') return [];
  const gpus: ListedGpu[] = [];
  const byUuid = new Map<string, ListedGpu>();
  let current: ListedGpu | null = null;

  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length > MAX_LINE) {
      current = null;
      continue;
    }
    const g = GPU_LINE.exec(line);
    if (g) {
      const [, index = '', name = '', uuid = ''] = g;
      // The same GPU listed again (e.g. `nvidia-smi nvlink -s` also prints "GPU 0: ... (UUID: ...)"
      // lines): keep one entry; MIG lines that follow still attach to it. Two indexes with one UUID
      // are two GPUs (a masked capture, a broken board): both kept.
      const key = `${index}|${uuid}`;
      const known = byUuid.get(key);
      if (known) {
        known.name = name.trim();
        current = known;
      } else {
        current = { index: Number(index), name: name.trim(), uuid, migDevices: [] };
        byUuid.set(key, current);
        gpus.push(current);
      }
      continue;
    }
    const m = MIG_LINE.exec(line);
    if (m && current) {
      const [, profile = '', index = '', uuid = ''] = m;
      const dev: ListedMigDevice = { index: Number(index), profile, uuid };
      const at = current.migDevices.findIndex((d) => d.index === dev.index);
      if (at >= 0) current.migDevices[at] = dev;
      else current.migDevices.push(dev);
      continue;
    }
    // Anything else ends the current GPU's block.
    current = null;
  }
  return gpus;
}
