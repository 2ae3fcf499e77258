/**
 * What the kernel says a process costs, read from /proc (Linux only): CPU time in clock
 * ticks from /proc/<pid>/stat, resident memory from /proc/<pid>/status.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second (`getconf CLK_TCK`), the unit of utime and stime; 100 on nearly every Linux. */
export function clockTicksPerSecond(): number {
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(ticks) || ticks <= 0) throw new Error(`getconf CLK_TCK printed no positive integer`);
  return ticks;
}

/** utime + stime of the process (its own threads, not its reaped children), in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name, field 2, is in parentheses and may hold blanks; fields after it are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime), counted from 1 with the pid; fields[0] is field 3.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat has no utime/stime: ${stat}`);
  return utime + stime;
}

/** VmRSS of the process, in bytes. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match?.[1]) throw new Error(`/proc/${pid}/status has no VmRSS line (has the process exited?)`);
  return Number(match[1]) * 1024;
}
