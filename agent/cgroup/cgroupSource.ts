/**
 * The single-machine source: every cgroup of this Linux machine is a "container" (of the
 * one tenant the agent gives this source), so Kansoku monitors a laptop or a VM with no
 * kubelet in sight. It works on cgroup v2, v1 and hybrid layouts (see findHierarchy.ts for which files each gives).
 *
 * Filesystem trouble never throws: a cgroup that vanished mid-walk, a file that cannot be
 * read or parsed, each becomes an entry in `errors` and a count, and the other cgroups are
 * still measured.
 */
import type { Counters } from '../../core/counters.js';
import type { Metric } from '../../core/envelope.js';
import type { CollectResult, Source } from '../../core/pipeline.js';
import { checkMetric } from '../../core/validation.js';
import { SOURCE_COUNTERS, countMeasurements, countSamplesDropped, describeSourceCounters } from '../sourceCounters.js';
import { errorText, nodeCgroupFileSystem, type CgroupFileSystem } from './cgroupFileSystem.js';
import { CGROUP_METRICS, CGROUP_QUANTITIES } from './cgroupMetrics.js';
import { findHierarchy, type CgroupLayout } from './findHierarchy.js';
import { readCgroupStats, type CgroupReading } from './readCgroupStats.js';
import { walkCgroups, type CgroupLocation } from './walkCgroups.js';

export interface CgroupSourceOptions {
  /** Where cgroupfs is mounted; default `/sys/fs/cgroup`. */
  readonly root?: string;
  readonly hostname: string;
  readonly now: () => number;
  readonly counters: Counters;
  /** At most this many cgroups are read per collection, the root first; default 500. */
  readonly maxCgroups?: number;
  /** For tests; default node:fs. */
  readonly fileSystem?: CgroupFileSystem;
}

/** Cgroups read side by side: enough to hide the thread pool's latency, few enough to stay polite. */
const READ_CONCURRENCY = 16;

export const CGROUP_COUNTERS = {
  measurements: SOURCE_COUNTERS.measurements,
  dropped: SOURCE_COUNTERS.samplesDropped,
  /** reason: vanished | malformed | unreadable | no_hierarchy */
  errors: 'kansoku_agent_cgroup_errors_total',
  skipped: 'kansoku_agent_cgroups_skipped_total',
} as const;

export class CgroupSource implements Source<Metric> {
  readonly name = 'cgroup';
  private readonly root: string;
  private readonly maxCgroups: number;
  private readonly fs: CgroupFileSystem;

  constructor(private readonly options: CgroupSourceOptions) {
    this.root = options.root ?? '/sys/fs/cgroup';
    this.maxCgroups = options.maxCgroups ?? 500;
    this.fs = options.fileSystem ?? nodeCgroupFileSystem;
    // Fail fast at start-up: a bad bound is a configuration bug, not a collection problem.
    if (!Number.isInteger(this.maxCgroups) || this.maxCgroups < 1) throw new RangeError(`maxCgroups must be a positive integer, got ${this.maxCgroups}`);
    describeSourceCounters(options.counters);
    options.counters.describe(CGROUP_COUNTERS.errors, 'Cgroups or cgroup files the cgroup source could not read, by reason.');
    options.counters.describe(CGROUP_COUNTERS.skipped, 'Cgroups not read because a collection reached maxCgroups.');
  }

  async collect(signal?: AbortSignal): Promise<CollectResult<Metric>> {
    const { counters } = this.options;
    const errors: string[] = [];
    const fail = (reason: string, message: string): void => this.fail(errors, reason, message);

    let layout: CgroupLayout | undefined;
    try {
      layout = await findHierarchy(this.root, this.fs);
    } catch (error) {
      fail('unreadable', `cannot read the cgroup hierarchy at ${this.root}: ${errorText(error)}`);
      return { records: [], errors };
    }
    if (!layout) {
      fail('no_hierarchy', `no cgroup hierarchy at ${this.root}: neither cgroup.controllers, unified/cgroup.controllers nor a v1 controller (cpuacct, memory, blkio, pids)`);
      return { records: [], errors };
    }

    const walk = await walkCgroups(layout, this.fs, this.maxCgroups);
    for (const problem of walk.problems) fail('unreadable', problem);
    if (walk.skipped > 0) {
      counters.add(CGROUP_COUNTERS.skipped, {}, walk.skipped);
      errors.push(`${walk.skipped} cgroups skipped: more than maxCgroups=${this.maxCgroups}`);
    }

    const nowMs = this.options.now();
    const records: Metric[] = [];
    for (let start = 0; start < walk.cgroups.length; start += READ_CONCURRENCY) {
      if (signal?.aborted) {
        errors.push(`collection aborted after ${start} of ${walk.cgroups.length} cgroups`);
        break;
      }
      const chunk = walk.cgroups.slice(start, start + READ_CONCURRENCY);
      const readings = await Promise.all(chunk.map((cgroup) => readCgroupStats(cgroup, this.fs)));
      chunk.forEach((cgroup, i) => this.measure(cgroup, readings[i]!, nowMs, records, errors));
    }
    countMeasurements(counters, this.name, records.length);
    return { records, errors };
  }

  private fail(errors: string[], reason: string, message: string): void {
    this.options.counters.add(CGROUP_COUNTERS.errors, { reason });
    errors.push(message);
  }

  /** Appends a cgroup's valid measurements to `records` and its problems to `errors`. */
  private measure(cgroup: CgroupLocation, reading: CgroupReading, nowMs: number, records: Metric[], errors: string[]): void {
    // Paths come from the filesystem: quoted, and cut short so that a huge one cannot flood a log line.
    const label = `cgroup ${JSON.stringify(cgroup.path.length > 120 ? `${cgroup.path.slice(0, 120)}…` : cgroup.path)}`;
    if (reading.kind === 'vanished') {
      this.fail(errors, 'vanished', `${label} vanished during the walk`);
      return;
    }
    for (const problem of reading.problems) this.fail(errors, problem.reason, `${label}: ${problem.message}`);

    const path = unescapeSystemd(cgroup.path);
    const dimensions = {
      hostname: this.options.hostname,
      cgroup: path,
      container_name: path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1),
    };
    let dropped = 0;
    let firstReason = '';
    for (const quantity of CGROUP_QUANTITIES) {
      const value = reading.values[quantity];
      if (value === undefined) continue;
      const checked = checkMetric({ name: CGROUP_METRICS[quantity], dimensions, timestamp: nowMs, value, value_meta: null });
      if (checked.ok) records.push(checked.value);
      else {
        dropped++;
        firstReason ||= checked.error;
      }
    }
    if (dropped > 0) {
      // A cgroup's measurements share its dimensions and so usually fail together: one message per cgroup.
      countSamplesDropped(this.options.counters, 'invalid', dropped);
      errors.push(`${label}: ${dropped} measurements dropped: ${firstReason}`);
    }
  }
}

/**
 * systemd escapes unit names in cgroup paths (`dev-disk-by\x2duuid-….swap`), and Monasca
 * forbids `\` in dimensions: read the escapes as the characters they stand for, as
 * `systemd-escape --unescape` does. What is still restricted afterwards is dropped and counted.
 */
export function unescapeSystemd(path: string): string {
  return path.includes('\\x') ? path.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))) : path;
}
