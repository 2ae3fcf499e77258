/**
 * The identity of a series: a metric name and its exact set of dimensions, whatever order
 * the dimensions arrived in. JSON quotes every name, key and value, so no choice of
 * characters (quotes, commas, brackets, NUL) can make two series share a key.
 */

/**
 * The canonical text of a dimension set: `[[key,value],…]` with keys in UTF-16 code-unit
 * order (`Array.prototype.sort`'s). The embedded store persists it in
 * `series.dimensions_key`, so this exact text is part of the database format: changing it
 * would split every stored series from its new points.
 */
export function dimensionsKey(dimensions: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(dimensions).sort().map((k) => [k, dimensions[k]]));
}

/** A series' identity as one string: `[name,[[key,value],…]]`, its dimensions as `dimensionsKey` writes them. */
export function seriesKey(name: string, dimensions: Readonly<Record<string, string>>): string {
  return `[${JSON.stringify(name)},${dimensionsKey(dimensions)}]`;
}
