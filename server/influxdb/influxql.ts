/**
 * InfluxQL text built from untrusted names and values. Every name goes into a quoted
 * identifier and every value into a string literal, escaped by the rules of InfluxQL's
 * scanner (influxql/scanner.go ScanString): inside quotes only `\\`, `\"`, `\'` and `\n`
 * are escapes, and a raw newline ends the statement with an error. Escaping all four
 * leaves no way out of the quotes, whatever a tenant sends.
 */
import type { DimensionFilter } from '../../core/query.js';
import { RESERVED_TAG_KEYS, TENANT_TAG } from './lineProtocol.js';

function escapeQuoted(text: string, quote: '"' | "'"): string {
  return text.replace(quote === '"' ? /[\\"\n]/g : /[\\'\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

export function quoteIdentifier(name: string): string {
  return `"${escapeQuoted(name, '"')}"`;
}

export function quoteString(value: string): string {
  return `'${escapeQuoted(value, "'")}'`;
}

/** A tag reference: `::tag` keeps a dimension called `value` from meaning the field of that name. */
export function tagRef(key: string): string {
  return `${quoteIdentifier(key)}::tag`;
}

/** An epoch-milliseconds instant as an InfluxQL time literal. */
export function timeLiteral(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`not an instant: ${ms}`);
  return `${Math.trunc(ms)}ms`;
}

/**
 * The WHERE conditions that keep a query inside one tenant and its dimension filter, or
 * undefined when the filter can match nothing (an empty list of values, a reserved or
 * empty key). The tenant condition comes first and is always ANDed, so no filter can
 * widen it.
 */
export function tenantConditions(tenantId: string, filter: DimensionFilter): string[] | undefined {
  const conditions = [`${tagRef(TENANT_TAG)} = ${quoteString(tenantId)}`];
  for (const [key, values] of Object.entries(filter)) {
    if (key.length === 0 || RESERVED_TAG_KEYS.has(key)) return undefined;
    if (values === null) {
      // InfluxDB reads a missing tag as '', and dimensions are never empty: "exists" is "not empty".
      conditions.push(`${tagRef(key)} != ''`);
      continue;
    }
    // `= ''` would match every series without the key, which no dimension value can mean.
    const wanted = [...new Set(values)].filter((v) => v.length > 0);
    if (wanted.length === 0) return undefined;
    const alternatives = wanted.map((v) => `${tagRef(key)} = ${quoteString(v)}`);
    conditions.push(alternatives.length === 1 ? (alternatives[0] as string) : `(${alternatives.join(' OR ')})`);
  }
  return conditions;
}
