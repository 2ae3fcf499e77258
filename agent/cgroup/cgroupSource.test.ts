import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Counters } from '../../core/counters.js';
import type { Metric } from '../../core/envelope.js';
import { nodeCgroupFileSystem, type CgroupFileSystem } from './cgroupFileSystem.js';
import { CgroupSource, type CgroupSourceOptions } from './cgroupSource.js';

const NOW_MS = 1_700_000_000_123;

// Real file contents, cut from a 6.x kernel (v2) and a 5.x kernel (v1), numbers made round.
const CPU_STAT_V2 = (usage: number, user: number, system: number): string =>
  `usage_usec ${usage}\nuser_usec ${user}\nsystem_usec ${system}\ncore_sched.force_idle_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n`;
const MEMORY_STAT_V2 = (anon: number, file: number, inactiveFile: number): string =>
  `anon ${anon}\nfile ${file}\nkernel 4194304\nkernel_stack 262144\npagetables 1048576\nsock 0\nshmem 0\nfile_mapped 10485760\nfile_dirty 0\n` +
  `inactive_anon 0\nactive_anon ${anon}\ninactive_file ${inactiveFile}\nactive_file ${file - inactiveFile}\nunevictable 0\nslab 1572864\npgfault 12345\n`;
const MEMORY_STAT_V1 = (rss: number, cache: number, inactiveFile: number): string =>
  `cache 11034624\nrss 8671232\nrss_huge 0\nshmem 0\nmapped_file 7675904\ninactive_anon 0\nactive_anon 1531904\ninactive_file 446464\nactive_file 1503232\nunevictable 0\n` +
  `hierarchical_memory_limit 9223372036854771712\ntotal_cache ${cache}\ntotal_rss ${rss}\ntotal_rss_huge 0\ntotal_inactive_anon 0\ntotal_active_anon ${rss}\n` +
  `total_inactive_file ${inactiveFile}\ntotal_active_file ${cache - inactiveFile}\ntotal_unevictable 0\n`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kansoku-cgroup-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `files` (path relative to the fake root → contents) under the temp dir. */
