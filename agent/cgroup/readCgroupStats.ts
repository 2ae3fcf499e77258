/**
 * One cgroup's files → its values. For each group of quantities the v2 file is read when
 * the cgroup has one, else the v1 controller's files: in hybrid mode that gives CPU from
 * v2 (where systemd enables little else) and memory and I/O from v1.
 *
 * A file that is not there is normal (the v2 root cgroup has no `memory.current`; a cgroup
 * without the pids controller has no `pids.current`) and only means a quantity is absent,
 * unless the cgroup's directory went with it: then the cgroup vanished during the walk,
 * which is normal too (a container stopped), and nothing of it is reported.
 */
import { join } from 'node:path';
import type { Checked } from '../../core/outcome.js';
import { errorText, isGone, type CgroupFileSystem } from './cgroupFileSystem.js';
import type { CgroupValues } from './cgroupMetrics.js';
import type { CgroupTree } from './findHierarchy.js';
import { parseBlkioServiceBytes, parseCount, parseIoStat, parseKeyedCounts, type IoBytes } from './parseCgroupFiles.js';
import type { CgroupLocation } from './walkCgroups.js';

export interface CgroupProblem {
  readonly reason: 'malformed' | 'unreadable';
  readonly message: string;
}

export type CgroupReading =
  | { readonly kind: 'vanished' }
  | { readonly kind: 'read'; readonly values: CgroupValues; readonly problems: readonly CgroupProblem[] };

type FileRead = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'absent' } | { readonly kind: 'failed' };

/** USER_HZ, the unit of `cpuacct.stat`: 100 on every architecture Linux exports to user space. */
const USER_HZ = 100;

export async function readCgroupStats(cgroup: CgroupLocation, fs: CgroupFileSystem): Promise<CgroupReading> {
  const values: CgroupValues = {};
  const problems: CgroupProblem[] = [];
  let sawMissingFile = false;

  const read = async (tree: CgroupTree, file: string): Promise<FileRead> => {
    const dir = cgroup.dirs.get(tree);
    if (dir === undefined) return { kind: 'absent' };
    try {
      return { kind: 'text', text: await fs.readText(join(dir, file)) };
    } catch (error) {
      if (isGone(error)) {
        sawMissingFile = true;
        return { kind: 'absent' };
      }
      problems.push({ reason: 'unreadable', message: `${file}: ${errorText(error)}` });
      return { kind: 'failed' };
    }
  };
  /** Applies a parsed file, or records why it could not be parsed. */
  const use = <T>(file: string, parsed: Checked<T>, apply: (value: T) => void): void => {
    if (parsed.ok) apply(parsed.value);
    else problems.push({ reason: 'malformed', message: `${file}: ${parsed.error}` });
  };

  const readCpu = async (): Promise<void> => {
    const stat = await read('unified', 'cpu.stat');
    if (stat.kind === 'text') {
      use('cpu.stat', parseKeyedCounts(stat.text, ['usage_usec', 'user_usec', 'system_usec']), (c) => {
        values.cpuTotalSeconds = c.usage_usec / 1e6;
        values.cpuUserSeconds = c.user_usec / 1e6;
        values.cpuSystemSeconds = c.system_usec / 1e6;
      });
    }
    if (stat.kind !== 'absent') return;
    const usage = await read('cpuacct', 'cpuacct.usage');
    const ticks = await read('cpuacct', 'cpuacct.stat');
    if (usage.kind === 'text') use('cpuacct.usage', parseCount(usage.text), (ns) => (values.cpuTotalSeconds = ns / 1e9));
    if (ticks.kind === 'text') {
      use('cpuacct.stat', parseKeyedCounts(ticks.text, ['user', 'system']), (t) => {
        values.cpuUserSeconds = t.user / USER_HZ;
        values.cpuSystemSeconds = t.system / USER_HZ;
      });
    }
  };

  const readMemory = async (): Promise<void> => {
    const current = await read('unified', 'memory.current');
    if (current.kind === 'text') {
      const stat = await read('unified', 'memory.stat');
      applyMemory('memory.current', parseCount(current.text), stat, ['anon', 'file', 'inactive_file']);
    }
    if (current.kind !== 'absent') return;
    const usage = await read('memory', 'memory.usage_in_bytes');
    const stat = await read('memory', 'memory.stat');
    // `memory.usage_in_bytes` counts the cgroup's descendants too, and so do the `total_*`
    // lines of `memory.stat` (plain `rss` is the cgroup's own pages only, near 0 for a
    // slice). cAdvisor, behind the kubelet source, reads the same lines.
    const hierarchical = stat.kind === 'text' && /^total_rss\s/m.test(stat.text);
    const keys = hierarchical ? (['total_rss', 'total_cache', 'total_inactive_file'] as const) : (['rss', 'cache', 'inactive_file'] as const);
    if (usage.kind === 'text') applyMemory('memory.usage_in_bytes', parseCount(usage.text), stat, keys);
  };
  /** `keys` name rss, cache and inactive file pages, in that order, in the version's `memory.stat`. */
  const applyMemory = (usageFile: string, usage: Checked<number>, stat: FileRead, keys: readonly [string, string, string]): void => {
    use(usageFile, usage, (bytes) => (values.memoryUsageBytes = bytes));
    if (stat.kind !== 'text') return;
    const [rss, cache, inactiveFile] = keys;
    use('memory.stat', parseKeyedCounts(stat.text, keys), (s) => {
      values.memoryRssBytes = s[rss]!;
      values.memoryCacheBytes = s[cache]!;
      // Usage and memory.stat are read at different instants, so the difference can dip below 0.
      if (usage.ok) values.memoryWorkingSetBytes = Math.max(0, usage.value - s[inactiveFile]!);
    });
  };

  const readIo = async (): Promise<void> => {
    const applyIo = (io: IoBytes): void => {
      values.ioReadBytes = io.readBytes;
      values.ioWriteBytes = io.writeBytes;
    };
    const stat = await read('unified', 'io.stat');
    if (stat.kind === 'text') use('io.stat', parseIoStat(stat.text), applyIo);
    if (stat.kind !== 'absent') return;
    // The recursive file counts descendants as v2 does; kernels before 4.x have only the plain one.
    for (const file of ['blkio.throttle.io_service_bytes_recursive', 'blkio.throttle.io_service_bytes']) {
      const bytes = await read('blkio', file);
      if (bytes.kind === 'text') use(file, parseBlkioServiceBytes(bytes.text), applyIo);
      if (bytes.kind !== 'absent') return;
    }
  };

  const readPids = async (): Promise<void> => {
    let current = await read('unified', 'pids.current');
    if (current.kind === 'absent') current = await read('pids', 'pids.current');
    if (current.kind === 'text') use('pids.current', parseCount(current.text), (n) => (values.pids = n));
  };

  // One file at a time, so that problems come out in the same order every time; the source
  // reads several cgroups side by side, which is where the waiting overlaps.
  await readCpu();
  await readMemory();
  await readIo();
  await readPids();
  if (sawMissingFile && (await anyDirectoryGone(cgroup, fs))) return { kind: 'vanished' };
  return { kind: 'read', values, problems };
}

async function anyDirectoryGone(cgroup: CgroupLocation, fs: CgroupFileSystem): Promise<boolean> {
  for (const dir of cgroup.dirs.values()) {
    try {
      if (!(await fs.exists(dir))) return true;
    } catch {
      // Cannot tell (permissions): report what was read rather than call it gone.
    }
  }
  return false;
}
