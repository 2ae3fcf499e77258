import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEnvelope } from '../../core/envelope.js';
import { runKansoku } from '../support/kansokuProcess.js';

/**
 * Every shared container-log vector, through the command users debug their parsing with:
 * `kansoku agent --once --output stdout --log-path GLOB`. Each vector is written as a
 * file in the kubelet's `/var/log/containers` naming (one pod per vector), all of them
 * are read in one run, and each pod's records must be the vector's expected records.
 */
const FIXTURES = new URL('../fixtures/logs/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const TS = '2024-01-02T03:04:05.123456789Z';
const CONTAINER_ID = 'f'.repeat(64);

interface FluentBitVector {
  input_records: string[];
  expected_output_records: string[];
}

interface Case {
  /** The pod the vector's file belongs to (a DNS label). */
  readonly pod: string;
  readonly text: string;
  readonly expected: readonly string[];
  /** Records expected to carry a parse error, by message. */
  readonly malformed?: readonly string[];
}

const chomp = (text: string): string => (text.endsWith('\n') ? text.slice(0, -1) : text);
const podOf = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
/** A raw application line as the container runtime writes it: a CRI `F` record. */
const criLine = (text: string, stream = 'stdout'): string => `${TS} ${stream} F ${text}\n`;

function cases(): Case[] {
  const out: Case[] = [];
  // Docker and CRI framing (partial lines per stream, the two formats mixed in one file).
  for (const name of ['cri', 'docker', 'container_mix', 'docker_cri_chain']) {
    const vector = JSON.parse(fixture(`fluent-bit-multiline-test-vectors/${name}.json`)) as FluentBitVector;
    // Fluent Bit's C literals put a raw newline inside a few JSON strings; in a json-file it is the escape `\n`.
    const lines = vector.input_records.map((record) => chomp(record).replace(/\n/g, '\\n'));
    // A line of neither format (Fluent Bit's "force pending flush" line) is a record of its own, marked.
    const malformed = lines.filter((l) => !l.startsWith('{') && !/^\S+ (stdout|stderr) [PF]/.test(l));
    out.push({ pod: `fb-${podOf(name)}`, text: lines.map((l) => `${l}\n`).join(''), expected: vector.expected_output_records.map(chomp), malformed });
  }
  // Stack traces as applications print them, one CRI record per line. endswith and issue_3817_1
  // exercise Fluent Bit's user-defined regex rules, which Kansoku has no configuration for:
  // the parser's unit tests assert that they come out unjoined.
  for (const name of ['java', 'python', 'go', 'ruby', 'elastic']) {
    const vector = JSON.parse(fixture(`fluent-bit-multiline-test-vectors/${name}.json`)) as FluentBitVector;
    out.push({ pod: `fb-${podOf(name)}`, text: vector.input_records.map((r) => criLine(chomp(r))).join(''), expected: vector.expected_output_records.map(chomp) });
  }
  // The kubelet's own parser vectors: F keeps the line, P is joined to what follows on its stream,
  // an unsupported format is a record of its raw text, marked. Records of one stream and format
  // come out together; a malformed line first ends what is held.
  out.push({
    pod: 'kubelet-parselog',
    text: fixture('kubelet-parser-vectors/kubelet_TestParseLog_lines.log'),
    expected: ['cri stdout test log', 'cri stderr test log', 'docker stdout test log', 'docker stderr test log', 'unsupported log format test log', 'cri stdout partial test logcri stdout partial test log'],
    malformed: ['unsupported log format test log'],
  });
  out.push({
    pod: 'kubelet-readlogs',
    text: fixture('kubelet-parser-vectors/kubelet_TestReadLogs_docker-json.log'),
    expected: fixture('kubelet-parser-vectors/kubelet_TestReadLogs_docker-json.log')
      .trim()
      .split('\n')
      .map((line) => chomp((JSON.parse(line) as { log: string }).log)),
  });
  // containerd's lines of a Java/Hadoop stack trace, each its own F record: one record.
  const hadoop = fixture('fluent-bit__cri_java_hadoop_stacktrace.log');
  out.push({ pod: 'hadoop', text: hadoop, expected: [chomp(hadoop).split('\n').map((l) => l.replace(/^\S+ \S+ F /, '')).join('\n')] });
  // Every trace of fluent-plugin-detect-exceptions, between two ordinary lines: one record each.
  for (const file of readdirSync(new URL('stacktraces-detect-exceptions/', FIXTURES)).sort()) {
    const trace = chomp(fixture(`stacktraces-detect-exceptions/${file}`));
    const lines = trace.split('\n');
    const body = file === 'ARBITRARY_TEXT.txt' ? lines : [trace];
    out.push({
      pod: `trace-${podOf(file.replace(/\.txt$/, ''))}`,
      text: criLine('before the trace') + lines.map((l) => criLine(l, 'stderr')).join('') + criLine('after the trace'),
      // stdout and stderr are joined apart: the trace's stderr record comes out after its stream ends.
      expected: ['before the trace', ...body, 'after the trace'],
    });
  }
  return out;
}

describe('kansoku agent --once --output stdout --log-path: every shared log vector', () => {
  const all = cases();
  let dir: string;
  const byPod = new Map<string, LogEnvelope[]>();
  let stderr = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kansoku-vectors-'));
    for (const c of all) writeFileSync(join(dir, `${c.pod}_vectors_app-${CONTAINER_ID}.log`), c.text);
    const run = runKansoku(['agent', '--once', '--output', 'stdout', '--log-path', join(dir, '*.log'), '--hostname', 'node-v'], { KANSOKU_LOG_LEVEL: 'warn' });
    expect(await run.exited(), run.stderr()).toBe(0);
    stderr = run.stderr();
    for (const line of run.stdout().trim().split('\n')) {
      const envelope = JSON.parse(line) as LogEnvelope;
      const pod = envelope.log.dimensions['pod_name'] ?? '';
      byPod.set(pod, [...(byPod.get(pod) ?? []), envelope]);
    }
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads every vector file, each record stamped with its pod, tenant and host', () => {
    expect([...byPod.keys()].sort()).toEqual(all.map((c) => c.pod).sort());
    for (const envelopes of byPod.values()) {
      for (const e of envelopes) {
        expect(e.meta.tenantId).toBe('vectors');
        expect(e.log.dimensions).toMatchObject({ hostname: 'node-v', namespace: 'vectors', container_name: 'app', container_id: CONTAINER_ID });
      }
    }
  });

  it.each(all.map((c) => [c.pod, c] as const))('%s gives its expected records', (_pod, c) => {
    const records = byPod.get(c.pod) ?? [];
    const got = records.map((e) => e.log.message);
    if (c.pod.startsWith('trace-')) {
      // Streams are joined apart, so the stderr trace and the stdout lines may interleave; compare per stream.
      const stdout = records.filter((e) => e.log.dimensions['stream'] === 'stdout').map((e) => e.log.message);
      const stderrRecords = records.filter((e) => e.log.dimensions['stream'] === 'stderr').map((e) => e.log.message);
      expect(stdout).toEqual(['before the trace', 'after the trace']);
      expect(stderrRecords).toEqual(c.expected.slice(1, -1));
      return;
    }
    expect(got).toEqual(c.expected);
    expect(new Set(records.map((e) => e.log.origin)).size).toBe(records.length);
  });

  it('marks the lines that did not parse, and only those, and says so on stderr', () => {
    const malformed = [...byPod.values()].flat().filter((e) => e.log.parse_error !== undefined).map((e) => e.log.message);
    expect(malformed.sort()).toEqual(all.flatMap((c) => c.malformed ?? []).sort());
    expect(stderr).toContain(`${malformed.length} log lines did not parse`);
  });
});
