import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Counters } from '../core/counters.js';
import type { Metric } from '../core/envelope.js';
import type { AlarmState } from './alarmState.js';
import { loadAlertingRules, type AlarmDefinition } from './config.js';
import { EVALUATOR_COUNTERS, Evaluator, type EvaluatorLimits } from './evaluator.js';

const BASE_MS = 1_700_000_000_000;
const LIMITS: EvaluatorLimits = { max_points_per_window: 10_000, max_alarms: 1000, max_metrics_per_alarm: 100 };

function definitions(raw: unknown[]): readonly AlarmDefinition[] {
  const loaded = loadAlertingRules({ alarm_definitions: raw });
  if (!loaded.ok) throw new Error(loaded.error);
  return loaded.value.definitions;
}

function metric(name: string, atSeconds: number, value: number, dimensions: Record<string, string> = {}): Metric {
  return { name, dimensions, timestamp: BASE_MS + atSeconds * 1000, value, value_meta: null };
}

const at = (seconds: number): number => BASE_MS + seconds * 1000;

// Rule tests as data: each file gives definitions, an input series and the states expected at evaluation instants.
interface RuleFile {
  readonly description: string;
  readonly definitions: unknown[];
  readonly series: { at_seconds: number; metric: string; dimensions: Record<string, string>; tenant: string; value: number }[];
  readonly expect: {
    at_seconds: number;
    alarms: { definition: string; tenant: string; match_by: Record<string, string>; state: AlarmState }[];
    transitions?: { definition: string; match_by: Record<string, string>; from: AlarmState; to: AlarmState }[];
  }[];
}

const testdata = new URL('./testdata/', import.meta.url);
const ruleFiles = readdirSync(testdata).filter((f) => f.endsWith('.json')).sort();

describe('rule files (alerting/testdata/*.json)', () => {
  it('finds the rule files', () => {
    expect(ruleFiles.length).toBeGreaterThanOrEqual(5);
  });

  it.each(ruleFiles)('%s', (file) => {
    const rules = JSON.parse(readFileSync(new URL(file, testdata), 'utf8')) as RuleFile;
    const evaluator = new Evaluator(definitions(rules.definitions), LIMITS, new Counters());
    const series = [...rules.series].sort((a, b) => a.at_seconds - b.at_seconds);
    let next = 0;
    for (const step of rules.expect) {
      while (next < series.length && (series[next]?.at_seconds ?? Infinity) <= step.at_seconds) {
        const point = series[next++];
        if (point) evaluator.ingest(point.tenant, metric(point.metric, point.at_seconds, point.value, point.dimensions));
      }
      const transitions = evaluator.evaluate(at(step.at_seconds));
      const states = evaluator
        .snapshot()
        .map((a) => ({ definition: a.definitionName, tenant: a.tenantId, match_by: a.matchBy, state: a.state }))
        .sort((a, b) => `${a.definition}${JSON.stringify(a.match_by)}`.localeCompare(`${b.definition}${JSON.stringify(b.match_by)}`));
      expect(states, `${rules.description}\nstates at ${step.at_seconds}s`).toEqual(step.alarms);
      if (step.transitions) {
        expect(
          transitions.map((t) => ({ definition: t.alarmDefinition.name, match_by: t.matchBy, from: t.oldState, to: t.newState })),
          `${rules.description}\ntransitions at ${step.at_seconds}s`,
        ).toEqual(step.transitions);
      }
    }
  });
});

