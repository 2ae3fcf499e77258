/**
 * How fast `LogFileParser.push` goes on a million realistic CRI lines (~170 bytes: nginx access
 * lines, JSON, klog, plain text and Java stack traces), in batches as the tailer hands them over.
 * Run: `npx tsx agent/logs/parse/logFileParser.bench.ts`. Lines per second are per second of CPU
 * time (user + system) of this process, so that other work on a shared machine does not skew them.
 */

import type { RawLine } from '../logLine.js';
import { LogFileParser } from './logFileParser.js';

const LINES = 1_000_000;
const BATCH = 1000;

function timestamp(i: number): string {
  const ms = Date.UTC(2024, 4, 1) + i * 7;
  return `${new Date(ms).toISOString().slice(0, 23)}${String(i % 1_000_000).padStart(6, '0')}Z`;
}

function mixedMessage(i: number): string[] {
  const kind = i % 20;
  if (kind < 7) return [`10.244.${i % 256}.${(i * 7) % 256} - - [01/May/2024:12:${String(i % 60).padStart(2, '0')}:00 +0000] "GET /api/v1/items/${i} HTTP/1.1" 200 ${i % 5000} "-" "kube-probe/1.29" ${(i % 997) / 1000}`];
  if (kind < 12) return [`{"level":"info","ts":"2024-05-01T12:00:00.000Z","caller":"server/handler.go:${i % 400}","msg":"request served","path":"/items/${i}","status":200,"durationMs":${i % 90}}`];
  if (kind < 16) return [`I0501 12:00:00.${String(i % 1_000_000).padStart(6, '0')}       1 reflector.go:${i % 900}] Listing and watching *v1.Pod from k8s.io/client-go/informers/factory.go:150 rv=${i}`];
  if (kind < 19) return [`2024-05-01 12:00:00,123 INFO  [worker-${i % 16}] c.example.orders.OrderService - processed order ${i} for customer ${i % 9973} in ${i % 300} ms`];
  return [
    `java.lang.IllegalStateException: order ${i} is in an unexpected state, refusing to continue processing it further`,
    '\tat com.example.orders.OrderService.process(OrderService.java:214)',
    '\tat com.example.orders.OrderController.submit(OrderController.java:88)',
    '\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)',
  ];
}

function plainMessage(i: number): string[] {
  return [`2024-05-01 12:00:00,123 INFO  [worker-${i % 16}] c.example.orders.OrderService - processed order ${i} for customer ${i % 9973} in ${i % 300} ms`];
}

function makeLines(messageOf: (i: number) => string[]): RawLine[] {
  const lines: RawLine[] = [];
  let offset = 0;
  for (let i = 0; lines.length < LINES; i++) {
    for (const message of messageOf(i)) {
      const text = `${timestamp(lines.length)} ${i % 3 === 0 ? 'stderr' : 'stdout'} F ${message}`;
      const bytes = Buffer.byteLength(text) + 1;
      lines.push({ text, startOffset: offset, endOffset: offset + bytes });
      offset += bytes;
    }
  }
  return lines.slice(0, LINES);
}

function run(name: string, lines: readonly RawLine[], multiline: boolean): void {
  const bytes = lines.reduce((sum, line) => sum + line.endOffset - line.startOffset, 0);
  let best = Infinity;
  let records = 0;
  for (let round = 0; round < 3; round++) {
    const parser = new LogFileParser({ multiline, multilineFlushMs: 1000, maxMessageBytes: 64 * 1024 });
    records = 0;
    const started = process.cpuUsage();
    for (let i = 0; i < lines.length; i += BATCH) records += parser.push(lines.slice(i, i + BATCH), 0).length;
    records += parser.end().length;
    const used = process.cpuUsage(started);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  const perSecond = Math.round(lines.length / best);
  console.log(`${name}: ${perSecond.toLocaleString('en')} lines/s (${Math.round(bytes / lines.length)} B/line avg, ${records.toLocaleString('en')} records, best of 3: ${best.toFixed(3)} CPU s)`);
}

const mixed = makeLines(mixedMessage);
const plain = makeLines(plainMessage);
run('mixed, multiline on ', mixed, true);
run('mixed, multiline off', mixed, false);
run('plain F lines, multiline on ', plain, true);
run('plain F lines, multiline off', plain, false);
