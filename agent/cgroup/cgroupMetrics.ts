/**
 * The measurements of a cgroup, named as the kubelet source names the same quantities
 * (monasca-agent's `container.*` vocabulary), so that a dashboard or alarm written for
 * one works for the other. All are cumulative or current values, as the files hold them;
 * rates are a later stage's business.
 */
export const CGROUP_METRICS = {
  /** CPU time used by the cgroup and its descendants, in seconds. */
  cpuTotalSeconds: 'container.cpu.total_time',
  cpuUserSeconds: 'container.cpu.user_time',
  cpuSystemSeconds: 'container.cpu.system_time',
  /** Memory charged to the cgroup, page cache included. */
  memoryUsageBytes: 'container.mem.used_bytes',
  /** Usage less the inactive file cache: what the kernel cannot easily reclaim (cAdvisor's definition). */
  memoryWorkingSetBytes: 'container.mem.working_set_bytes',
  memoryRssBytes: 'container.mem.rss_bytes',
  memoryCacheBytes: 'container.mem.cache_bytes',
  ioReadBytes: 'container.io.read_bytes',
  ioWriteBytes: 'container.io.write_bytes',
  /** Tasks (processes and threads) in the cgroup, where the pids controller counts them. */
  pids: 'container.pids',
} as const;

export type CgroupQuantity = keyof typeof CGROUP_METRICS;

/** What was read of one cgroup; a quantity its files do not give is absent. */
export type CgroupValues = Partial<Record<CgroupQuantity, number>>;

/** The order measurements are emitted in. */
export const CGROUP_QUANTITIES = Object.keys(CGROUP_METRICS) as readonly CgroupQuantity[];
