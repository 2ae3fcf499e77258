/**
 * The alert engine's bench load, shared by the engine process, the evaluator micro rows and
 * the Prometheus peer: `tenants` × `definitionsPerTenant` definitions, each over its own
 * metric name with `match_by: [hostname]`, and `hostsPerDefinition` series per definition,
 * one alarm each (1,000 × 10 × 10 = 100,000 alarms).
 *
 * The measurements are framed once, before anything is timed, exactly as the agent's
 * publisher frames them on the in-process bus (`frame` with `metricCodec`, keyed by
 * `metricKey`, 5,000 envelopes a publish call, the in-process bus's unbounded message
 * size), so the engine decodes the same batched messages it reads in production. One
 * round (every series once) is reused: before a publish call its timestamps are rewritten
 * in place to the current time (13 ASCII digits at offsets found once), and the values of
 * the flipping series set above or below the threshold, so windows see current data and
 * nothing is re-encoded while the engine is timed.
 */
import { metricCodec } from '../core/codec.js';
import { metricEnvelope, type MetricEnvelope } from '../core/envelope.js';
import type { BusMessage } from '../core/pipeline.js';
import { metricKey } from '../bus/partitionKey.js';
import { frame } from '../bus/wire.js';
import type { NewAlarmDefinition } from '../alerting/store/alarmStore.js';

export interface AlertingLoadShape {
  readonly tenants: number;
  readonly definitionsPerTenant: number;
  readonly hostsPerDefinition: number;
  /** The definitions' period (their windows' slot width). */
  readonly periodSeconds: number;
  /** Every n-th series flips between a breaching and a quiet value each slot (0: none flips). */
  readonly flipEvery: number;
}

export const HEADLINE_SHAPE = { tenants: 1_000, definitionsPerTenant: 10, hostsPerDefinition: 10 } as const;
/** The agent's `agent.publisher.batch_size` default: envelopes framed per publish call. */
export const PUBLISH_BATCH = 5_000;
export const THRESHOLD = 50;
export const QUIET_VALUE = 10;
export const BREACHING_VALUE = 90;
/** Quiet and breaching values have the same width, so a value is rewritten in place. */
const QUIET_TEXT = Buffer.from(String(QUIET_VALUE));
const BREACHING_TEXT = Buffer.from(String(BREACHING_VALUE));
/** A 13-digit millisecond timestamp (2001 to 2286): every one has the same width. */
const PLACEHOLDER_MS = 1_700_000_000_000;
const TIMESTAMP_KEY = Buffer.from('"timestamp":');
const VALUE_KEY = Buffer.from('"value":');

export function tenantId(t: number): string {
  return `tenant-${String(t).padStart(4, '0')}`;
}

export function metricName(j: number): string {
  return `kb.metric_${j}`;
}

export function hostName(h: number): string {
  return `host-${String(h).padStart(2, '0')}`;
}

/**
 * The definition of tenant `t`'s `j`-th metric. `deterministic`: an alarm starts OK and a
 * quiet first window is no transition, so a fresh engine's first window close does not
 * turn 100,000 alarms from UNDETERMINED to OK in the middle of the timed window.
 */
export function definitionOf(t: number, j: number, periodSeconds: number): NewAlarmDefinition {
  return {
    tenantId: tenantId(t),
    name: `bench-${j}`,
    description: '',
    expression: `avg(${metricName(j)}, deterministic, ${periodSeconds}) > ${THRESHOLD}`,
    matchBy: ['hostname'],
    severity: 'LOW',
    alarmActions: [],
    okActions: [],
    undeterminedActions: [],
    actionsEnabled: true,
  };
}

export function* definitions(shape: AlertingLoadShape): Generator<NewAlarmDefinition> {
  for (let t = 0; t < shape.tenants; t++) for (let j = 0; j < shape.definitionsPerTenant; j++) yield definitionOf(t, j, shape.periodSeconds);
}

