/**
 * One line of a CRI container log file, as containerd and CRI-O write it:
 * `<RFC3339Nano> <stdout|stderr> <P|F>[:TAGS] <message>`.
 * Semantics follow the kubelet's own reader: `P` marks a partial line (the runtime cut a long
 * line, the next line of the same stream continues it); any other first tag ends the line.
 */

import type { LogStream } from '../logLine.js';
import { parseRfc3339Ms } from './rfc3339.js';

export interface CriLine {
  readonly timestampMs: number;
  readonly stream: LogStream;
  /** The runtime cut the line here; the next line of the same stream continues it. */
  readonly partial: boolean;
  /** The content, without the newline the kubelet would put back on a full line. */
  readonly message: string;
}

const SPACE = 32;

/** Parses one CRI line (without its `\n`); a malformed line gives a short reason, never a throw. */
export function parseCriLine(text: string): CriLine | string {
  const timeEnd = text.indexOf(' ');
  if (timeEnd < 0) return 'cri: no field separator';
  const timestampMs = parseRfc3339Ms(text, 0, timeEnd);
  if (Number.isNaN(timestampMs)) return 'cri: bad timestamp';

  let stream: LogStream;
  const streamStart = timeEnd + 1;
  // Both stream names are six letters: compare in place rather than slicing.
  if (text.startsWith('stdout', streamStart)) stream = 'stdout';
  else if (text.startsWith('stderr', streamStart)) stream = 'stderr';
  else return 'cri: bad stream';
  const tagStart = streamStart + 7;
  if (text.charCodeAt(tagStart - 1) !== SPACE) return 'cri: bad stream';

  const first = text.charCodeAt(tagStart);
  const afterFirst = text.charCodeAt(tagStart + 1);
  let messageStart: number;
  // The common tags `P`/`F` alone are one letter; `P:TAG1:TAG2` carries extra tags to skip.
  if (afterFirst === SPACE) {
    messageStart = tagStart + 2;
  } else if (Number.isNaN(afterFirst)) {
    // A line cut right after its tag: an empty message (the separating space was lost).
    messageStart = tagStart + 1;
  } else {
    const tagEnd = text.indexOf(' ', tagStart);
    messageStart = tagEnd < 0 ? text.length : tagEnd + 1;
  }
  if (Number.isNaN(first) || first === SPACE || first === 58) return 'cri: no tag';
  const partial = first === 80 && (afterFirst === SPACE || afterFirst === 58 || Number.isNaN(afterFirst));
  return { timestampMs, stream, partial, message: text.slice(messageStart) };
}
