import { closeSync, copyFileSync, ftruncateSync, mkdirSync, openSync, renameSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A container that logs hard while its log is rotated under it, the way the kubelet and
 * some runtimes do it, for the rotation tests and benchmarks. It writes CRI lines
 * numbered from 0 (`seq=N`) into `/var/log/pods`-style paths under `root`, with the
 * `/var/log/containers` symlink beside them, and rotates every `rotateEveryMs`:
 *
 * - `rename`: `0.log` → `0.log.<n>`, one more batch into the old file (a runtime that
 *   has not reopened yet), then a new `0.log` (the kubelet's way);
 * - `copytruncate`: `0.log` copied to `0.log.<n>`, then truncated in place (logrotate's).
 *
 * Run as a process of its own (`node --import tsx rotatingLogWriter.ts JSON`), so that
 * the test's own event loop does not slow it; it prints `{"written":N}` when done.
 */
export interface WriterSpec {
  readonly root: string;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly linesPerSecond: number;
  readonly durationMs: number;
  readonly rotateEveryMs: number;
  readonly rotation: 'rename' | 'copytruncate';
}

const CONTAINER_ID = 'c0ffee'.repeat(10) + 'beef';
const TICK_MS = 10;

/** Where the writer's live file is linked from, as the kubelet names it. */
export function containerLogLink(spec: WriterSpec): string {
  return join(spec.root, 'containers', `${spec.pod}_${spec.namespace}_${spec.container}-${CONTAINER_ID}.log`);
}

/** The text of line `seq`: a mix of the shapes real containers print, about 150 bytes. */
export function lineText(seq: number): string {
  switch (seq % 4) {
    case 0:
      return `seq=${seq} 10.2.${seq % 255}.7 - - [26/Nov/2026:06:00:00 +0000] "GET /api/v1/items/${seq} HTTP/1.1" 200 ${seq % 9000} "-" "kube-probe/1.25"`;
    case 1:
      return `{"level":"info","ts":1764136800.123,"caller":"cart/handler.go:88","msg":"item added","seq":"seq=${seq}","user":"u-${seq % 977}"}`;
    case 2:
      return `I1126 06:00:00.123456       1 controller.go:117] seq=${seq} synced object default/web-${seq % 31} in 4.2ms`;
    default:
      return `2026-11-26 06:00:00,123 WARN  [pool-${seq % 8}-thread-1] o.a.k.c.NetworkClient seq=${seq} connection to node -1 could not be established`;
  }
}

function run(spec: WriterSpec): number {
  const podDir = join(spec.root, 'pods', `${spec.namespace}_${spec.pod}_0f9e8d7c-${spec.container}`, spec.container);
  mkdirSync(podDir, { recursive: true });
  mkdirSync(join(spec.root, 'containers'), { recursive: true });
  const live = join(podDir, '0.log');
  let fd = openSync(live, 'a');
  symlinkSync(live, containerLogLink(spec));
  const started = Date.now();
  let seq = 0;
  let rotations = 0;
  let nextRotation = started + spec.rotateEveryMs;
  const batch = (): void => {
    const due = Math.min(Math.floor(((Date.now() - started) * spec.linesPerSecond) / 1000), Math.floor((spec.durationMs * spec.linesPerSecond) / 1000));
    if (due <= seq) return;
    let text = '';
    const stamp = new Date().toISOString().replace('Z', '123456Z');
    for (; seq < due; seq++) text += `${stamp} stdout F ${lineText(seq)}\n`;
    writeSync(fd, text);
  };
  while (Date.now() - started < spec.durationMs) {
    batch();
    if (Date.now() >= nextRotation) {
      rotations++;
      const rotated = `${live}.${String(rotations).padStart(6, '0')}`;
      if (spec.rotation === 'rename') {
        renameSync(live, rotated);
        batch();
        closeSync(fd);
        fd = openSync(live, 'a');
      } else {
        copyFileSync(live, rotated);
        ftruncateSync(fd, 0);
      }
      nextRotation += spec.rotateEveryMs;
    }
    const wait = Date.now() + TICK_MS;
    while (Date.now() < wait) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait - Date.now());
  }
  batch();
  closeSync(fd);
  return seq;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\0')) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as WriterSpec;
  const written = run(spec);
  process.stdout.write(`${JSON.stringify({ written })}\n`);
}
