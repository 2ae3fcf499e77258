/**
 * The container log the logs benchmarks read: one file in the kubelet's
 * `/var/log/containers` naming, of CRI records (`<RFC3339Nano> stdout F <message>`, one
 * line per record), written before anything is timed.
 *
 * Its lines are the shapes real containers print, in the rotation writer's mix
 * (`lineText`: nginx access lines, JSON application logs, klog lines, plain log4j-style
 * lines; all but the JSON ones end in a trace id, for the ~170 bytes of a real line), and every `TRACE_EVERY` lines a Java stack trace of `TRACE_LINES` lines, one
 * CRI record per line as a runtime writes them, which a log shipper joins into one
 * record. The file ends with plain lines, so that no reader holds its last record back
 * waiting for a continuation.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { lineText } from '../test/support/rotatingLogWriter.js';

export const LOG_NAMESPACE = 'shop';
export const LOG_POD = 'checkout-7d9f8b6c5d-x2x4q';
export const LOG_CONTAINER = 'checkout';
const CONTAINER_ID = '3f6e2a9c0b1d4e5f'.repeat(4);
/** One stack trace starts every this many lines… */
export const TRACE_EVERY = 200;
/** …and takes this many: the exception line and its frames. */
export const TRACE_LINES = 10;
const FIRST_TIMESTAMP_MS = Date.UTC(2026, 10, 26, 6, 0, 0);
/** 10 µs between lines: a million lines span 10 s of the container's life. */
const NANOS_PER_LINE = 10_000;
const WRITE_CHUNK_LINES = 10_000;

const FRAMES = [
  'com.example.shop.inventory.InventoryClient.reserve(InventoryClient.java:142)',
  'com.example.shop.orders.OrderService.place(OrderService.java:88)',
  'com.example.shop.orders.OrderController.create(OrderController.java:51)',
  'jdk.internal.reflect.GeneratedMethodAccessor112.invoke(Unknown Source)',
  'org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:205)',
  'org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1006)',
  'org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:166)',
  'org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1791)',
  'java.base/java.lang.Thread.run(Thread.java:833)',
] as const;

export interface ContainerLogFile {
  /** `<root>/containers/<pod>_<namespace>_<container>-<64 hex>.log` */
  readonly path: string;
  /** The glob a shipper follows to find it. */
  readonly include: string;
  readonly lines: number;
  /** Records once each stack trace is joined into one. */
  readonly records: number;
  readonly bytes: number;
}

/** The message of line `seq`: a stack-trace line or one of `lineText`'s shapes. */
export function messageOf(seq: number): string {
  const inBlock = seq % TRACE_EVERY;
  if (inBlock >= TRACE_LINES) return seq % 4 === 1 ? lineText(seq) : `${lineText(seq)} trace_id=${traceId(seq)}`;
  if (inBlock === 0) return `java.lang.IllegalStateException: order seq=${seq} could not be reserved: inventory answered 503 Service Unavailable`;
  return `\tat ${FRAMES[inBlock - 1] ?? FRAMES[0]}`;
}

/** 16 hex digits that differ from line to line, as tracing ids do (the JSON lines carry none: text after them would not be JSON). */
function traceId(seq: number): string {
  return `${(Math.imul(seq, 2654435761) >>> 0).toString(16).padStart(8, '0')}${(Math.imul(seq ^ 0x5bd1e995, 40503) >>> 0).toString(16).padStart(8, '0')}`;
}

/** The CRI timestamp of line `seq`, RFC 3339 with nanoseconds, as containerd writes it. */
export function timestampOf(seq: number): string {
  const nanos = seq * NANOS_PER_LINE;
  const ms = FIRST_TIMESTAMP_MS + Math.floor(nanos / 1e6);
  const second = new Date(ms - (ms % 1000)).toISOString().slice(0, 19);
  const fraction = String((ms % 1000) * 1e6 + (nanos % 1e6)).padStart(9, '0');
  return `${second}.${fraction}Z`;
}

/** The line as the runtime writes it, newline included. */
export function criLine(seq: number): string {
  return `${timestampOf(seq)} stdout F ${messageOf(seq)}\n`;
}

/** How many records `lines` lines make once each stack trace is joined. */
export function recordsOf(lines: number): number {
  let records = 0;
  for (let seq = 0; seq < lines; seq++) if (seq % TRACE_EVERY === 0 || seq % TRACE_EVERY >= TRACE_LINES) records++;
  return records;
}

/** Writes `lines` lines under `root` (a fresh directory). */
export function writeContainerLogFile(root: string, lines: number): ContainerLogFile {
  if (lines % TRACE_EVERY !== 0) throw new Error(`${lines} lines would end inside a block; use a multiple of ${TRACE_EVERY}, so that the file ends on plain lines`);
  const dir = join(root, 'containers');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${LOG_POD}_${LOG_NAMESPACE}_${LOG_CONTAINER}-${CONTAINER_ID}.log`);
  const fd = openSync(path, 'wx');
  let bytes = 0;
  try {
    for (let start = 0; start < lines; start += WRITE_CHUNK_LINES) {
      let text = '';
      for (let seq = start; seq < Math.min(lines, start + WRITE_CHUNK_LINES); seq++) text += criLine(seq);
      bytes += writeSync(fd, text);
    }
  } finally {
    closeSync(fd);
  }
  return { path, include: join(dir, '*.log'), lines, records: recordsOf(lines), bytes };
}
