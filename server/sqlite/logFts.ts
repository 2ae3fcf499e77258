import { logTerms } from '../../core/query.js';

/**
 * Both halves of the word split of the embedded log store, kept in one place so that they
 * agree: what the sink puts into `logs_fts` for a message, and what the store asks of it
 * for a query `q`.
 *
 * FTS5's unicode61 tokenizer alone does not split as `logTerms` does: it keeps combining
 * marks (U+0301) and private-use characters inside words, where `[\p{L}\p{N}]+` splits,
 * and its case folding leaves letters such as `İ` as they are, where `toLowerCase` makes
 * two characters of them. So the sink splits the message itself, with the very regex and
 * lower-casing of `logTerms`, and gives FTS5 the words joined by spaces: unicode61 then
 * only has spaces to split on. The query's words come from `logTerms` and go through
 * the same tokenizer inside double quotes, so both sides hold the same tokens.
 */

const WORD = /[\p{L}\p{N}]+/gu;

/** The text `logs_fts` indexes for a message: its words, lower-cased, one space apart. */
export function indexedWords(message: string): string {
  return (message.toLowerCase().match(WORD) ?? []).join(' ');
}

/** A word or phrase as an FTS5 string: double-quoted, so nothing in it is query syntax. */
function quoted(words: readonly string[]): string {
  // The words hold letters and digits only; the replace keeps that true whatever calls this.
  return `"${words.join(' ').replace(/"/g, '""')}"`;
}

/**
 * What a query `q` asks of `logs_fts`: `match`, which every record must satisfy, and
 * `exclude`, which no record may (FTS5 wants a positive term before NOT, so a query of
 * exclusions alone is asked as `NOT IN (… MATCH "a" OR "b")`). Either is absent when the
 * query has no such terms; neither is present for a `q` without words (`*`, `""`).
 */
export interface FtsQuery {
  readonly match?: string;
  readonly exclude?: string;
}

export function ftsQuery(q: string | undefined): FtsQuery {
  const { words, phrases, excluded } = logTerms(q);
  const positive = [...words.map((w) => quoted([w])), ...phrases.map(quoted)];
  const negative = excluded.map((w) => quoted([w]));
  if (positive.length === 0) return negative.length === 0 ? {} : { exclude: negative.join(' OR ') };
  return { match: negative.length === 0 ? positive.join(' ') : `${positive.join(' ')} NOT (${negative.join(' OR ')})` };
}
