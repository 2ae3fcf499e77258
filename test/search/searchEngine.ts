/**
 * A real Elasticsearch 8.12.2 or OpenSearch 2.5.0 for integration tests and benchmarks:
 * the verified tarball that scripts/search-engines.sh keeps in ~/.cache/kansoku/, run on
 * Debian's OpenJDK 17 (not the bundled JDK) as a child process, single node, on loopback
 * ports, with security and machine learning off, a 512 MB heap and its config, data and
 * logs in a fresh temp dir. A missing piece is installed, or the start fails naming it;
 * tests never skip.
 *
 * As root the engine runs as the system user `kansoku-search` (created on first use): both
 * refuse to run as root. That user cannot read /root/.cache, so each run hard-links the
 * cached tree into its temp dir (a second or less; files stay root-owned and read-only).
 *
 * No JVM outlives the test process: the engine is started through `setpriv --pdeathsig KILL`,
 * so the kernel kills it when the process that started it dies, even by SIGKILL, and its
 * process group is killed on a normal exit without stop(). Elasticsearch's launcher JVM runs
 * the server JVM as its child; that one exits when the launcher's pipe to it closes. The temp
 * dir of a run that died so is removed by the next start (it names its owner's pid).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, chown, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/kansokuProcess.js';
import { promisify } from 'node:util';

export type SearchEngineKind = 'elasticsearch' | 'opensearch';

export interface SearchEngineOptions {
  /**
   * Full JIT (C2) for benchmarks, which measure throughput: a start about twice as slow.
   * Tests leave it off and get a C1-only JVM that reaches yellow sooner.
   */
  readonly fullJit?: boolean;
}

export interface RunningSearchEngine {
  /** http://127.0.0.1:<port>, the REST API (no TLS, no authentication). */
  readonly url: string;
  readonly kind: SearchEngineKind;
  /** version.number as the running server reported it. */
  readonly version: string;
  /** Kills the JVM(s) and removes the run's temp dir; safe to call twice. */
  stop(): Promise<void>;
}

interface EngineSpec {
  readonly name: string;
  readonly version: string;
  /** version.build_hash the server must report: Elastic's release build, OpenSearch's as pinned on first run. */
  readonly buildHash: string;
  readonly launcher: string;
  readonly configFile: string;
  readonly envPrefix: 'ES' | 'OPENSEARCH';
  readonly settings: Readonly<Record<string, string | boolean>>;
}

const SPECS: Readonly<Record<SearchEngineKind, EngineSpec>> = {
  elasticsearch: {
    name: 'Elasticsearch',
    version: '8.12.2',
    buildHash: '48a287ab9497e852de30327444b0809e55d46466',
    launcher: 'bin/elasticsearch',
    configFile: 'elasticsearch.yml',
    envPrefix: 'ES',
    settings: {
      'xpack.security.enabled': false,
      'xpack.ml.enabled': false,
      'ingest.geoip.downloader.enabled': false,
    },
  },
  opensearch: {
    name: 'OpenSearch',
    version: '2.5.0',
    buildHash: 'b8a8b6c4d7fc7a7e32eb2cb68ecad8057a4636ad',
    launcher: 'bin/opensearch',
    configFile: 'opensearch.yml',
    envPrefix: 'OPENSEARCH',
    // OpenSearch has no GeoIP downloader and no xpack settings; unknown settings stop it.
    settings: { 'plugins.security.disabled': true },
  },
};

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INSTALL_SCRIPT = join(PROJECT_ROOT, 'scripts/search-engines.sh');
const JAVA_HOME = '/usr/lib/jvm/java-17-openjdk-amd64';
const JAVA_PACKAGE = 'openjdk-17-jre-headless';
const RUN_AS_USER = 'kansoku-search';
// Yellow in 46–69 s with the 2-core machine's load at 13 (other test runs), 132 s with full JIT.
const START_TIMEOUT_MS = 150_000;
const STOP_TIMEOUT_MS = 20_000;
// The first install downloads ~650 MB from the npm registry and unpacks it.
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const HEAP_OPTS = '-Xms512m -Xmx512m';
// No hsperfdata files left in /tmp by a JVM that was killed.
const COMMON_JVM_OPTS = '-XX:-UsePerfData';
// C1 only: yellow in about half the time on a loaded 2-core machine (69 s instead of 132 s for
// Elasticsearch, 46 s instead of 91 s for OpenSearch, load 13), at the cost of peak speed.
const FAST_START_JVM_OPTS = '-XX:TieredStopAtLevel=1';

const run = promisify(execFile);

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

