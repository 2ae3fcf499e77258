import type { ChildProcess } from 'node:child_process';

/** SIGTERM, then SIGKILL once `deadlineMs` has passed; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, deadlineMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  await exited;
  clearTimeout(timer);
}
