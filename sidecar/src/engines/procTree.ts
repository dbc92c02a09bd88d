// The /proc table by pid and by parent, and the walk from a process to all its descendants: what
// discovery of native engines (an API server's EngineCore and workers) and of containers (a container's
// first process and everything under it) both need, built once per scan each; and the role
// classification of an engine's processes (vllmCmdline.ts), which needs only pid and parent.
/** What a tree needs of a process; procScan's records and vllmCmdline's both have it. */
export interface ProcNode {
  pid: number;
  ppid: number;
}

export interface ProcTree<P extends ProcNode> {
  byPid: Map<number, P>;
  children: Map<number, P[]>;
}

export function procTree<P extends ProcNode>(procs: readonly P[]): ProcTree<P> {
  const byPid = new Map<number, P>();
  const children = new Map<number, P[]>();
  for (const p of procs) {
    byPid.set(p.pid, p);
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
  }
  return { byPid, children };
}

/** The processes of `roots` and of all their descendants, breadth first, each once; pids not in the table are left out. */
export function descendants<P extends ProcNode>(roots: readonly number[], tree: ProcTree<P>): P[] {
  const out: P[] = [];
  const queue = [...roots];
  const seen = new Set<number>();
  // An index, not shift(): a queue of thousands would be moved at every step.
  for (let i = 0; i < queue.length; i++) {
    const pid = queue[i] as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const self = tree.byPid.get(pid);
    if (self) out.push(self);
    for (const c of tree.children.get(pid) ?? []) queue.push(c.pid);
  }
  return out;
}
