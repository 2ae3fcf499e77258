/**
 * The few glob forms the tailer needs, since Node 20 has no `fs.glob`: `*` and `?` match
 * within one path segment (never across `/`, never a leading `.`), every other character
 * is literal, and wildcards may stand in any segment (`/var/log/pods/<glob>/<glob>/*.log`).
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Whether a path segment has a wildcard in it. */
export function hasWildcard(segment: string): boolean {
  return segment.includes('*') || segment.includes('?');
}

/** A matcher for one path segment: `*` any run of characters, `?` one character. */
export function segmentMatcher(segment: string): (name: string) => boolean {
  let source = '';
  for (const ch of segment) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  const regex = new RegExp(`^${source}$`, 's');
  // As in a shell, a wildcard does not match a hidden name unless the pattern says so.
  const hiddenAllowed = segment.startsWith('.');
  return (name) => (hiddenAllowed || !name.startsWith('.')) && regex.test(name);
}

/**
 * The paths that match `pattern` now, sorted. Literal segments are joined without a look,
 * so a pattern without wildcards returns itself whether or not it exists; the caller stats
 * what it gets. A directory that cannot be read matches nothing.
 */
export async function expandGlob(pattern: string): Promise<string[]> {
  const segments = resolve(pattern).split('/').filter((s) => s.length > 0);
  let candidates = ['/'];
  for (const segment of segments) {
    if (!hasWildcard(segment)) {
      candidates = candidates.map((dir) => join(dir, segment));
      continue;
    }
    const matches = segmentMatcher(segment);
    const next: string[] = [];
    for (const dir of candidates) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) if (matches(name)) next.push(join(dir, name));
    }
    candidates = next;
  }
  return candidates.sort();
}
