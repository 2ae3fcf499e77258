/**
 * A real Kafka-protocol cluster for integration tests: librdkafka's mock
 * cluster (mock-cluster.c), compiled on first use into .cache/ and driven over
 * its stdin. No Kafka install, no Docker; brokers listen on 127.0.0.1 only.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface KafkaMockClusterOptions {
  /** Broker ids run from 1 to `brokers`. */
  readonly brokers?: number;
  /** Topic name → partition count, created before the cluster is handed out. */
  readonly topics: Readonly<Record<string, number>>;
}

export interface KafkaMockCluster {
  /** host:port of each broker, for kafkajs `brokers`. */
  readonly brokers: readonly string[];
  /** Closes the broker's connections and refuses new ones (no leader change). */
  brokerDown(brokerId: number): Promise<void>;
  brokerUp(brokerId: number): Promise<void>;
  /** The next `count` requests with Kafka API key `apiKey` (Produce = 0, Fetch = 1, …) fail with `errorCode`. */
  pushErrors(apiKey: number, errorCode: number, count: number): Promise<void>;
  stop(): Promise<void>;
}

/** Kafka protocol API keys and error codes the tests inject. */
export const API_KEYS = { produce: 0, fetch: 1, offsetCommit: 8, joinGroup: 11, heartbeat: 12 } as const;
export const ERROR_CODES = { messageTooLarge: 10, notLeaderForPartition: 6, requestTimedOut: 7 } as const;

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = fileURLToPath(new URL('./mock-cluster.c', import.meta.url));
const BINARY = `${PROJECT_ROOT}.cache/kafka-mock-cluster`;
const INSTALL_HINT = 'install librdkafka-dev and gcc (Debian/Ubuntu: apt-get install -y librdkafka-dev gcc)';
const START_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;

const run = promisify(execFile);

export async function startKafkaMockCluster(options: KafkaMockClusterOptions): Promise<KafkaMockCluster> {
  const brokerCount = options.brokers ?? 1;
  const topicArgs = Object.entries(options.topics).map(([name, partitions]) => `${name}:${partitions}`);
  await buildIfStale();

  const child = spawn(BINARY, [String(brokerCount), ...topicArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => stderr.push(chunk));
  // A failed spawn or a write after exit surface as events; the line reader reports them as "exited".
  child.on('error', (error) => stderr.push(String(error)));
  child.stdin.on('error', (error) => stderr.push(String(error)));
  const lines = lineReader(child);

  let bootstrap: string;
  try {
    bootstrap = await withTimeout(lines.next(), START_TIMEOUT_MS, 'the mock cluster to print its bootstrap servers');
  } catch (error) {
    child.kill('SIGKILL');
    const why = `${(error as Error).message}; stderr: ${stderr.join('').trim()}`;
    throw new Error(`Kafka mock cluster did not start (${why}). If librdkafka is missing: ${INSTALL_HINT}.`);
  }
  const match = /^BOOTSTRAP (\S+)$/.exec(bootstrap);
  if (!match?.[1]) {
    child.kill('SIGKILL');
    throw new Error(`kafka mock cluster printed ${JSON.stringify(bootstrap)} instead of "BOOTSTRAP host:port,..."`);
  }
  const brokers = match[1].split(',');

  // One command at a time: each answer line belongs to the oldest command.
  let queue: Promise<unknown> = Promise.resolve();
  const command = (line: string): Promise<void> => {
    const result = queue.then(async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`kafka mock cluster has exited; cannot run "${line}"`);
      child.stdin.write(`${line}\n`);
      const answer = await withTimeout(lines.next(), COMMAND_TIMEOUT_MS, `an answer to "${line}"`);
      if (answer !== 'OK') throw new Error(`kafka mock cluster: "${line}" failed: ${answer}`);
    });
    queue = result.catch(() => undefined);
    return result;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      child.stdin.end(); // EOF stops it even if a command is stuck
      try {
        await withTimeout(exited, STOP_TIMEOUT_MS, 'the mock cluster to exit');
      } catch {
        child.kill('SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  return {
    brokers,
    brokerDown: (id) => command(`down ${id}`),
    brokerUp: (id) => command(`up ${id}`),
    pushErrors: (apiKey, errorCode, count) => command(`errors ${apiKey} ${errorCode} ${count}`),
    stop,
  };
}

/** Compiles mock-cluster.c unless .cache holds a binary newer than the source. */
async function buildIfStale(): Promise<void> {
  const [source, binary] = await Promise.all([stat(SOURCE), stat(BINARY).catch(() => undefined)]);
  if (binary && binary.mtimeMs >= source.mtimeMs) return;

  await mkdir(`${PROJECT_ROOT}.cache`, { recursive: true });
  const flags = await rdkafkaFlags();
  // Build beside the target and rename, so that a concurrent run never executes half a binary.
  const partial = `${BINARY}.${process.pid}.tmp`;
  try {
    await run('gcc', ['-O2', '-Wall', '-o', partial, SOURCE, ...flags]);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'gcc is not installed' : (e.stderr ?? e.message).trim();
    throw new Error(`Cannot build the Kafka mock cluster (${why}). The Kafka integration tests need it: ${INSTALL_HINT}.`);
  }
  await rename(partial, BINARY);
}

/** pkg-config's flags when it knows rdkafka, else the plain library name. */
async function rdkafkaFlags(): Promise<string[]> {
  try {
    const { stdout } = await run('pkg-config', ['--cflags', '--libs', 'rdkafka']);
    const flags = stdout.trim().split(/\s+/).filter(Boolean);
    return flags.length > 0 ? flags : ['-lrdkafka'];
  } catch {
    return ['-lrdkafka'];
  }
}

interface LineReader {
  /** The next stdout line; rejects when the process closes its stdout first. */
  next(): Promise<string>;
}

function lineReader(child: ChildProcessWithoutNullStreams): LineReader {
  const buffered: string[] = [];
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  let closed = false;
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(line);
    else buffered.push(line);
  });
  rl.on('close', () => {
    closed = true;
    for (const waiter of waiting.splice(0)) waiter.reject(new Error('the mock cluster closed its stdout (exited)'));
  });
  return {
    next: () => {
      const line = buffered.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (closed) return Promise.reject(new Error('the mock cluster closed its stdout (exited)'));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
