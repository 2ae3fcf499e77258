/**
 * rsyslog as the logs benchmark's peer: Debian's `rsyslog` and `rsyslog-kafka` (8.2302 on
 * bookworm, omkafka over the system's librdkafka), installed by the bench when missing,
 * run in the foreground with a configuration of its own and nothing else:
 *
 *   rsyslogd -n -f <dir>/rsyslog.conf -i <dir>/rsyslogd.pid
 *
 * The configuration (`imfileToOmkafkaConfig`) loads two modules only, imfile and omkafka
 * (no imuxsock, no imklog: no syslog socket, no kernel log), keeps its state in a private
 * work directory, and sends every line of one file, read from its beginning, to one Kafka
 * topic, one message per line.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stopChild } from '../test/support/stopChild.js';

export const RSYSLOGD = '/usr/sbin/rsyslogd';
export const RSYSLOG_PACKAGES = ['rsyslog', 'rsyslog-kafka'] as const;
const INSTALL_TIMEOUT_MS = 600_000;
const STOP_DEADLINE_MS = 10_000;
const MAX_OUTPUT_CHARS = 64 * 1024;

const run = promisify(execFile);

export type RsyslogInstall = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly reason: string };

/** Whether `dpkg` has `name` installed. */
async function packageInstalled(name: string): Promise<boolean> {
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Status}', name]);
    return stdout.trim() === 'install ok installed';
  } catch {
    return false;
  }
}

async function installedVersion(): Promise<string> {
  const { stdout } = await run('dpkg-query', ['-W', '-f=${Version}', 'rsyslog']);
  return stdout.trim();
}

/**
 * Installs rsyslog and omkafka with apt-get unless they are there; when that fails, says
 * why instead of throwing, so that the caller can record that the peer was not run.
 * `policy-rc.d` and the absence of systemd keep the package from starting a system rsyslogd.
 */
export async function ensureRsyslogInstalled(): Promise<RsyslogInstall> {
  const missing: string[] = [];
  for (const name of RSYSLOG_PACKAGES) if (!(await packageInstalled(name))) missing.push(name);
  if (missing.length === 0 && existsSync(RSYSLOGD)) return { ok: true, version: await installedVersion() };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): Promise<unknown> => run('apt-get', ['install', '-y', '--no-install-recommends', ...RSYSLOG_PACKAGES], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  console.error(`installing ${missing.join(' ')} for the logs benchmark's peer (apt-get install -y ${RSYSLOG_PACKAGES.join(' ')})`);
  try {
    try {
      await install();
    } catch {
      // A stale package list is the usual cause: refresh it once and try again.
      await run('apt-get', ['update'], { env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
      await install();
    }
  } catch (error) {
    const e = error as Error & { stderr?: string };
    return { ok: false, reason: `apt-get install -y ${RSYSLOG_PACKAGES.join(' ')} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join(' | ')}` };
  }
  for (const name of RSYSLOG_PACKAGES) if (!(await packageInstalled(name))) return { ok: false, reason: `apt-get finished but ${name} is not installed` };
  if (!existsSync(RSYSLOGD)) return { ok: false, reason: `${RSYSLOGD} is missing after installing ${RSYSLOG_PACKAGES.join(' ')}` };
  return { ok: true, version: await installedVersion() };
}

/** What the peer's librdkafka producer is told; chosen to match what Kansoku's agent sends (see the bench README). */
export const OMKAFKA_PRODUCER_SETTINGS = {
  /** acks=all, as Kansoku's producer waits for every in-sync replica. */
  topic: ['request.required.acks=-1'],
  producer: [
    // Kansoku sends uncompressed JSON by default (bus.kafka.compression: none).
    'compression.codec=none',
    // Kansoku's batches reach its 1 MB message limit (bus.kafka.max_message_bytes) at about
    // 5,000 records of this size (agent.logs.batch_size): librdkafka's batch caps at 1 MB too,
    // and its message count cap, 10,000, does not bind first.
    'batch.size=1000000',
    'batch.num.messages=10000',
    // librdkafka's default: wait up to 5 ms for a batch to fill. Kansoku sends a read's worth at once.
    'linger.ms=5',
  ],
} as const;

export interface ImfileToOmkafka {
  readonly file: string;
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly workDirectory: string;
}

function quoted(value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`${JSON.stringify(value)} cannot be written into an rsyslog string as it is`);
  return `"${value}"`;
}

function list(values: readonly string[]): string {
  return `[${values.map(quoted).join(', ')}]`;
}

/**
 * imfile reading `file` from its beginning (no state yet, `freshStartTail` off), one line
 * per message (`readMode` 0), each sent as it was read (`%msg%`, no syslog header) to
 * `topic`, all to partition 0 as Kansoku's one key per node puts one file's records on
 * one partition.
 */
export function imfileToOmkafkaConfig(spec: ImfileToOmkafka): string {
  return `# Generated by bench/rsyslogProcess.ts: imfile -> omkafka, nothing else.
global(workDirectory=${quoted(spec.workDirectory)})
module(load="imfile" mode="inotify")
module(load="omkafka")
template(name="line" type="string" string="%msg%")
ruleset(name="to_kafka") {
  action(type="omkafka"
         broker=${list(spec.brokers)}
         topic=${quoted(spec.topic)}
         template="line"
         partitions.useFixed="0"
         confParam=${list(OMKAFKA_PRODUCER_SETTINGS.producer)}
         topicConfParam=${list(OMKAFKA_PRODUCER_SETTINGS.topic)})
}
input(type="imfile" file=${quoted(spec.file)} tag="container:" freshStartTail="off" readMode="0" ruleset="to_kafka")
`;
}

export interface RunningRsyslog {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly config: string;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

/** Writes the configuration into a fresh temp dir and starts `rsyslogd -n` on it. */
export async function startRsyslog(spec: Omit<ImfileToOmkafka, 'workDirectory'>): Promise<RunningRsyslog> {
  if (!existsSync(RSYSLOGD)) throw new Error(`${RSYSLOGD} is missing: call ensureRsyslogInstalled() first`);
  const dir = await mkdtemp(join(tmpdir(), 'kansoku-rsyslog-'));
  const workDirectory = join(dir, 'work');
  await mkdir(workDirectory);
  const config = imfileToOmkafkaConfig({ ...spec, workDirectory });
  const configFile = join(dir, 'rsyslog.conf');
  await writeFile(configFile, config);
  const child = spawn(RSYSLOGD, ['-n', '-f', configFile, '-i', join(dir, 'rsyslogd.pid')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = async (): Promise<void> => {
    await stopChild(child, STOP_DEADLINE_MS);
    await rm(dir, { recursive: true, force: true });
  };
  if (child.pid === undefined) {
    await stop();
    throw new Error(`could not spawn ${RSYSLOGD}`);
  }
  return { pid: child.pid, child, config, output: () => output, exited: () => child.exitCode !== null || child.signalCode !== null, stop };
}
