import type { Point, Series } from '../../core/query.js';

/**
 * Monasca's merge_metrics and group_by, over series a store returned. Kept out of the
 * stores so that SQLite and InfluxDB answer alike.
 */
function byTime(a: Point, b: Point): number {
  return a.timestampMs - b.timestampMs;
}

/** All series as one, dimensions being those every series shares. */
export function mergeSeries(name: string, series: readonly Series[]): Series {
  const first = series[0]?.dimensions ?? {};
  const common: Record<string, string> = {};
  for (const [key, value] of Object.entries(first)) if (series.every((s) => s.dimensions[key] === value)) common[key] = value;
  return { name, dimensions: common, points: series.flatMap((s) => s.points).sort(byTime) };
}

/** One series per distinct value of the named dimensions; `*` keeps every series apart. */
export function groupSeries(name: string, series: readonly Series[], groupBy: readonly string[]): readonly Series[] {
  if (groupBy.includes('*')) return series;
  const groups = new Map<string, Series[]>();
  for (const s of series) {
    const key = JSON.stringify(groupBy.map((d) => s.dimensions[d] ?? null));
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((members) => {
    const merged = mergeSeries(name, members);
    const dimensions: Record<string, string> = {};
    for (const d of groupBy) {
      const value = members[0]?.dimensions[d];
      if (value !== undefined) dimensions[d] = value;
    }
    return { ...merged, dimensions };
  });
}
