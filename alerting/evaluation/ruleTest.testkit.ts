import { Counters } from '../../core/counters.js';
import type { AlarmState } from '../alarmState.js';
import { isAlarmState } from '../alarmState.js';
import type { AlarmDefinitionRecord } from '../store/alarmStore.js';
import { AlarmEvaluator } from './alarmEvaluator.js';

/**
 * Rule tests as data, in the spirit of Prometheus's promqltest files: definitions, input
 * series with their arrival times, and the states expected at given instants.
 *
 *   # a comment
 *   delay 5s                                      how long a closed slot waits for late data (default 0)
 *   definition cpu: avg(cpu{service=web}) > 80    a name, then the expression
 *     match_by hostname                           optional, indented under its definition
 *   series cpu{service=web,hostname=a} from 0s every 60s: 10 90 _ 95
 *                                                 values from 0s, one per step; `_` is no value
 *   series cpu{hostname=a} from 0s every 60s lag 90s: 1 2
 *                                                 each point arrives 90 s after its timestamp
 *   eval 125s cpu{hostname=a} ALARM               the state after evaluating at 125 s; the
 *                                                 braces select one alarm by its match_by values
 *   eval 125s cpu NONE                            no alarm of that definition (yet)
 *   transitions cpu{hostname=a}: OK ALARM OK      every state the alarm moved to, in order
 *   counter too_old 1                             kansoku_alerting_measurements_too_old_total
 *
 * Times are seconds (`90s`, `2m`, `1h`, or a bare number) from an instant aligned to every
 * period. The clock ticks once a second: arrivals up to t, then an evaluation at t, then
 * the checks at t.
 */

const BASE_MS = 1_698_278_400_000; // a multiple of two weeks, so every period's slots start at 0 s
const TENANT = 'rule-test';

interface SeriesLine {
  readonly name: string;
  readonly dimensions: Record<string, string>;
  readonly points: readonly { readonly atS: number; readonly arriveS: number; readonly value: number }[];
}

interface Check {
  readonly line: number;
  readonly atS: number;
  readonly definition: string;
  readonly selector: Record<string, string>;
  readonly expected: AlarmState | 'NONE';
}

interface TransitionCheck {
  readonly line: number;
  readonly definition: string;
  readonly selector: Record<string, string>;
  readonly states: readonly AlarmState[];
}

export interface RuleTest {
  delayS: number;
  readonly definitions: { name: string; expression: string; matchBy: string[] }[];
  readonly series: SeriesLine[];
  readonly checks: Check[];
  readonly transitionChecks: TransitionCheck[];
  readonly counters: { line: number; name: string; value: number }[];
}

export function parseRuleTest(text: string): RuleTest {
  const test: RuleTest = { delayS: 0, definitions: [], series: [], checks: [], transitionChecks: [], counters: [] };
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/#.*$/, '');
    if (content.trim() === '') return;
    const fail = (message: string): never => {
      throw new Error(`line ${line}: ${message}: ${raw.trim()}`);
    };
    if (/^\s/.test(content)) {
      const last = test.definitions.at(-1);
      const match = /^\s+match_by\s+(.+)$/.exec(content);
      if (!last || !match?.[1]) return fail('only "match_by" may be indented, under a definition');
      last.matchBy = match[1].split(',').map((k) => k.trim());
      return;
    }
    const [word, ...rest] = content.trim().split(/\s+/);
    const tail = rest.join(' ');
    switch (word) {
      case 'delay':
        test.delayS = seconds(tail, fail);
        return;
      case 'definition': {
        const match = /^([\w.-]+):\s*(.+)$/.exec(tail);
        if (!match?.[1] || !match[2]) return fail('expected "definition <name>: <expression>"');
        test.definitions.push({ name: match[1], expression: match[2], matchBy: [] });
        return;
      }
      case 'series': {
        const match = /^(\S+?)(\{[^}]*\})?\s+from\s+(\S+)\s+every\s+(\S+)(?:\s+lag\s+(\S+))?:\s*(.*)$/.exec(tail);
        if (!match?.[1] || match[3] === undefined || match[4] === undefined || match[6] === undefined) return fail('expected "series <metric>{dims} from <t> every <step> [lag <t>]: <values>"');
        const from = seconds(match[3], fail);
        const step = seconds(match[4], fail);
        const lag = match[5] === undefined ? 0 : seconds(match[5], fail);
        const points: { atS: number; arriveS: number; value: number }[] = [];
        match[6]
          .trim()
          .split(/\s+/)
          .forEach((token, i) => {
            if (token === '_') return;
            const value = Number(token);
            if (!Number.isFinite(value)) fail(`"${token}" is not a number`);
            points.push({ atS: from + i * step, arriveS: from + i * step + lag, value });
          });
        test.series.push({ name: match[1], dimensions: braces(match[2] ?? '{}', fail), points });
        return;
      }
      case 'eval': {
        const match = /^(\S+)\s+([\w.-]+)(\{[^}]*\})?\s+(\S+)$/.exec(tail);
        if (!match?.[1] || !match[2] || !match[4]) return fail('expected "eval <t> <definition>{match_by} <STATE|NONE>"');
        const expected = match[4];
        if (!isAlarmState(expected) && expected !== 'NONE') return fail(`"${expected}" is not OK, ALARM, UNDETERMINED or NONE`);
        test.checks.push({ line, atS: seconds(match[1], fail), definition: match[2], selector: braces(match[3] ?? '{}', fail), expected });
        return;
      }
      case 'transitions': {
        const match = /^([\w.-]+)(\{[^}]*\})?:\s*(.*)$/.exec(tail);
        if (!match?.[1] || match[3] === undefined) return fail('expected "transitions <definition>{match_by}: <STATE> ..."');
        const states = match[3].trim() === '' ? [] : match[3].trim().split(/\s+/);
        const bad = states.find((s) => !isAlarmState(s));
        if (bad !== undefined) return fail(`"${bad}" is not a state`);
        test.transitionChecks.push({ line, definition: match[1], selector: braces(match[2] ?? '{}', fail), states: states as AlarmState[] });
        return;
      }
      case 'counter': {
        const [name, value] = rest;
        if (!name || value === undefined || !Number.isInteger(Number(value))) return fail('expected "counter <name> <integer>"');
        test.counters.push({ line, name, value: Number(value) });
        return;
      }
      default:
        fail(`unknown directive "${word ?? ''}"`);
    }
  });
  return test;
}

