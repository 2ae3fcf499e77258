/**
 * A real, throwaway PostgreSQL for integration tests: Debian's `postgresql` package
 * (scripts/system-deps.sh installs it), a fresh cluster in a temp dir, listening on a free
 * loopback port with fsync off, removed again by `stop()`.
 *
 * initdb and postgres refuse to run as root; under root (as here) both run as the
 * package's `postgres` system user, which then owns the temp dir.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './kansokuProcess.js';
import { stopChild } from './stopChild.js';

const POSTGRESQL_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'kansoku';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_CHARS = 64 * 1024;

export const POSTGRESQL_NOT_INSTALLED = 'POSTGRESQL NOT INSTALLED: apt-get install postgresql (scripts/system-deps.sh)';

export interface RunningPostgres {
  /** postgres://kansoku@127.0.0.1:<port>/kansoku_test */
  readonly connectionString: string;
  /** A new empty database on the same server; its connection string. */
  createDatabase(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

/** The newest installed major version's bin dir, or null. */
function postgresBinDir(): string | null {
  if (!existsSync(POSTGRESQL_ROOT)) return null;
  const versions = readdirSync(POSTGRESQL_ROOT)
    .filter((version) => existsSync(join(POSTGRESQL_ROOT, version, 'bin', 'initdb')) && existsSync(join(POSTGRESQL_ROOT, version, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? null : join(POSTGRESQL_ROOT, versions[0], 'bin');
}

/** uid and gid of the `postgres` system user, read from /etc/passwd. */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`running as root and there is no 'postgres' user to run PostgreSQL as. ${POSTGRESQL_NOT_INSTALLED}`);
  return { uid: Number(uid), gid: Number(gid) };
}

function run(command: string, args: readonly string[], options: SpawnOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}:\n${output.slice(-MAX_OUTPUT_CHARS)}`))));
  });
}

export async function startPostgres(): Promise<RunningPostgres> {
  const binDir = postgresBinDir();
  if (binDir === null) throw new Error(POSTGRESQL_NOT_INSTALLED);
  const runAs: SpawnOptions = process.getuid?.() === 0 ? postgresUser() : {};
  const dir = await mkdtemp(join(tmpdir(), 'kansoku-postgres-'));
  if (runAs.uid !== undefined && runAs.gid !== undefined) chownSync(dir, runAs.uid, runAs.gid);
  const dataDir = join(dir, 'data');
  const options: SpawnOptions = { ...runAs, cwd: dir, env: { ...process.env, LC_ALL: 'C' } };

  let output = '';
  let child: ReturnType<typeof spawn> | undefined;
  // A test run that ends without stop() must not leave a server behind: SIGQUIT is immediate shutdown.
  const killOnExit = (): void => void child?.kill('SIGQUIT');
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child !== undefined) {
      // SIGINT is PostgreSQL's fast shutdown: it does not wait for clients a test left open.
      child.kill('SIGINT');
      await stopChild(child, STOP_TIMEOUT_MS);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await run(join(binDir, 'initdb'), ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--no-sync', '--encoding=UTF8', '--no-locale'], options);
    const port = await freePort();
    const server = spawn(join(binDir, 'postgres'), ['-D', dataDir, '-k', dir, '-h', '127.0.0.1', '-p', String(port), '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], {
      ...options,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = server;
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-MAX_OUTPUT_CHARS);
    };
    server.stdout?.on('data', keep);
    server.stderr?.on('data', keep);
    const base = `postgres://${SUPERUSER}@127.0.0.1:${port}`;
    await waitForConnections(`${base}/postgres`, () => server.exitCode !== null || server.signalCode !== null, () => output);

    let databases = 0;
    const createDatabase = async (): Promise<string> => {
      const name = `kansoku_test_${++databases}`;
      const admin = new pg.Client({ connectionString: `${base}/postgres` });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return `${base}/${name}`;
    };
    const connectionString = await createDatabase();
    return { connectionString, createDatabase, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitForConnections(connectionString: string, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`postgres exited before it accepted connections:\n${output()}`);
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      lastProblem = (error as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(100);
  }
  throw new Error(`postgres did not accept connections within ${START_TIMEOUT_MS} ms (${lastProblem}):\n${output()}`);
}
