import { seriesKey } from './seriesKey.js';

/**
 * Self-metrics: monotonically increasing counters keyed by name and labels, rendered in
 * Prometheus text exposition so any scraper can read them. Per-item events are counted
 * here instead of being logged one by one.
 */
export class Counters {
  private readonly values = new Map<string, { name: string; labels: Record<string, string>; value: number }>();
  private readonly help = new Map<string, string>();
  /** Names set with `set` rather than `add`: rendered as gauges. */
  private readonly gauges = new Set<string>();

  describe(name: string, help: string): void {
    this.help.set(name, help);
  }

  add(name: string, labels: Record<string, string> = {}, amount = 1): void {
    const key = seriesKey(name, labels);
    const entry = this.values.get(key);
    if (entry) entry.value += amount;
    else this.values.set(key, { name, labels, value: amount });
  }

  /**
   * A gauge: a value that goes up and down (files watched, bytes behind, spill depth); or,
   * as `counter`, a total another component keeps (a tailer's rotations seen).
   */
  set(name: string, labels: Record<string, string>, value: number, type: 'gauge' | 'counter' = 'gauge'): void {
    if (type === 'gauge') this.gauges.add(name);
    const key = seriesKey(name, labels);
    const entry = this.values.get(key);
    if (entry) entry.value = value;
    else this.values.set(key, { name, labels, value });
  }

  get(name: string, labels: Record<string, string> = {}): number {
    return this.values.get(seriesKey(name, labels))?.value ?? 0;
  }

  /** The sum of a counter over every label set. */
  total(name: string): number {
    let sum = 0;
    for (const entry of this.values.values()) if (entry.name === name) sum += entry.value;
    return sum;
  }

  render(): string {
    const byName = new Map<string, string[]>();
    for (const { name, labels, value } of this.values.values()) {
      const labelText = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',');
      const lines = byName.get(name) ?? [];
      lines.push(`${name}${labelText ? `{${labelText}}` : ''} ${value}`);
      byName.set(name, lines);
    }
    let out = '';
    for (const [name, lines] of [...byName.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const help = this.help.get(name);
      if (help) out += `# HELP ${name} ${help}\n`;
      out += `# TYPE ${name} ${this.gauges.has(name) ? 'gauge' : 'counter'}\n${lines.join('\n')}\n`;
    }
    return out;
  }
}
