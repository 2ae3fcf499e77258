import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CADVISOR_API_METRICS } from '../agent/cadvisor/cadvisorApiMetrics.js';
import { CGROUP_METRICS } from '../agent/cgroup/cgroupMetrics.js';
import { CADVISOR_METRICS } from '../agent/kubelet/cadvisorMetrics.js';
import { DERIVED_GAUGES, RATE_METRICS } from '../agent/rates/deriveRates.js';
import { STATS_SUMMARY_METRICS } from '../agent/summary/statsSummaryMetrics.js';

/** The README's metric mapping is the code's: every name a source or step emits is in it. */
describe("README's metric mapping", () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const mapping = readme.slice(readme.indexOf('## Metric mapping'), readme.indexOf('## Self-metrics'));

  it.each([
    ['/metrics/cadvisor', CADVISOR_METRICS.map((row) => row.name)],
    ['/stats/summary', STATS_SUMMARY_METRICS.map((row) => row.name)],
    ["cAdvisor's REST API", CADVISOR_API_METRICS.map((row) => row.name)],
    ['local cgroups', Object.values(CGROUP_METRICS)],
    ['rates', RATE_METRICS.map((row) => row.name)],
    ['limits and percentages', DERIVED_GAUGES.map((row) => row.name)],
  ])('names every measurement of %s', (_source, names) => {
    expect(names.length).toBeGreaterThan(0);
    const missing = names.filter((name) => !mapping.includes(`\`${name}\``) && !mapping.includes(`\`${name.replace(/\.(\w+)$/, '.{')}`));
    expect(missing).toEqual([]);
  });

  it('has one row per metric in the tables generated from the summary and cAdvisor API mappings', () => {
    for (const rows of [STATS_SUMMARY_METRICS, CADVISOR_API_METRICS]) {
      for (const row of rows) expect(mapping, row.name).toMatch(new RegExp(`^\\| \`${row.name.replace(/\./g, '\\.')}\` \\| ${row.scope} \\| \`${row.field.replace(/[.[\]]/g, '\\$&')}\``, 'm'));
    }
  });
});
