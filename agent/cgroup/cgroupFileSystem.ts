/**
 * The three file operations the cgroup source needs, as an interface so that tests can
 * make a cgroup vanish between the walk and the read, which no real timing can arrange.
 * Failures are thrown as Node's errno errors (`code` set), exactly as `node:fs` throws them.
 */
import { readdir, readFile, stat } from 'node:fs/promises';

export interface CgroupFileSystem {
  readText(path: string): Promise<string>;
  /** Names of the sub-directories of `path`; every sub-directory of a cgroup is a cgroup. */
  subdirectories(path: string): Promise<string[]>;
  /** False when nothing is at `path`; other failures (permissions) throw. */
  exists(path: string): Promise<boolean>;
}

export const nodeCgroupFileSystem: CgroupFileSystem = {
  readText: (path) => readFile(path, 'utf8'),
  subdirectories: async (path) => (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name),
  exists: async (path) => {
    try {
      await stat(path);
      return true;
    } catch (error) {
      if (isGone(error)) return false;
      throw error;
    }
  },
};

/**
 * Whether an error means the file is not there. ENODEV is what reading a cgroup file gives
 * when its cgroup was removed after the file was opened: also gone, not broken.
 */
export function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV';
}

export function errorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException | null;
  return e?.code ?? (error instanceof Error ? error.message : String(error));
}