async function tree(files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

function source(options: Partial<CgroupSourceOptions> = {}): { cgroups: CgroupSource; counters: Counters } {
  const counters = new Counters();
  const cgroups = new CgroupSource({ root: dir, hostname: 'node-1', now: () => NOW_MS, counters, ...options });
  return { cgroups, counters };
}

/** Records as `cgroup name value` rows: compact to compare, and the order is part of what is checked. */
function rows(records: readonly Metric[]): string[] {
  return records.map((metric) => `${metric.dimensions['cgroup']} ${metric.name} ${metric.value}`);
}

describe('CgroupSource on cgroup v2', () => {
  beforeEach(async () => {
    await tree({
      'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      'cpu.stat': CPU_STAT_V2(2_500_000, 1_500_000, 1_000_000),
      // The root cgroup has no memory.current: it must not be an error.
      'memory.stat': MEMORY_STAT_V2(1, 1, 1),
      'io.stat': '8:0 rbytes=1048576 wbytes=2097152 rios=10 wios=20 dbytes=0 dios=0\n253:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
      'system.slice/cpu.stat': CPU_STAT_V2(1_234_567, 1_000_000, 234_567),
      'system.slice/memory.current': '157286400\n',
      'system.slice/memory.stat': MEMORY_STAT_V2(104_857_600, 52_428_800, 20_971_520),
      'system.slice/io.stat': '',
      'system.slice/pids.current': '42\n',
      // Usage read before a burst of page cache: working set floors at 0.
      'system.slice/sshd.service/cpu.stat': CPU_STAT_V2(10, 6, 4),
      'system.slice/sshd.service/memory.current': '1000\n',
      'system.slice/sshd.service/memory.stat': MEMORY_STAT_V2(100, 5000, 4000),
    });
  });

  it('measures every cgroup, root first, with exact values', async () => {
    const { cgroups, counters } = source();
    const { records, errors } = await cgroups.collect();
    expect(errors).toEqual([]);
    expect(rows(records)).toEqual([
      '/ container.cpu.total_time 2.5',
      '/ container.cpu.user_time 1.5',
      '/ container.cpu.system_time 1',
      '/ container.io.read_bytes 1052672',
      '/ container.io.write_bytes 2105344',
      '/system.slice container.cpu.total_time 1.234567',
      '/system.slice container.cpu.user_time 1',
      '/system.slice container.cpu.system_time 0.234567',
      '/system.slice container.mem.used_bytes 157286400',
      '/system.slice container.mem.working_set_bytes 136314880',
      '/system.slice container.mem.rss_bytes 104857600',
      '/system.slice container.mem.cache_bytes 52428800',
      '/system.slice container.io.read_bytes 0',
      '/system.slice container.io.write_bytes 0',
      '/system.slice container.pids 42',
      '/system.slice/sshd.service container.cpu.total_time 0.00001',
      '/system.slice/sshd.service container.cpu.user_time 0.000006',
      '/system.slice/sshd.service container.cpu.system_time 0.000004',
      '/system.slice/sshd.service container.mem.used_bytes 1000',
      '/system.slice/sshd.service container.mem.working_set_bytes 0',
      '/system.slice/sshd.service container.mem.rss_bytes 100',
      '/system.slice/sshd.service container.mem.cache_bytes 5000',
    ]);
    expect(counters.get('kansoku_agent_measurements_total', { source: 'cgroup' })).toBe(22);
  });

  it('gives each measurement the cgroup dimensions', async () => {
    const { records } = await source().cgroups.collect();
    expect(records[0]).toEqual({ name: 'container.cpu.total_time', dimensions: { hostname: 'node-1', cgroup: '/', container_name: '/' }, timestamp: NOW_MS, value: 2.5, value_meta: null });
    expect(records.find((r) => r.dimensions['cgroup'] === '/system.slice/sshd.service')?.dimensions).toEqual({
      hostname: 'node-1',
      cgroup: '/system.slice/sshd.service',
      container_name: 'sshd.service',
    });
  });
});

describe('CgroupSource on cgroup v1', () => {
  beforeEach(async () => {
    await tree({
      'cpuacct/cgroup.procs': '1\n',
      'cpuacct/cpuacct.usage': '196857275042\n',
      'cpuacct/cpuacct.stat': 'user 17120\nsystem 2565\n',
      'cpuacct/docker/abc/cpuacct.usage': '5000000000\n',
      'cpuacct/docker/abc/cpuacct.stat': 'user 300\nsystem 150\n',
      'memory/cgroup.procs': '1\n',
      'memory/memory.usage_in_bytes': '818409472\n',
      'memory/memory.stat': MEMORY_STAT_V1(553_918_464, 264_572_928, 75_804_672),
      'memory/docker/abc/memory.usage_in_bytes': '1048576\n',
      // A kernel without the hierarchical lines: the cgroup's own ones are used.
      'memory/docker/abc/memory.stat': 'cache 524288\nrss 262144\ninactive_file 131072\n',
      // Only in the memory tree: still a cgroup of its own.
      'memory/process_api/memory.usage_in_bytes': '2048\n',
      'blkio/cgroup.procs': '1\n',
      'blkio/blkio.throttle.io_service_bytes_recursive': '8:0 Read 1048576\n8:0 Write 2097152\n8:0 Sync 3145728\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 3145728\n253:0 Read 4096\n253:0 Write 0\n253:0 Total 4096\nTotal 3149824\n',
      // An old kernel's non-recursive file, used when the recursive one is missing.
      'blkio/docker/abc/blkio.throttle.io_service_bytes': '8:0 Read 10\n8:0 Write 20\nTotal 30\n',
      'pids/cgroup.procs': '1\n',
      'pids/docker/abc/pids.current': '7\n',
      // An unmounted controller's empty mount point is not a tree.
      'cpuset/.keep': '',
    });
  });

  it('merges the controller trees by path, breadth-first, and converts ns, ticks and bytes', async () => {
    const { records, errors } = await source().cgroups.collect();
    expect(errors).toEqual([]);
    expect(rows(records)).toEqual([
      '/ container.cpu.total_time 196.857275042',
      '/ container.cpu.user_time 171.2',
      '/ container.cpu.system_time 25.65',
      '/ container.mem.used_bytes 818409472',
      '/ container.mem.working_set_bytes 742604800',
      '/ container.mem.rss_bytes 553918464',
      '/ container.mem.cache_bytes 264572928',
      '/ container.io.read_bytes 1052672',
      '/ container.io.write_bytes 2097152',
      '/process_api container.mem.used_bytes 2048',
      '/docker/abc container.cpu.total_time 5',
      '/docker/abc container.cpu.user_time 3',
      '/docker/abc container.cpu.system_time 1.5',
      '/docker/abc container.mem.used_bytes 1048576',
      '/docker/abc container.mem.working_set_bytes 917504',
      '/docker/abc container.mem.rss_bytes 262144',
      '/docker/abc container.mem.cache_bytes 524288',
      '/docker/abc container.io.read_bytes 10',
      '/docker/abc container.io.write_bytes 20',
      '/docker/abc container.pids 7',
    ]);
  });
});

describe('CgroupSource on a hybrid layout', () => {
  it('reads CPU from v2 where it has it and the rest from the v1 controllers', async () => {
    await tree({
      'unified/cgroup.controllers': 'hugetlb\n',
      'unified/cpu.stat': CPU_STAT_V2(192_688_167, 167_576_745, 25_111_421),
      // v1 also has the root's CPU; v2 wins where present.
      'cpuacct/cgroup.procs': '',
      'cpuacct/cpuacct.usage': '999000000000\n',
      'cpuacct/cpuacct.stat': 'user 1\nsystem 1\n',
      'cpuacct/user.slice/cpuacct.usage': '3000000000\n',
      'cpuacct/user.slice/cpuacct.stat': 'user 200\nsystem 100\n',
      'memory/cgroup.procs': '',
      'memory/memory.usage_in_bytes': '800000000\n',
      'memory/memory.stat': MEMORY_STAT_V1(500_000_000, 250_000_000, 100_000_000),
      'memory/user.slice/memory.usage_in_bytes': '4096\n',
    });
    const { records, errors } = await source().cgroups.collect();
    expect(errors).toEqual([]);
    expect(rows(records)).toEqual([
      '/ container.cpu.total_time 192.688167',
      '/ container.cpu.user_time 167.576745',
      '/ container.cpu.system_time 25.111421',
      '/ container.mem.used_bytes 800000000',
      '/ container.mem.working_set_bytes 700000000',
      '/ container.mem.rss_bytes 500000000',
      '/ container.mem.cache_bytes 250000000',
      '/user.slice container.cpu.total_time 3',
      '/user.slice container.cpu.user_time 2',
      '/user.slice container.cpu.system_time 1',
      '/user.slice container.mem.used_bytes 4096',
    ]);
  });
});

describe('CgroupSource when things go wrong', () => {
  const v2Cgroup = (path: string): Record<string, string> => ({
    [`${path}/cpu.stat`]: CPU_STAT_V2(1_000_000, 600_000, 400_000),
    [`${path}/memory.current`]: '4096\n',
  });
  const cpuTotals = (records: readonly Metric[]): string[] =>
    rows(records.filter((r) => r.name === 'container.cpu.total_time'));

  it('reports a cgroup that vanishes between the walk and the read, and measures the others', async () => {
    await tree({ 'cgroup.controllers': '', ...v2Cgroup('.'), ...v2Cgroup('a'), ...v2Cgroup('b'), ...v2Cgroup('c') });
    // Removes b the moment its first file is read: what a container stopping mid-collection looks like.
    let removed = false;
    const fileSystem: CgroupFileSystem = {
      ...nodeCgroupFileSystem,
      readText: async (path) => {
        if (!removed && path.startsWith(join(dir, 'b'))) {
          removed = true;
          await rm(join(dir, 'b'), { recursive: true });
        }
        return nodeCgroupFileSystem.readText(path);
      },
    };
    const { cgroups, counters } = source({ fileSystem });
    const { records, errors } = await cgroups.collect();
    expect(removed).toBe(true);
    expect(errors).toEqual(['cgroup "/b" vanished during the walk']);
    expect(counters.get('kansoku_agent_cgroup_errors_total', { reason: 'vanished' })).toBe(1);
    expect(cpuTotals(records)).toEqual(['/ container.cpu.total_time 1', '/a container.cpu.total_time 1', '/c container.cpu.total_time 1']);
    expect(records.some((r) => r.dimensions['cgroup'] === '/b')).toBe(false);
  });

  it('reports malformed files and keeps the quantities that parsed', async () => {
    await tree({
      'cgroup.controllers': '',
      ...v2Cgroup('.'),
      'bad/cpu.stat': 'usage_usec 12abc\nuser_usec 1\nsystem_usec 1\n',
      'bad/memory.current': 'garbage\n',
      'bad/memory.stat': MEMORY_STAT_V2(300, 200, 100),
      'bad/io.stat': '8:0 rbytes=NaN wbytes=1\n',
      ...v2Cgroup('good'),
    });
    const { cgroups, counters } = source();
    const { records, errors } = await cgroups.collect();
    expect(errors).toEqual([
      'cgroup "/bad": cpu.stat: usage_usec is "12abc", not a count',
      'cgroup "/bad": memory.current: "garbage" is not a count',
      'cgroup "/bad": io.stat: rbytes of 8:0 is "NaN", not a count',
    ]);
    expect(counters.get('kansoku_agent_cgroup_errors_total', { reason: 'malformed' })).toBe(3);
    // rss and cache stand on their own; the working set needs the usage, so it is not guessed.
    expect(rows(records.filter((r) => r.dimensions['cgroup'] === '/bad'))).toEqual([
      '/bad container.mem.rss_bytes 300',
      '/bad container.mem.cache_bytes 200',
    ]);
    expect(cpuTotals(records)).toEqual(['/ container.cpu.total_time 1', '/good container.cpu.total_time 1']);
  });

  it('reports a file it may not read and does not fall back past it', async () => {
    await tree({ 'cgroup.controllers': '', ...v2Cgroup('.'), ...v2Cgroup('locked') });
    const fileSystem: CgroupFileSystem = {
      ...nodeCgroupFileSystem,
      readText: (path) =>
        path === join(dir, 'locked', 'cpu.stat')
          ? Promise.reject(Object.assign(new Error('permission denied'), { code: 'EACCES' }))
          : nodeCgroupFileSystem.readText(path),
    };
    const { cgroups, counters } = source({ fileSystem });
    const { records, errors } = await cgroups.collect();
    expect(errors).toEqual(['cgroup "/locked": cpu.stat: EACCES']);
    expect(counters.get('kansoku_agent_cgroup_errors_total', { reason: 'unreadable' })).toBe(1);
    expect(rows(records.filter((r) => r.dimensions['cgroup'] === '/locked'))).toEqual(['/locked container.mem.used_bytes 4096']);
  });

  it('stops at maxCgroups breadth-first and counts the cgroups it saw but skipped', async () => {
    await tree({
      'cgroup.controllers': '',
      ...v2Cgroup('.'),
      ...v2Cgroup('a'),
      ...v2Cgroup('a/x'),
      ...v2Cgroup('a/y'),
      ...v2Cgroup('a/y/deep'),
      ...v2Cgroup('b'),
      ...v2Cgroup('c'),
    });
    const { cgroups, counters } = source({ maxCgroups: 3 });
    const { records, errors } = await cgroups.collect();
    // Siblings before grandchildren; below a skipped cgroup nothing is listed, so a/y/deep is not seen.
    expect(cpuTotals(records)).toEqual(['/ container.cpu.total_time 1', '/a container.cpu.total_time 1', '/b container.cpu.total_time 1']);
    expect(errors).toEqual(['3 cgroups skipped: more than maxCgroups=3']);
    expect(counters.get('kansoku_agent_cgroups_skipped_total')).toBe(3);
  });

  it.each([
    { name: 'a path longer than 255 characters', path: `${'p'.repeat(200)}/${'q'.repeat(60)}`, error: 'dimension "cgroup" value is longer than 255 characters' },
    { name: "a systemd escape that stands for a restricted character ('\\x3d' is '=')", path: 'weird\\x3dunit.service', error: 'dimension "cgroup" value has a restricted character' },
  ])('drops and counts the measurements of $name', async ({ path, error }) => {
    await tree({ 'cgroup.controllers': '', ...v2Cgroup('.'), ...v2Cgroup(path) });
    const { cgroups, counters } = source();
    const { records, errors } = await cgroups.collect();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^cgroup ".*": 4 measurements dropped: /);
    expect(errors[0]!.endsWith(error)).toBe(true);
    expect(counters.get('kansoku_agent_samples_dropped_total', { reason: 'invalid' })).toBe(4);
    expect(records.some((r) => r.dimensions['cgroup'] === `/${path}`)).toBe(false);
    expect(cpuTotals(records)).toContain('/ container.cpu.total_time 1');
  });

  it('reads systemd escapes in unit names as the characters they stand for', async () => {
    await tree({ 'cgroup.controllers': '', ...v2Cgroup('.'), ...v2Cgroup('dev-disk-by\\x2duuid-1234.swap') });
    const { cgroups } = source();
    const { records, errors } = await cgroups.collect();
    expect(errors).toEqual([]);
    const swap = records.find((r) => r.dimensions['cgroup'] === '/dev-disk-by-uuid-1234.swap');
    expect(swap?.dimensions['container_name']).toBe('dev-disk-by-uuid-1234.swap');
  });

  it('says so when there is no cgroup hierarchy at the root', async () => {
    await tree({ 'cpuacct/.keep': '' });
    const { cgroups, counters } = source();
    const { records, errors } = await cgroups.collect();
    expect(records).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^no cgroup hierarchy at /);
    expect(counters.get('kansoku_agent_cgroup_errors_total', { reason: 'no_hierarchy' })).toBe(1);
  });

  it('stops reading when the collection is aborted', async () => {
    await tree({ 'cgroup.controllers': '', ...v2Cgroup('.') });
    const { records, errors } = await source().cgroups.collect(AbortSignal.abort());
    expect(records).toEqual([]);
    expect(errors).toEqual(['collection aborted after 0 of 1 cgroups']);
  });

  it('rejects a maxCgroups that is not a positive integer at construction', () => {
    expect(() => source({ maxCgroups: 0 })).toThrow(RangeError);
    expect(() => source({ maxCgroups: 1.5 })).toThrow(RangeError);
  });
});

describe('CgroupSource on this machine', () => {
  it('measures the root cgroup of /sys/fs/cgroup', async () => {
    const counters = new Counters();
    const cgroups = new CgroupSource({ hostname: 'this-machine', now: Date.now, counters });
    const { records, errors } = await cgroups.collect();
    const rootCpu = records.find((r) => r.name === 'container.cpu.total_time' && r.dimensions['cgroup'] === '/');
    // No skip: a machine whose cgroups cannot be read is a finding, with the source's own reasons in the message.
    expect(rootCpu, `no CPU time for cgroup "/" under /sys/fs/cgroup; the source reported: ${JSON.stringify(errors)}`).toBeDefined();
    expect(rootCpu!.value).toBeGreaterThan(0);
    expect(counters.get('kansoku_agent_measurements_total', { source: 'cgroup' })).toBe(records.length);
  });
});
