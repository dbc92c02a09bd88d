import { type DataFrame, FieldType, createDataFrame } from '@grafana/data';

const GiB = 1024 ** 3;

/**
 * A synthetic fleet in the sidecar's topology frame shape (ids gpu:<uuid>, mig:<uuid>,
 * engine:<id>, worker:<engineId>/<rank>; string mainstat; load 0..1): `gpus` GPUs with `migPerGpu`
 * MIG instances each, and `engines` engines of `tp` ranks, rank r of engine e on MIG instance 0 of
 * GPU (e*tp+r). Used to check the panel stays readable and fast at 64 GPUs / 448 MIG / 32 engines
 * (jest, and the browser bench).
 */
export function syntheticTopology({ gpus = 64, migPerGpu = 7, engines = 32, tp = 2, hosts = 8 } = {}): DataFrame[] {
  const rows: Array<Record<string, unknown>> = [];
  const edges: Array<[string, string]> = [];
  for (let g = 0; g < gpus; g++) {
    const host = `host-${String(Math.floor(g / (gpus / hosts))).padStart(2, '0')}`;
    const gid = `gpu:GPU-${g}`;
    rows.push({
      id: gid,
      kind: 'gpu',
      title: `GPU ${g % (gpus / hosts)} · H100`,
      subtitle: `${host} · MIG`,
      detail__host: host,
      detail__index: g % (gpus / hosts),
      detail__uuid: `GPU-${g}`,
      detail__utilizationGpu: (g * 37) % 100,
      detail__memoryUsedBytes: ((g * 13) % 80) * GiB,
      detail__memoryTotalBytes: 80 * GiB,
      detail__migMode: 'enabled',
      mainstat: `${(g * 13) % 80} GiB used`,
      load: ((g * 13) % 80) / 80,
    });
    for (let m = 0; m < migPerGpu; m++) {
      const mid = `mig:MIG-${g}-${m}`;
      rows.push({
        id: mid,
        kind: 'mig',
        title: '1g.10gb',
        subtitle: `GI ${m + 7}`,
        detail__host: host,
        detail__gpuUuid: `GPU-${g}`,
        detail__profile: '1g.10gb',
        detail__gpuInstanceId: m + 7,
        detail__computeInstanceId: 0,
        detail__memoryUsedBytes: (((g + m) * 3) % 10) * GiB,
        detail__memoryTotalBytes: 10 * GiB,
        load: (((g + m) * 3) % 10) / 10,
      });
      edges.push([gid, mid]);
    }
  }
  for (let e = 0; e < engines; e++) {
    const eid = `engine:E${e}`;
    rows.push({
      id: eid,
      kind: 'engine',
      title: `model-${String(e).padStart(2, '0')}`,
      subtitle: `:${8000 + e}`,
      mainstat: `KV ${((e * 7) % 10) * 10} %`,
      detail__kvCacheUsage: ((e * 7) % 10) / 10,
      load: ((e * 7) % 10) / 10,
      detail__running: e % 5,
      detail__waiting: e % 3,
    });
    for (let r = 0; r < tp; r++) {
      const wid = `worker:E${e}/${r}`;
      rows.push({
        id: wid,
        kind: 'worker',
        title: `rank ${r}`,
        subtitle: '',
        detail__rank: r,
        detail__engineId: `E${e}`,
      });
      edges.push([eid, wid]);
      const g = (e * tp + r) % gpus;
      edges.push([wid, `mig:MIG-${g}-0`]);
    }
  }
  const names = Array.from(new Set(rows.flatMap((r) => Object.keys(r))));
  const nodes = createDataFrame({
    name: 'nodes',
    fields: names.map((name) => ({
      name,
      type: typeof rows.find((r) => r[name] !== undefined)?.[name] === 'number' ? FieldType.number : FieldType.string,
      values: rows.map((r) => (r[name] === undefined ? null : r[name])),
    })),
  });
  const edgesFrame = createDataFrame({
    name: 'edges',
    fields: [
      { name: 'id', type: FieldType.string, values: edges.map(([s, t]) => `${s}->${t}`) },
      { name: 'source', type: FieldType.string, values: edges.map(([s]) => s) },
      { name: 'target', type: FieldType.string, values: edges.map(([, t]) => t) },
    ],
  });
  return [nodes, edgesFrame];
}
