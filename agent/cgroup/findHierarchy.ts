/**
 * Where the cgroup files are. Three layouts exist in the wild:
 * - v2 (unified): `<root>/cgroup.controllers`; one tree holds every controller;
 * - hybrid (systemd's default for years): v2 at `<root>/unified`, often with no controller
 *   enabled there except CPU accounting, and the v1 controllers beside it;
 * - v1: one tree per controller, `<root>/cpuacct`, `<root>/memory`, … (`cpuacct` is often a
 *   symlink to `cpu,cpuacct`, which reading through the link handles).
 *
 * The source reads v2 files where present and falls back to the v1 controller trees, so
 * one rule serves all three layouts; `kind` is only for reporting.
 */
import { join } from 'node:path';
import type { CgroupFileSystem } from './cgroupFileSystem.js';

/** The trees read: the v2 one and the v1 controllers whose files are read. */
export type CgroupTree = 'unified' | 'cpuacct' | 'memory' | 'blkio' | 'pids';

export const V1_CONTROLLERS = ['cpuacct', 'memory', 'blkio', 'pids'] as const satisfies readonly CgroupTree[];

export interface CgroupLayout {
  readonly kind: 'v2' | 'hybrid' | 'v1';
  /** The directory of each tree's root cgroup, for the trees that are mounted. */
  readonly trees: ReadonlyMap<CgroupTree, string>;
}

/** The layout under `root`, or undefined when no cgroup tree is mounted there. Throws on permission errors. */
export async function findHierarchy(root: string, fs: CgroupFileSystem): Promise<CgroupLayout | undefined> {
  if (await fs.exists(join(root, 'cgroup.controllers'))) return { kind: 'v2', trees: new Map([['unified', root]]) };
  const trees = new Map<CgroupTree, string>();
  const unified = join(root, 'unified');
  const hybrid = await fs.exists(join(unified, 'cgroup.controllers'));
  if (hybrid) trees.set('unified', unified);
  for (const controller of V1_CONTROLLERS) {
    // A v1 mount point can be an empty directory when the controller is not mounted;
    // `cgroup.procs` exists in every mounted v1 cgroup.
    const dir = join(root, controller);
    if (await fs.exists(join(dir, 'cgroup.procs'))) trees.set(controller, dir);
  }
  if (trees.size === 0) return undefined;
  return { kind: hybrid ? 'hybrid' : 'v1', trees };
}
