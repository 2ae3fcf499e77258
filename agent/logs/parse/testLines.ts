/** Shared by this folder's tests: raw lines with the offsets the tailer would give them. */

import { readFileSync } from 'node:fs';
import type { RawLine } from '../logLine.js';

export const LOG_FIXTURES = new URL('../../../test/fixtures/logs/', import.meta.url);

export function logFixture(name: string): string {
  return readFileSync(new URL(name, LOG_FIXTURES), 'utf8');
}

/** The lines of a file's text, each with its byte range (its `\n` included), from `startOffset`. */
export function rawLines(texts: readonly string[], startOffset = 0): RawLine[] {
  let offset = startOffset;
  return texts.map((text) => {
    const start = offset;
    offset += Buffer.byteLength(text, 'utf8') + 1;
    return { text, startOffset: start, endOffset: offset };
  });
}

/** A file's text cut into lines, without the empty string after a final `\n`. */
export function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
