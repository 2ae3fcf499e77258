/**
 * The cgroups to read: every directory of every tree, merged by path, since under v1 and
 * hybrid layouts one cgroup (`/system.slice/sshd.service`) has a directory in each tree
 * that holds it.
 *
 * The walk is breadth-first over all trees at once and stops taking cgroups at
 * `maxCgroups`, so a machine with thousands of cgroups costs a bounded number of reads and
 * the shallow ones (slices, the root) are the ones kept. A cgroup seen past the bound is
 * counted as skipped and not descended into, which is what keeps the walk itself bounded:
 * the count is of cgroups seen, not of every cgroup under them.
 */
import { join } from 'node:path';
import { errorText, isGone, type CgroupFileSystem } from './cgroupFileSystem.js';
import type { CgroupLayout, CgroupTree } from './findHierarchy.js';

export interface CgroupLocation {
  /** The path from the root cgroup: `/` for the root, `/system.slice/sshd.service` below it. */
  readonly path: string;
  /** Its directory in each tree that holds it. */
  readonly dirs: ReadonlyMap<CgroupTree, string>;
}

export interface CgroupWalk {
  /** In breadth-first order, the root first. */
  readonly cgroups: readonly CgroupLocation[];
  readonly skipped: number;
  /** Directories that could not be listed for another reason than having gone. */
  readonly problems: readonly string[];
}

export async function walkCgroups(layout: CgroupLayout, fs: CgroupFileSystem, maxCgroups: number): Promise<CgroupWalk> {
  const found = new Map<string, Map<CgroupTree, string>>();
  const skipped = new Set<string>();
  const problems: string[] = [];
  const queue: { tree: CgroupTree; path: string; dir: string }[] = [];
  for (const [tree, dir] of layout.trees) {
    queue.push({ tree, path: '/', dir });
    found.set('/', (found.get('/') ?? new Map<CgroupTree, string>()).set(tree, dir));
  }
  for (let next = 0; next < queue.length; next++) {
    const { tree, path, dir } = queue[next]!;
    let names: string[];
    try {
      names = await fs.subdirectories(dir);
    } catch (error) {
      // A cgroup removed since its parent was listed has no children to walk; reading it will say it vanished.
      if (!isGone(error)) problems.push(`cannot list cgroup ${JSON.stringify(path)} in ${tree}: ${errorText(error)}`);
      continue;
    }
    for (const name of names.sort()) {
      const childPath = path === '/' ? `/${name}` : `${path}/${name}`;
      const childDir = join(dir, name);
      const dirs = found.get(childPath);
      if (dirs) dirs.set(tree, childDir);
      else if (found.size < maxCgroups) found.set(childPath, new Map([[tree, childDir]]));
      else {
        skipped.add(childPath);
        continue;
      }
      queue.push({ tree, path: childPath, dir: childDir });
    }
  }
  return { cgroups: [...found].map(([path, dirs]) => ({ path, dirs })), skipped: skipped.size, problems };
}
