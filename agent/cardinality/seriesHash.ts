/**
 * A series' identity as a number, for the cardinality guard's hot path.
 *
 * `core/seriesKey.ts` sorts the dimension names and builds a JSON string per sample; on
 * ~100k envelopes a cycle that is most of the guard's cost and all of its garbage. This
 * hashes name and dimensions in place instead: each (key, value) pair is hashed on its
 * own and the pair hashes are added, so the result does not depend on the dimensions'
 * order and needs no sort and no string. It is 53 bits (a safe integer, so a `Set` member
 * without boxing).
 *
 * The guard trusts it without comparing dimensions: among n series two share a hash with
 * probability about n²/2⁵⁴ (2·10⁻⁶ for 200k series), and a collision only lets one new
 * series pass as if it were known, one past the cap; it never drops a series. Storing and
 * comparing every series' dimensions would double the per-envelope work and the memory.
 */
const TWO_POW_21 = 2 ** 21;
const LOW_MASK = TWO_POW_21 - 1;
// Two lanes with different seeds and multipliers (FNV-1a's and murmur2's): 64 bits of state, 53 kept.
const PRIME_HIGH = 0x01000193;
const PRIME_LOW = 0x5bd1e995;
const SEED_HIGH = 0x811c9dc5;
const SEED_LOW = 0x9747b28c;
/** Mixed in after a key's length, so that a key's end is never mistaken for a value's. */
const KEY_END = 0x7fff0000;

/** A 53-bit hash of name and dimensions, the same whatever order the dimensions are in. */
export function seriesHash(name: string, dimensions: Readonly<Record<string, string>>): number {
  return withName(dimensionsHash(dimensions), name);
}

/** The dimensions' part of a series hash: the two lanes' sums of the pair hashes. */
export interface DimensionsHash {
  readonly high: number;
  readonly low: number;
}

/** The dimensions' part of `seriesHash`, for a caller that hashes many names with the same dimensions object. */
export function dimensionsHash(dimensions: Readonly<Record<string, string>>): DimensionsHash {
  let sumHigh = 0;
  let sumLow = 0;
  // This loop is the guard's whole per-envelope cost, hence written out: one pass per
  // string feeds both lanes, two UTF-16 units per multiply; each string's length is mixed
  // in after it, so "a" and "a\u0000" (the same words) and ("ab","c") and ("a","bc") differ.
  for (const key in dimensions) {
    const value = dimensions[key] as string;
    let high = SEED_HIGH;
    let low = SEED_LOW;
    let i = 0;
    for (const last = key.length - 1; i < last; i += 2) {
      const word = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16);
      high = Math.imul(high ^ word, PRIME_HIGH);
      low = Math.imul(low ^ word, PRIME_LOW);
    }
    if (i < key.length) {
      high = Math.imul(high ^ key.charCodeAt(i), PRIME_HIGH);
      low = Math.imul(low ^ key.charCodeAt(i), PRIME_LOW);
    }
    high = Math.imul(high ^ (key.length | KEY_END), PRIME_HIGH);
    low = Math.imul(low ^ (key.length | KEY_END), PRIME_LOW);
    i = 0;
    for (const last = value.length - 1; i < last; i += 2) {
      const word = value.charCodeAt(i) | (value.charCodeAt(i + 1) << 16);
      high = Math.imul(high ^ word, PRIME_HIGH);
      low = Math.imul(low ^ word, PRIME_LOW);
    }
    if (i < value.length) {
      high = Math.imul(high ^ value.charCodeAt(i), PRIME_HIGH);
      low = Math.imul(low ^ value.charCodeAt(i), PRIME_LOW);
    }
    high = Math.imul(high ^ value.length, PRIME_HIGH);
    low = Math.imul(low ^ value.length, PRIME_LOW);
    // Addition commutes: the pairs' order does not matter.
    sumHigh = (sumHigh + finalize(high)) | 0;
    sumLow = (sumLow + finalize(low)) | 0;
  }
  return { high: sumHigh, low: sumLow };
}

/** `seriesHash` of `name` and the dimensions `sums` was made of. */
export function withName(sums: DimensionsHash, name: string): number {
  let high = sums.high ^ 0x27d4eb2f;
  let low = sums.low ^ 0x165667b1;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    high = Math.imul(high ^ c, PRIME_HIGH);
    low = Math.imul(low ^ c, PRIME_LOW);
  }
  return (finalize(high) >>> 0) * TWO_POW_21 + (finalize(low) & LOW_MASK);
}

/** murmur3's fmix32: every input bit reaches every output bit, so summing pair hashes does not cancel structure. */
function finalize(hash: number): number {
  let h = hash ^ (hash >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