async function exists(path: string, mode = fsConstants.F_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

async function ensureJava(): Promise<void> {
  const java = join(JAVA_HOME, 'bin/java');
  if (await exists(java, fsConstants.X_OK)) return;
  if (!isRoot()) throw new Error(`Java 17 is missing (${java}) and this process is not root: install the Debian package "${JAVA_PACKAGE}" (apt-get install -y ${JAVA_PACKAGE})`);
  try {
    await run('apt-get', ['install', '-y', '--no-install-recommends', JAVA_PACKAGE], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    throw new Error(`Java 17 is missing (${java}) and "apt-get install -y ${JAVA_PACKAGE}" failed: ${lastLine(String((error as { stderr?: string }).stderr ?? error))}`);
  }
  if (!(await exists(java, fsConstants.X_OK))) throw new Error(`Java 17 is missing: "apt-get install -y ${JAVA_PACKAGE}" succeeded but ${java} is not there`);
}

/** Runs scripts/search-engines.sh (a no-op past a marker check once cached); returns the engine's home. */
async function ensureInstalled(kind: SearchEngineKind): Promise<string> {
  const spec = SPECS[kind];
  try {
    const { stdout } = await run('bash', [INSTALL_SCRIPT, 'install', kind], { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 1024 * 1024 });
    return lastLine(stdout);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    const reason = lastLine(stderr).replace(/^search-engines: FAILED: /, '') || String(error);
    throw new Error(`${spec.name} ${spec.version} is not installed (scripts/search-engines.sh install ${kind}): ${reason}`);
  }
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** The unprivileged user the engine runs as: kansoku-search when root (created if missing), else this process's user. */
async function runAsUser(): Promise<RunAs | undefined> {
  if (!isRoot()) return undefined;
  const ids = async () => {
    const uid = await run('id', ['-u', RUN_AS_USER]);
    const gid = await run('id', ['-g', RUN_AS_USER]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    try {
      await run('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', RUN_AS_USER]);
    } catch (error) {
      // Another process may have created it meanwhile; ids() below tells.
      if (!/already exists/.test(String((error as { stderr?: string }).stderr))) throw new Error(`could not create the system user ${RUN_AS_USER} to run the search engine as: ${lastLine(String((error as { stderr?: string }).stderr ?? error))}`);
    }
    return ids();
  }
}


async function chownTree(path: string, owner: RunAs): Promise<void> {
  await chown(path, owner.uid, owner.gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, owner);
    else await chown(child, owner.uid, owner.gid);
  }
}

/** The shipped jvm.options write GC logs, heap dumps and crash files relative to the working dir: point them into the run dir. */
function jvmOptionsForRun(text: string, runDir: string): string {
  return text
    .replaceAll('file=logs/', `file=${join(runDir, 'logs')}/`)
    .replaceAll('HeapDumpPath=data', `HeapDumpPath=${join(runDir, 'data')}`)
    .replaceAll('ErrorFile=logs/', `ErrorFile=${join(runDir, 'logs')}/`);
}

function settingsText(spec: EngineSpec, runDir: string, httpPort: number, transportPort: number): string {
  const settings: Record<string, string | number | boolean> = {
    'cluster.name': 'kansoku-test',
    'node.name': 'kansoku-test',
    'path.data': join(runDir, 'data'),
    'path.logs': join(runDir, 'logs'),
    'network.host': '127.0.0.1',
    'http.port': httpPort,
    'transport.port': transportPort,
    // A single node elects itself and skips the production bootstrap checks (vm.max_map_count
    // is 65530 here; on loopback they are warnings anyway).
    'discovery.type': 'single-node',
    'action.auto_create_index': true,
    ...spec.settings,
  };
  return `${Object.entries(settings).map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join('\n')}\n`;
}

/** The environment without the engine's own variables, which would override what is set here. */
function engineEnv(spec: EngineSpec, runDir: string, options: SearchEngineOptions): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith(`${spec.envPrefix}_`) && key !== 'JAVA_HOME' && key !== 'JAVA_TOOL_OPTIONS'));
  return {
    ...env,
    HOME: runDir,
    [`${spec.envPrefix}_JAVA_HOME`]: JAVA_HOME,
    [`${spec.envPrefix}_PATH_CONF`]: join(runDir, 'config'),
    [`${spec.envPrefix}_TMPDIR`]: join(runDir, 'tmp'),
    [`${spec.envPrefix}_JAVA_OPTS`]: [HEAP_OPTS, COMMON_JVM_OPTS, ...(options.fullJit === true ? [] : [FAST_START_JVM_OPTS])].join(' '),
  };
}

