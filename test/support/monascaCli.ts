import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Runs the real OpenStack `monasca` CLI (Debian's python3-monascaclient) against a Kansoku
 * API with a static token; never throws for a non-zero exit, only when the CLI is missing.
 */
export async function monasca(endpoint: string, token: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('monasca', ['--os-auth-type', 'admin_token', '--os-token', token, '--os-endpoint', `${endpoint}/v2.0`, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('the monasca CLI is not installed: apt-get install -y python3-monascaclient (scripts/system-deps.sh does this)');
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}