describe('Evaluator', () => {
  const highCpu = definitions([
    { name: 'high-cpu', description: 'CPU is busy', tenant_id: 'acme', metric: 'cpu.percent', operator: 'GT', threshold: 90, match_by: ['hostname'], webhooks: ['http://127.0.0.1:1/hook'] },
  ]);

  it('creates an alarm UNDETERMINED and reports its first decision as a transition with the reason, value and metrics', () => {
    const evaluator = new Evaluator(highCpu, LIMITS, new Counters());
    evaluator.ingest('acme', metric('cpu.percent', 0, 95, { hostname: 'n1', core: '0' }));
    evaluator.ingest('acme', metric('cpu.percent', 1, 97, { hostname: 'n1', core: '1' }));
    expect(evaluator.snapshot().map((a) => a.state)).toEqual(['UNDETERMINED']);

    const [transition, ...rest] = evaluator.evaluate(at(1));
    expect(rest).toEqual([]);
    expect(transition).toMatchObject({
      tenantId: 'acme',
      matchBy: { hostname: 'n1' },
      oldState: 'UNDETERMINED',
      newState: 'ALARM',
      timestampMs: at(1),
      value: 96,
      reason: 'Thresholds were exceeded for the sub-alarms: avg(cpu.percent, 60) > 90 with the values: [96]',
      metrics: [
        { name: 'cpu.percent', dimensions: { hostname: 'n1', core: '0' } },
        { name: 'cpu.percent', dimensions: { hostname: 'n1', core: '1' } },
      ],
    });
    expect(transition?.alarmDefinition.name).toBe('high-cpu');
    expect(transition?.alarmId).toBe(evaluator.snapshot()[0]?.alarmId);
  });

  it('gives an alarm the same id in every process, and different ids to different match_by values', () => {
    const ids = (host: string): string | undefined => {
      const evaluator = new Evaluator(highCpu, LIMITS, new Counters());
      evaluator.ingest('acme', metric('cpu.percent', 0, 1, { hostname: host }));
      return evaluator.snapshot()[0]?.alarmId;
    };
    expect(ids('n1')).toBe(ids('n1'));
    expect(ids('n1')).not.toBe(ids('n2'));
  });

  it.each([
    { name: 'another tenant', tenant: 'globex', metric: metric('cpu.percent', 0, 99, { hostname: 'n1' }) },
    { name: 'another metric name', tenant: 'acme', metric: metric('cpu.idle', 0, 99, { hostname: 'n1' }) },
    { name: 'no match_by dimension', tenant: 'acme', metric: metric('cpu.percent', 0, 99, {}) },
  ])('ignores a measurement of $name', ({ tenant, metric: m }) => {
    const evaluator = new Evaluator(highCpu, LIMITS, new Counters());
    expect(evaluator.ingest(tenant, m)).toBe(0);
    expect(evaluator.evaluate(at(0))).toEqual([]);
    expect(evaluator.snapshot()).toEqual([]);
  });

  it('reports nothing while the state holds', () => {
    const evaluator = new Evaluator(highCpu, LIMITS, new Counters());
    evaluator.ingest('acme', metric('cpu.percent', 0, 99, { hostname: 'n1' }));
    expect(evaluator.evaluate(at(0))).toHaveLength(1);
    evaluator.ingest('acme', metric('cpu.percent', 10, 98, { hostname: 'n1' }));
    expect(evaluator.evaluate(at(10))).toEqual([]);
  });

  it.each([
    { name: 'last takes the newest timestamp, not the latest arrival', fn: 'last', arrivals: [[1, 50], [0, 99]], expected: 50 },
    { name: 'a point stamped after now waits for its period', fn: 'max', arrivals: [[1, 10], [30, 99]], expected: 10 },
    { name: 'the period is (now - period, now]: older points are left out', fn: 'sum', arrivals: [[-60, 1000], [-59, 1000], [-58, 1], [1, 2]], expected: 3 },
  ])('$name', ({ fn, arrivals, expected }) => {
    const evaluator = new Evaluator(definitions([{ name: 'd', tenant_id: 't', metric: 'm', function: fn, operator: 'GT', threshold: 0 }]), LIMITS, new Counters());
    for (const [seconds, value] of arrivals) evaluator.ingest('t', metric('m', seconds ?? 0, value ?? 0));
    expect(evaluator.evaluate(at(1))[0]?.value).toBe(expected);
  });

  it('drops the oldest points of a full window and counts them', () => {
    const counters = new Counters();
    const evaluator = new Evaluator(definitions([{ name: 'd', tenant_id: 't', metric: 'm', function: 'min', operator: 'LT', threshold: 5 }]), { ...LIMITS, max_points_per_window: 3 }, counters);
    for (const [seconds, value] of [[1, 1], [2, 2], [3, 30], [4, 40], [5, 50]] as const) evaluator.ingest('t', metric('m', seconds, value));
    expect(counters.get(EVALUATOR_COUNTERS.pointsDropped)).toBe(2);
    expect(evaluator.evaluate(at(5))[0]).toMatchObject({ newState: 'OK', value: 30 });
  });

  it('creates no alarm past max_alarms and counts what it turned away', () => {
    const counters = new Counters();
    const evaluator = new Evaluator(highCpu, { ...LIMITS, max_alarms: 2 }, counters);
    for (const host of ['a', 'b', 'c', 'd']) evaluator.ingest('acme', metric('cpu.percent', 0, 99, { hostname: host }));
    expect(evaluator.snapshot().map((a) => a.matchBy['hostname'])).toEqual(['a', 'b']);
    expect(counters.get(EVALUATOR_COUNTERS.alarmsNotCreated)).toBe(2);
  });

  it('lists at most max_metrics_per_alarm metrics on an alarm and counts the rest', () => {
    const counters = new Counters();
    const evaluator = new Evaluator(highCpu, { ...LIMITS, max_metrics_per_alarm: 1 }, counters);
    evaluator.ingest('acme', metric('cpu.percent', 0, 99, { hostname: 'a', core: '0' }));
    evaluator.ingest('acme', metric('cpu.percent', 0, 99, { hostname: 'a', core: '1' }));
    expect(evaluator.evaluate(at(0))[0]?.metrics).toEqual([{ name: 'cpu.percent', dimensions: { hostname: 'a', core: '0' } }]);
    expect(counters.get(EVALUATOR_COUNTERS.metricsNotListed)).toBe(1);
  });

  it('says which sub-alarm had no data when it turns UNDETERMINED', () => {
    const evaluator = new Evaluator(highCpu, LIMITS, new Counters());
    evaluator.ingest('acme', metric('cpu.percent', 0, 10, { hostname: 'n1' }));
    evaluator.evaluate(at(0));
    expect(evaluator.evaluate(at(180))[0]).toMatchObject({
      oldState: 'OK',
      newState: 'UNDETERMINED',
      value: null,
      reason: 'No data was present for the sub-alarms: avg(cpu.percent, 60) > 90',
    });
  });
});
