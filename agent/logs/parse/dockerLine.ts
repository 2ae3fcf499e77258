/**
 * One line of a Docker json-file log: `{"log":"…\n","stream":"stdout","time":"<RFC3339Nano>"}`.
 * Docker cuts lines longer than 16 KiB: a `log` without its trailing `\n` is continued by the
 * next line of the same stream.
 */

import type { LogStream } from '../logLine.js';
import { parseRfc3339Ms } from './rfc3339.js';

export interface DockerLine {
  readonly timestampMs: number;
  readonly stream: LogStream;
  /** The `log` had no trailing `\n`: the next line of the same stream continues it. */
  readonly partial: boolean;
  /** The `log` without its trailing `\n`. */
  readonly message: string;
}

const QUOTE = 34;

function skipSpace(text: string, at: number): number {
  let i = at;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return i;
    i++;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Reads the JSON string whose opening quote is at `at` into `out` (its value and the index past
 * the closing quote); false when it is not a valid string. Raw control characters are let through: Docker never writes them,
 * and rejecting them would only lose a line.
 */
function readString(text: string, at: number, out: { value: string; end: number }): boolean {
  let segmentStart = at + 1;
  let value = '';
  for (;;) {
    const quote = text.indexOf('"', segmentStart);
    if (quote < 0) return false;
    const backslash = text.indexOf('\\', segmentStart);
    if (backslash < 0 || backslash > quote) {
      out.value = value + text.slice(segmentStart, quote);
      out.end = quote + 1;
      return true;
    }
    value += text.slice(segmentStart, backslash);
    const escape = text.charAt(backslash + 1);
    if (escape === 'u') {
      const hex = text.slice(backslash + 2, backslash + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) return false;
      value += String.fromCharCode(Number.parseInt(hex, 16));
      segmentStart = backslash + 6;
    } else {
      const simple = SIMPLE_ESCAPES[escape];
      if (simple === undefined) return false;
      value += simple;
      segmentStart = backslash + 2;
    }
  }
}

function toLine(log: unknown, stream: unknown, time: unknown): DockerLine | string {
  if (typeof log !== 'string') return 'docker: no log string';
  if (stream !== 'stdout' && stream !== 'stderr') return 'docker: bad stream';
  if (typeof time !== 'string') return 'docker: no time';
  const timestampMs = parseRfc3339Ms(time, 0, time.length);
  if (Number.isNaN(timestampMs)) return 'docker: bad time';
  const partial = log.charCodeAt(log.length - 1) !== 10;
  return { timestampMs, stream, partial, message: partial ? log : log.slice(0, -1) };
}

/** The general path, for lines carrying more than strings (Docker's `attrs` object with log-opt labels). */
function parseWithJson(text: string): DockerLine | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'docker: not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'docker: not an object';
  const record = parsed as Record<string, unknown>;
  return toLine(record.log, record.stream, record.time);
}

/** Parses one json-file line (without its `\n`); a malformed line gives a short reason, never a throw. */
export function parseDockerLine(text: string): DockerLine | string {
  // A flat object of strings is read in place; anything else goes through JSON.parse.
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 123) return 'docker: not an object';
  let log: string | undefined;
  let stream: string | undefined;
  let time: string | undefined;
  const read = { value: '', end: 0 };
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === 125) return toLine(log, stream, time);
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE || !readString(text, i, read)) return parseWithJson(text);
    const key = read.value;
    i = skipSpace(text, read.end);
    if (text.charCodeAt(i) !== 58) return parseWithJson(text);
    i = skipSpace(text, i + 1);
    if (text.charCodeAt(i) !== QUOTE || !readString(text, i, read)) return parseWithJson(text);
    if (key === 'log') log = read.value;
    else if (key === 'stream') stream = read.value;
    else if (key === 'time') time = read.value;
    i = skipSpace(text, read.end);
    const c = text.charCodeAt(i);
    if (c === 125) break;
    if (c !== 44) return parseWithJson(text);
    i = skipSpace(text, i + 1);
  }
  if (skipSpace(text, i + 1) !== text.length) return 'docker: text after the object';
  return toLine(log, stream, time);
}