export function seriesCount(shape: Omit<AlertingLoadShape, 'periodSeconds' | 'flipEvery'>): number {
  return shape.tenants * shape.definitionsPerTenant * shape.hostsPerDefinition;
}

/** Every series once, host by host within a tenant (as one agent per tenant and host sends them). */
export function envelopes(shape: AlertingLoadShape, nowMs: number): MetricEnvelope[] {
  const out: MetricEnvelope[] = [];
  let series = 0;
  for (let t = 0; t < shape.tenants; t++) {
    const meta = { tenantId: tenantId(t), region: 'bench' };
    for (let h = 0; h < shape.hostsPerDefinition; h++) {
      for (let j = 0; j < shape.definitionsPerTenant; j++) {
        // Flipping series are marked by a value of the breaching width that is neither value; it is rewritten before each publish.
        const flips = shape.flipEvery > 0 && series % shape.flipEvery === 0;
        out.push(metricEnvelope({ name: metricName(j), dimensions: { hostname: hostName(h), service: 'bench' }, timestamp: PLACEHOLDER_MS, value: flips ? 11 : QUIET_VALUE, value_meta: null }, meta, nowMs));
        series++;
      }
    }
  }
  return out;
}

/** One publish call's messages and where, in their bytes, its timestamps and flipping values are. */
export interface PublishCall {
  readonly messages: BusMessage[];
  readonly envelopes: number;
  /** [message index, byte offset] pairs, flattened. */
  readonly timestampAt: Int32Array;
  readonly flipAt: Int32Array;
}

/** One round of every series, framed as the agent's publisher frames it, in publish calls of PUBLISH_BATCH. */
export function framedRound(shape: AlertingLoadShape, nowMs: number): PublishCall[] {
  const all = envelopes(shape, nowMs);
  const calls: PublishCall[] = [];
  for (let start = 0; start < all.length; start += PUBLISH_BATCH) {
    const batch = all.slice(start, start + PUBLISH_BATCH);
    const framed = frame(batch, metricCodec, metricKey, { mode: 'batched', maxMessageBytes: Number.MAX_SAFE_INTEGER });
    if (framed.tooLarge.length > 0) throw new Error('an envelope did not fit a message');
    const timestampAt: number[] = [];
    const flipAt: number[] = [];
    framed.messages.forEach((message, index) => {
      const value = message.value as Buffer;
      for (let at = value.indexOf(TIMESTAMP_KEY); at >= 0; at = value.indexOf(TIMESTAMP_KEY, at + 1)) timestampAt.push(index, at + TIMESTAMP_KEY.length);
      for (let at = value.indexOf(VALUE_KEY); at >= 0; at = value.indexOf(VALUE_KEY, at + 1)) {
        const from = at + VALUE_KEY.length;
        if (value[from] === 0x31 && value[from + 1] === 0x31) flipAt.push(index, from); // "11"
      }
    });
    if (timestampAt.length / 2 !== batch.length) throw new Error(`found ${timestampAt.length / 2} timestamps in ${batch.length} envelopes`);
    calls.push({ messages: framed.messages, envelopes: batch.length, timestampAt: Int32Array.from(timestampAt), flipAt: Int32Array.from(flipAt) });
  }
  return calls;
}

/** Rewrites a call's timestamps to `timestampMs` and its flipping values to breaching or quiet, in place. */
export function stamp(call: PublishCall, timestampMs: number, breaching: boolean): void {
  const digits = Buffer.from(String(timestampMs));
  if (digits.length !== 13) throw new Error(`timestamp ${timestampMs} is not 13 digits`);
  const { messages, timestampAt, flipAt } = call;
  for (let i = 0; i < timestampAt.length; i += 2) digits.copy(messages[timestampAt[i] as number]?.value as Buffer, timestampAt[i + 1]);
  const value = breaching ? BREACHING_TEXT : QUIET_TEXT;
  for (let i = 0; i < flipAt.length; i += 2) value.copy(messages[flipAt[i] as number]?.value as Buffer, flipAt[i + 1]);
}