/** Lays out the run dir: the engine's home (hard links when another user runs it), its own config, data, logs and tmp. */
async function prepareRunDir(spec: EngineSpec, installedHome: string, owner: RunAs | undefined, httpPort: number, transportPort: number): Promise<{ runDir: string; home: string }> {
  const runDir = await mkdtemp(join(tmpdir(), RUN_DIR_PREFIX));
  await chmod(runDir, 0o755);
  await writeFile(join(runDir, OWNER_PID_FILE), String(process.pid));
  let home = installedHome;
  if (owner !== undefined) {
    home = join(runDir, 'home');
    try {
      await run('cp', ['-al', installedHome, home]);
    } catch (error) {
      // Hard links cannot cross file systems (a tmpfs /tmp): copy instead, slower but correct.
      if (!/cross-device|Invalid cross-device link/i.test(String((error as { stderr?: string }).stderr))) throw error;
      await rm(home, { recursive: true, force: true });
      await run('cp', ['-a', installedHome, home], { maxBuffer: 16 * 1024 * 1024 });
    }
  }
  await cp(join(installedHome, 'config'), join(runDir, 'config'), { recursive: true });
  const jvmOptions = join(runDir, 'config/jvm.options');
  await writeFile(jvmOptions, jvmOptionsForRun(await readFile(jvmOptions, 'utf8'), runDir));
  await writeFile(join(runDir, 'config', spec.configFile), settingsText(spec, runDir, httpPort, transportPort));
  for (const dir of ['data', 'logs', 'tmp']) await mkdir(join(runDir, dir));
  if (owner !== undefined) for (const dir of ['config', 'data', 'logs', 'tmp']) await chownTree(join(runDir, dir), owner);
  return { runDir, home };
}

const RUN_DIR_PREFIX = 'kansoku-search-engine-';
const OWNER_PID_FILE = 'owner.pid';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Run dirs of test processes that died without stop() (their JVMs died with them): removed. */
async function removeAbandonedRunDirs(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(await readFile(join(dir, OWNER_PID_FILE), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(owner) && !isAlive(owner)) await rm(dir, { recursive: true, force: true });
  }
}

interface RootInfo {
  version?: { number?: string; build_hash?: string; distribution?: string };
}

async function waitForYellow(spec: EngineSpec, url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) throw new Error(`${spec.name} exited (${child.exitCode ?? child.signalCode}) before reporting yellow:\n${output()}`);
    try {
      const response = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, { signal: AbortSignal.timeout(5_000) });
      const health = (await response.json()) as { status?: string };
      if (response.status === 200 && (health.status === 'yellow' || health.status === 'green')) return;
      lastProblem = `health answered ${response.status} with status ${health.status}`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${spec.name} did not report yellow within ${START_TIMEOUT_MS} ms (${lastProblem}):\n${output()}`);
}

/** GET / must name the pinned version and build; anything else is not the engine that was verified. */
async function verifyBuild(spec: EngineSpec, kind: SearchEngineKind, url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const info = (await response.json()) as RootInfo;
  const version = info.version?.number;
  const buildHash = info.version?.build_hash;
  if (version !== spec.version) throw new Error(`${spec.name} at ${url} reports version ${version}, not ${spec.version}: refusing it`);
  if (buildHash !== spec.buildHash) throw new Error(`${spec.name} at ${url} reports build hash ${buildHash}, not the pinned ${spec.buildHash}: refusing it`);
  if (kind === 'opensearch' && info.version?.distribution !== 'opensearch') throw new Error(`the server at ${url} is not OpenSearch (distribution ${info.version?.distribution})`);
  return version;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

async function startOnce(kind: SearchEngineKind, options: SearchEngineOptions, installedHome: string, owner: RunAs | undefined): Promise<RunningSearchEngine> {
  const spec = SPECS[kind];
  const httpPort = await freePort();
  let transportPort = await freePort();
  while (transportPort === httpPort) transportPort = await freePort();
  const { runDir, home } = await prepareRunDir(spec, installedHome, owner, httpPort, transportPort);

  const identity = owner === undefined ? [] : ['--reuid', String(owner.uid), '--regid', String(owner.gid), '--clear-groups'];
  // detached: its own process group, so that stop() reaches Elasticsearch's server JVM too.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', ...identity, '--', join(home, spec.launcher)], {
    cwd: runDir,
    env: engineEnv(spec, runDir, options),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnFailure: Error | undefined;
  child.on('error', (error) => {
    spawnFailure = error;
  });
  const killOnExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      // Whatever is left of the group (Elasticsearch's server JVM, should its launcher have gone first).
      killGroup(child, 'SIGKILL');
      await rm(runDir, { recursive: true, force: true });
    })());

  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForYellow(spec, url, child, () => (spawnFailure ? `${spawnFailure.message}\n${output}` : output));
    const version = await verifyBuild(spec, kind, url);
    return { url, kind, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function start(kind: SearchEngineKind, options: SearchEngineOptions): Promise<RunningSearchEngine> {
  await ensureJava();
  const installedHome = await ensureInstalled(kind);
  const owner = await runAsUser();
  await removeAbandonedRunDirs();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(kind, options, installedHome, owner);
    } catch (error) {
      // A port taken between choosing and binding it: retry with new ports.
      if (attempt >= 3 || !/BindException|Address already in use/i.test((error as Error).message)) throw error;
    }
  }
}

export function startElasticsearch(options: SearchEngineOptions = {}): Promise<RunningSearchEngine> {
  return start('elasticsearch', options);
}

export function startOpensearch(options: SearchEngineOptions = {}): Promise<RunningSearchEngine> {
  return start('opensearch', options);
}
