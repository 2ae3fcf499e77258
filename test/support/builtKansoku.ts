/**
 * The CLI as a user runs it: compiled once with `tsc -p tsconfig.build.json` into dist/,
 * then `node dist/cmd/kansoku.js …`, with no tsx loader in the process. For measuring a
 * whole process; tests that only need the CLI's behaviour use kansokuProcess.ts instead.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './kansokuProcess.js';
import { stopChild } from './stopChild.js';

const BUILD_TIMEOUT_MS = 300_000;
/** Output kept for error messages; a long run's log would otherwise grow without bound. */
const MAX_OUTPUT_CHARS = 64 * 1024;

export const BUILT_CLI = join(ROOT, 'dist', 'cmd', 'kansoku.js');

/** Runs `npx tsc -p tsconfig.build.json` in the project root; throws with tsc's output when it fails. */
export async function buildKansoku(): Promise<void> {
  try {
    await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`npx tsc -p tsconfig.build.json failed, so there is no dist/ to run:\n${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`);
  }
}

export interface BuiltKansoku {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last stdout and stderr the process wrote, for error messages. */
  output(): string;
  /** Whether the process has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `deadlineMs`. */
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * Spawns `node NODE_ARGS dist/cmd/kansoku.js ARGS` with the inherited environment minus
 * every KANSOKU_* variable, plus `env`.
 */
export function startBuiltKansoku(args: readonly string[], env: Readonly<Record<string, string>>, nodeArgs: readonly string[] = []): BuiltKansoku {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('KANSOKU_')));
  const child = spawn(process.execPath, [...nodeArgs, BUILT_CLI, ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not spawn node ${BUILT_CLI}`);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    pid: child.pid,
    output: () => output,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    stop: (deadlineMs) => stopChild(child, deadlineMs),
  };
}
