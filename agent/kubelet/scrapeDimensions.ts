/**
 * The dimension sets of a kubelet's series, one object per set, kept from one scrape to
 * the next.
 *
 * Every scrape names the same containers again. Building (and validating) their
 * dimensions once, and handing every measurement of a series the same object, is cheaper
 * than building them per sample; and it is what lets the later steps cache by object:
 * the enrichment's merged dimensions, the codec's JSON of shared objects, the cardinality
 * guard's hash. A set validated once is frozen, so that no step can change what the
 * others cached.
 *
 * Forgetting is by generations, like the cardinality guard's: `nextScrape` makes the
 * sets of the scrape that just ended the previous generation and discards the older one,
 * so a set is kept while every scrape names it, and the cache holds at most two scrapes'
 * worth.
 */
import type { Checked } from '../../core/outcome.js';

export class ScrapeDimensions {
  private current = new Map<string, Checked<Readonly<Record<string, string>>>>();
  private previous = new Map<string, Checked<Readonly<Record<string, string>>>>();

  /** The set known under `key` (a unique text of its content), or undefined to build it and `remember` it. */
  lookup(key: string): Checked<Readonly<Record<string, string>>> | undefined {
    const known = this.current.get(key);
    if (known !== undefined) return known;
    const older = this.previous.get(key);
    if (older !== undefined) this.current.set(key, older);
    return older;
  }

  remember(key: string, dimensions: Checked<Readonly<Record<string, string>>>): Checked<Readonly<Record<string, string>>> {
    if (dimensions.ok) Object.freeze(dimensions.value);
    this.current.set(key, dimensions);
    return dimensions;
  }

  /** Called once per scrape, before it is mapped: what the scrape before last alone named is forgotten. */
  nextScrape(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  get size(): number {
    return this.current.size;
  }
}
