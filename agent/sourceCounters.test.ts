import { describe, expect, it } from 'vitest';
import { Counters } from '../core/counters.js';
import { countMeasurements, countSamplesDropped, describeSourceCounters, SOURCE_COUNTERS } from './sourceCounters.js';

describe('source counters', () => {
  it('label measurements by source and drops by reason, whichever source counts', () => {
    const counters = new Counters();
    describeSourceCounters(counters);
    countMeasurements(counters, 'kubelet', 5);
    countMeasurements(counters, 'cgroup', 3);
    countSamplesDropped(counters, 'invalid', 2);
    countSamplesDropped(counters, 'invalid', 1);
    countSamplesDropped(counters, 'invalid', 0);
    expect(counters.render()).toBe(
      [
        `# HELP ${SOURCE_COUNTERS.measurements} Measurements produced, by source.`,
        `# TYPE ${SOURCE_COUNTERS.measurements} counter`,
        `${SOURCE_COUNTERS.measurements}{source="kubelet"} 5`,
        `${SOURCE_COUNTERS.measurements}{source="cgroup"} 3`,
        `# HELP ${SOURCE_COUNTERS.samplesDropped} Samples a source read that did not become measurements, by reason.`,
        `# TYPE ${SOURCE_COUNTERS.samplesDropped} counter`,
        `${SOURCE_COUNTERS.samplesDropped}{reason="invalid"} 3`,
        '',
      ].join('\n'),
    );
  });
});
