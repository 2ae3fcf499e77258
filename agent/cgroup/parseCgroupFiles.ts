/**
 * The kernel's cgroup file formats (Documentation/admin-guide/cgroup-v2.rst and the v1
 * cpuacct, memory and blkio documents). Every value read is an unsigned integer; anything
 * else in a place we read is a malformed file, reported rather than guessed at. Lines and
 * keys we do not read may hold anything, so that a newer kernel's additions break nothing.
 */
import { fail, ok, type Checked } from '../../core/outcome.js';

const UNSIGNED = /^\d+$/;

/** A single-value file: `memory.current`, `cpuacct.usage`, `pids.current`. */
export function parseCount(text: string): Checked<number> {
  const trimmed = text.trim();
  return UNSIGNED.test(trimmed) ? ok(Number(trimmed)) : fail(`${quote(trimmed)} is not a count`);
}

/**
 * The named counts of a flat keyed file (`key value` lines: `cpu.stat`, `memory.stat`,
 * `cpuacct.stat`). Every name asked for must be there with a count.
 */
export function parseKeyedCounts<K extends string>(text: string, keys: readonly K[]): Checked<Record<K, number>> {
  const raw = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && !raw.has(key)) raw.set(key, value);
  }
  const out = {} as Record<K, number>;
  for (const key of keys) {
    const value = raw.get(key);
    if (value === undefined) return fail(`has no ${key}`);
    if (!UNSIGNED.test(value)) return fail(`${key} is ${quote(value)}, not a count`);
    out[key] = Number(value);
  }
  return ok(out);
}

export interface IoBytes {
  readonly readBytes: number;
  readonly writeBytes: number;
}

const DEVICE = /^\d+:\d+$/;

/** v2 `io.stat`: `MAJ:MIN rbytes=… wbytes=… rios=… …` per device; bytes summed over devices. */
export function parseIoStat(text: string): Checked<IoBytes> {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split('\n')) {
    const [device, ...fields] = line.trim().split(/\s+/);
    if (!device) continue;
    if (!DEVICE.test(device)) return fail(`line ${quote(line)} does not start with a device number`);
    for (const field of fields) {
      const [key, value] = field.split('=');
      if (key !== 'rbytes' && key !== 'wbytes') continue;
      if (value === undefined || !UNSIGNED.test(value)) return fail(`${key} of ${device} is ${quote(value ?? '')}, not a count`);
      if (key === 'rbytes') readBytes += Number(value);
      else writeBytes += Number(value);
    }
  }
  return ok({ readBytes, writeBytes });
}

/**
 * v1 `blkio.throttle.io_service_bytes[_recursive]`: `MAJ:MIN Read|Write|Sync|Async|Discard|Total N`
 * per device and a closing `Total N`; Read and Write summed over devices.
 */
export function parseBlkioServiceBytes(text: string): Checked<IoBytes> {
  let readBytes = 0;
  let writeBytes = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === '') continue;
    if (fields[0] === 'Total' && fields.length === 2) continue;
    const [device, operation, value] = fields;
    if (fields.length !== 3 || !DEVICE.test(device ?? '')) return fail(`line ${quote(line)} is not "MAJ:MIN operation bytes"`);
    if (operation !== 'Read' && operation !== 'Write') continue;
    if (!UNSIGNED.test(value ?? '')) return fail(`${operation} of ${device} is ${quote(value ?? '')}, not a count`);
    if (operation === 'Read') readBytes += Number(value);
    else writeBytes += Number(value);
  }
  return ok({ readBytes, writeBytes });
}

/** File contents are untrusted: quoted and cut short in messages. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
