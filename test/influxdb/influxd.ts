/**
 * A real InfluxDB 1.x for integration tests: Debian's `influxdb` package (1.6.7 here),
 * run as a child process on loopback ports with its data in a fresh temp dir. A missing
 * binary is installed, or the tests fail loudly; they never skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const INFLUXD = '/usr/bin/influxd';
const PACKAGE = 'influxdb';
// influxd 1.6 answers /ping within ~50 ms of starting here; the bound is for a loaded CI machine.
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export interface RunningInfluxd {
  /** http://127.0.0.1:<port>, the v1 HTTP API. */
  readonly url: string;
  stop(): Promise<void>;
}

function ensureInstalled(): void {
  if (existsSync(INFLUXD)) return;
  if (process.getuid?.() !== 0) throw new Error(`${INFLUXD} is missing and this process is not root: install the Debian package "${PACKAGE}" (apt-get install -y ${PACKAGE})`);
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', PACKAGE], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
  });
  if (install.status !== 0 || !existsSync(INFLUXD)) {
    const output = `${install.stdout ?? ''}${install.stderr ?? ''}`.slice(-2_000);
    throw new Error(`${INFLUXD} is missing and "apt-get install -y ${PACKAGE}" failed (status ${install.status ?? install.signal}): install the Debian package "${PACKAGE}".\n${output}`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

/** Checked against `influxd config` of 1.6.7; unknown keys are ignored by influxd, not rejected. */
function configText(dir: string, httpPort: number, rpcPort: number): string {
  return `# Debian's build reads reporting-enabled (default false); upstream's reads reporting-disabled.
reporting-enabled = false
reporting-disabled = true
# The backup/restore RPC service; it binds even when unused, so keep it on loopback too.
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "error"
  suppress-logo = true

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
`;
}

/** The environment without INFLUXDB_* variables, which influxd would apply over the config file. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('INFLUXDB_')));
}

async function waitForPing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) throw new Error(`influxd exited (${child.exitCode ?? child.signalCode}) before answering /ping:\n${output()}`);
    try {
      const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 204) return;
      lastProblem = `/ping answered ${response.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`influxd did not answer /ping within ${START_TIMEOUT_MS} ms (${lastProblem}):\n${output()}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startOnce(): Promise<RunningInfluxd> {
  const dir = await mkdtemp(join(tmpdir(), 'kansoku-influxd-'));
  const httpPort = await freePort();
  let rpcPort = await freePort();
  while (rpcPort === httpPort) rpcPort = await freePort();
  const configFile = join(dir, 'influxdb.conf');
  await writeFile(configFile, configText(dir, httpPort, rpcPort));

  const child = spawn(INFLUXD, ['-config', configFile], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // Spawning fails asynchronously (ENOENT, EACCES); remember it for the wait below.
  let spawnFailure: Error | undefined;
  child.on('error', (error) => {
    spawnFailure = error;
  });
  // A test run that dies without stop() must not leave influxd behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      // A child that never spawned has no pid and may never emit 'exit'.
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited(child);
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    })());

  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForPing(url, child, () => (spawnFailure ? `${spawnFailure.message}\n${output}` : output));
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

/** Starts influxd; a port taken between choosing and binding it is retried with new ports. */
export async function startInfluxd(): Promise<RunningInfluxd> {
  ensureInstalled();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce();
    } catch (error) {
      if (attempt >= 3 || !/address already in use/i.test((error as Error).message)) throw error;
    }
  }
}