function seconds(text: string, fail: (message: string) => never): number {
  const match = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (!match?.[1]) return fail(`"${text}" is not a time`);
  const n = Number(match[1]);
  return match[2] === 'h' ? n * 3600 : match[2] === 'm' ? n * 60 : n;
}

function braces(text: string, fail: (message: string) => never): Record<string, string> {
  const inner = text.slice(1, -1).trim();
  const out: Record<string, string> = {};
  if (inner === '') return out;
  for (const pair of inner.split(',')) {
    const [key, value] = pair.split('=').map((s) => s.trim());
    if (!key || value === undefined) fail(`"${pair}" is not key=value`);
    else out[key] = value;
  }
  return out;
}

export interface RuleTestFailure {
  readonly line: number;
  readonly message: string;
}

/** Runs a parsed rule test; returns every failed expectation (none means it passed). */
export function runRuleTest(test: RuleTest): RuleTestFailure[] {
  const counters = new Counters();
  const evaluator = new AlarmEvaluator({ delayMs: test.delayS * 1000, maxAlarms: 100_000, maxMetricsPerAlarm: 100 }, counters);
  const records: AlarmDefinitionRecord[] = test.definitions.map((d) => ({
    id: `def-${d.name}`,
    tenantId: TENANT,
    name: d.name,
    description: '',
    expression: d.expression,
    matchBy: d.matchBy,
    severity: 'LOW',
    alarmActions: [],
    okActions: [],
    undeterminedActions: [],
    actionsEnabled: true,
    createdAtMs: BASE_MS,
    updatedAtMs: BASE_MS,
  }));
  evaluator.setDefinitions(records, BASE_MS);
  if (evaluator.definitionCount !== records.length) return [{ line: 0, message: 'a definition did not parse' }];

  const arrivals = test.series
    .flatMap((s) => s.points.map((p) => ({ ...p, name: s.name, dimensions: s.dimensions })))
    .sort((a, b) => a.arriveS - b.arriveS);
  const endS = Math.max(0, ...test.checks.map((c) => c.atS), ...arrivals.map((a) => a.arriveS)) + 1;
  const history = new Map<string, AlarmState[]>();
  const failures: RuleTestFailure[] = [];
  const alarmsOf = (definition: string, selector: Record<string, string>) =>
    [...evaluator.all()].filter((a) => a.complete && a.definition.record.name === definition && Object.entries(selector).every(([k, v]) => a.matchBy[k] === v));

  let next = 0;
  for (let t = 0; t <= endS; t++) {
    const nowMs = BASE_MS + t * 1000;
    while (next < arrivals.length && (arrivals[next]?.arriveS ?? Infinity) <= t) {
      const a = arrivals[next++];
      if (a) evaluator.ingest(TENANT, { name: a.name, dimensions: a.dimensions, timestamp: BASE_MS + a.atS * 1000, value: a.value, value_meta: {} }, 0, nowMs);
    }
    for (const transition of evaluator.evaluate(nowMs)) {
      const list = history.get(transition.alarm.id) ?? [];
      list.push(transition.record.newState);
      history.set(transition.alarm.id, list);
    }
    for (const check of test.checks.filter((c) => c.atS === t)) {
      const found = alarmsOf(check.definition, check.selector);
      if (check.expected === 'NONE') {
        if (found.length > 0) failures.push({ line: check.line, message: `at ${t}s expected no alarm, found ${found.length} (${found.map((a) => a.state).join(', ')})` });
        continue;
      }
      if (found.length !== 1) failures.push({ line: check.line, message: `at ${t}s expected one alarm, found ${found.length}` });
      else if (found[0]?.state !== check.expected) failures.push({ line: check.line, message: `at ${t}s expected ${check.expected}, got ${found[0]?.state ?? '?'}` });
    }
  }
  for (const check of test.transitionChecks) {
    const found = alarmsOf(check.definition, check.selector);
    if (found.length !== 1) {
      failures.push({ line: check.line, message: `expected one alarm for transitions, found ${found.length}` });
      continue;
    }
    const got = history.get(found[0]?.id ?? '') ?? [];
    if (got.join(' ') !== check.states.join(' ')) failures.push({ line: check.line, message: `transitions: expected [${check.states.join(' ')}], got [${got.join(' ')}]` });
  }
  for (const check of test.counters) {
    const got = counters.total(`kansoku_alerting_measurements_${check.name}_total`);
    if (got !== check.value) failures.push({ line: check.line, message: `counter ${check.name}: expected ${check.value}, got ${got}` });
  }
  return failures;
}
