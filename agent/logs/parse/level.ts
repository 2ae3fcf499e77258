/**
 * The severity a log line states about itself, read from a bounded prefix so that a long line
 * costs no more than a short one. Looked for in order: a klog header, a JSON `level`-like field,
 * a logfmt `level=`, a level word near the start; then the stream (see `detectLevel`).
 */

import type { LogStream } from '../logLine.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Level words are looked for in this many leading chars (timestamps and a logger name fit). */
const WORD_WINDOW = 64;
/** JSON and logfmt level fields are looked for in this many leading chars. */
const FIELD_WINDOW = 512;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

/** klog/glog: `Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg`, L one of I W E F. */
function klogLevel(message: string): LogLevel | undefined {
  if (message.length < 9 || message.charCodeAt(5) !== 32 || message.charCodeAt(8) !== 58) return undefined;
  if (!isDigit(message.charCodeAt(1)) || !isDigit(message.charCodeAt(2)) || !isDigit(message.charCodeAt(3)) || !isDigit(message.charCodeAt(4))) return undefined;
  switch (message.charCodeAt(0)) {
    case 73: return 'info';
    case 87: return 'warn';
    case 69: return 'error';
    case 70: return 'fatal';
    default: return undefined;
  }
}

const LEVEL_NAMES: Record<string, LogLevel> = {
  trace: 'trace', trc: 'trace', finest: 'trace', finer: 'trace',
  debug: 'debug', dbg: 'debug', fine: 'debug', verbose: 'debug',
  info: 'info', information: 'info', informational: 'info', notice: 'info', inf: 'info',
  warn: 'warn', warning: 'warn', wrn: 'warn',
  error: 'error', err: 'error', eror: 'error', severe: 'error',
  fatal: 'fatal', critical: 'fatal', crit: 'fatal', panic: 'fatal', emerg: 'fatal', emergency: 'fatal', alert: 'fatal', dpanic: 'fatal',
};

/** Maps a level name, in any case, to the six levels; undefined when it is not one. */
export function levelFromName(name: string): LogLevel | undefined {
  return Object.hasOwn(LEVEL_NAMES, name) ? LEVEL_NAMES[name] : Object.hasOwn(LEVEL_NAMES, name.toLowerCase()) ? LEVEL_NAMES[name.toLowerCase()] : undefined;
}

const MAX_NAME_LENGTH = 15;

/** pino and bunyan write numeric levels: 10 trace … 60 fatal. */
function levelFromNumber(value: number): LogLevel | undefined {
  if (value >= 60) return 'fatal';
  if (value >= 50) return 'error';
  if (value >= 40) return 'warn';
  if (value >= 30) return 'info';
  if (value >= 20) return 'debug';
  if (value >= 10) return 'trace';
  return undefined;
}

const JSON_KEYS = ['"level"', '"severity"', '"lvl"', '"log.level"', '"loglevel"'];

function jsonLevel(window: string): LogLevel | undefined {
  for (const key of JSON_KEYS) {
    const at = window.indexOf(key);
    if (at < 0) continue;
    let i = at + key.length;
    while (window.charCodeAt(i) === 32) i++;
    if (window.charCodeAt(i) !== 58) continue;
    i++;
    while (window.charCodeAt(i) === 32) i++;
    if (window.charCodeAt(i) === 34) {
      const end = window.indexOf('"', i + 1);
      if (end > i && end - i <= 16) {
        const level = levelFromName(window.slice(i + 1, end));
        if (level !== undefined) return level;
      }
    } else if (isDigit(window.charCodeAt(i))) {
      let value = 0;
      while (isDigit(window.charCodeAt(i))) value = value * 10 + window.charCodeAt(i++) - 48;
      const level = levelFromNumber(value);
      if (level !== undefined) return level;
    }
  }
  return undefined;
}

const LOGFMT_KEYS = ['level=', 'lvl=', 'severity='];

function logfmtLevel(window: string): LogLevel | undefined {
  for (const key of LOGFMT_KEYS) {
    let at = window.indexOf(key);
    // The key must be a whole key: at the start or after a space (not `loglevel=` inside a value).
    while (at > 0 && window.charCodeAt(at - 1) !== 32) at = window.indexOf(key, at + 1);
    if (at < 0) continue;
    let start = at + key.length;
    if (window.charCodeAt(start) === 34) start++;
    let end = start;
    while (isLetter(window.charCodeAt(end))) end++;
    if (end > start && end - start <= 16) {
      const level = levelFromName(window.slice(start, end));
      if (level !== undefined) return level;
    }
  }
  return undefined;
}

/**
 * A level word standing alone near the start: `[ERROR]`, `<warn>`, `INFO:`, `|DEBUG|`, ` Error `.
 * One regex pass over a bounded window: irregexp scans it several times faster than a
 * char-code loop, and with no nested quantifier it cannot backtrack far.
 */
const LEVEL_WORD = new RegExp(`(?:^|[\\s[\\]()<>:|,"'])(${Object.keys(LEVEL_NAMES).sort((a, b) => b.length - a.length).join('|')})(?=$|[\\s[\\]()<>:|,"'])`, 'gi');

/**
 * Upper-case level words count whatever they are (`SEVERE`, `NOTICE`, `CRIT`); in lower or mixed
 * case only these do, since prose says `Error` or `warning` as a level but `trace`, `alert` or `fine` otherwise.
 */
const PLAIN_LEVEL_WORDS = new Set(['fatal', 'error', 'warn', 'warning', 'info', 'debug']);

function wordLevel(message: string): LogLevel | undefined {
  // The window reaches past WORD_WINDOW by a word, so that a word starting inside it is seen whole.
  const window = message.length > WORD_WINDOW + MAX_NAME_LENGTH + 1 ? message.slice(0, WORD_WINDOW + MAX_NAME_LENGTH + 1) : message;
  LEVEL_WORD.lastIndex = 0;
  for (;;) {
    const match = LEVEL_WORD.exec(window);
    if (match === null) return undefined;
    const word = match[1] as string;
    if (match.index + match[0].length - word.length >= WORD_WINDOW) return undefined;
    const lower = word.toLowerCase();
    if (word === word.toUpperCase() || PLAIN_LEVEL_WORDS.has(lower)) return LEVEL_NAMES[lower];
    // The next word may begin right after this one's boundary.
    LEVEL_WORD.lastIndex = match.index + match[0].length;
  }
}

/**
 * The level a line states; when it states none, `error` for stderr (as Google Cloud Logging and
 * Stackdriver-style agents assign: a severity filter should not lose a crash written to stderr)
 * and undefined for stdout.
 */
export function detectLevel(message: string, stream: LogStream | undefined): LogLevel | undefined {
  const stated = statedLevel(message);
  if (stated !== undefined) return stated;
  return stream === 'stderr' ? 'error' : undefined;
}

/** The level the line itself states, ignoring the stream. */
export function statedLevel(message: string): LogLevel | undefined {
  const klog = klogLevel(message);
  if (klog !== undefined) return klog;
  const window = message.length > FIELD_WINDOW ? message.slice(0, FIELD_WINDOW) : message;
  let first = 0;
  while (window.charCodeAt(first) === 32) first++;
  if (window.charCodeAt(first) === 123) {
    const json = jsonLevel(window);
    if (json !== undefined) return json;
  } else if (window.indexOf('=') >= 0) {
    const logfmt = logfmtLevel(window);
    if (logfmt !== undefined) return logfmt;
  }
  return wordLevel(message);
}
