/**
 * Prometheus pages in the delimited protobuf format, made with protobufjs from the
 * client_model schema, so that the hand-written decoder (`parseProtobuf.ts`) is checked
 * against an independent encoder. `textToProtobuf` serves a text page the way a kubelet
 * would serve the same page in protobuf: one `MetricFamily` per run of a family's samples,
 * labels in page order, the timestamp when the line has one, NaN and ±Inf as they are.
 */
import protobuf from 'protobufjs';
import { parseExposition, type MetricType, type Sample } from '../../agent/exposition/parseExposition.js';

/** prometheus/client_model io/prometheus/client/metrics.proto, the fields the exposition uses. */
export const METRICS_PROTO = `
syntax = "proto2";
package io.prometheus.client;
message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Counter { optional double value = 1; }
message Quantile { optional double quantile = 1; optional double value = 2; }
message Summary { optional uint64 sample_count = 1; optional double sample_sum = 2; repeated Quantile quantile = 3; }
message Untyped { optional double value = 1; }
message Bucket { optional uint64 cumulative_count = 1; optional double cumulative_count_float = 4; optional double upper_bound = 2; }
message Histogram { optional uint64 sample_count = 1; optional double sample_count_float = 4; optional double sample_sum = 2; repeated Bucket bucket = 3; }
message Metric {
  repeated LabelPair label = 1;
  optional Gauge gauge = 2;
  optional Counter counter = 3;
  optional Summary summary = 4;
  optional Untyped untyped = 5;
  optional Histogram histogram = 7;
  optional int64 timestamp_ms = 6;
}
message MetricFamily { optional string name = 1; optional string help = 2; optional MetricType type = 3; repeated Metric metric = 4; }
`;

/** The `MetricFamily` type, parsed from the schema text once per call (tests and the bench hold on to it). */
export function metricFamilyType(): protobuf.Type {
  return protobuf.parse(METRICS_PROTO, { keepCase: true }).root.lookupType('io.prometheus.client.MetricFamily');
}

export interface LabelPairInput {
  readonly name: string;
  readonly value: string;
}

/** A `Metric` as protobufjs takes it (snake_case field names, as in the schema). */
export interface MetricInput {
  readonly label?: LabelPairInput[];
  readonly gauge?: { value: number };
  readonly counter?: { value: number };
  readonly untyped?: { value: number };
  readonly summary?: { sample_count: number; sample_sum: number; quantile: { quantile: number; value: number }[] };
  readonly histogram?: { sample_count: number; sample_sum: number; bucket: { cumulative_count: number; upper_bound: number }[] };
  readonly timestamp_ms?: number;
}

export interface FamilyInput {
  readonly name: string;
  readonly help?: string;
  readonly type: MetricType;
  readonly metric: MetricInput[];
}

const TYPE_NUMBERS: Readonly<Record<MetricType, number>> = { counter: 0, gauge: 1, summary: 2, untyped: 3, histogram: 4 };

/** Families → delimited protobuf bytes. */
export function encodeFamilies(families: readonly FamilyInput[], type: protobuf.Type = metricFamilyType()): Buffer {
  const writer = protobuf.Writer.create();
  for (const family of families) type.encodeDelimited(type.fromObject({ ...family, type: TYPE_NUMBERS[family.type] }), writer);
  return Buffer.from(writer.finish());
}

/** One family message, without its length prefix (for tests that build pages byte by byte). */
export function encodeFamily(family: FamilyInput, type: protobuf.Type = metricFamilyType()): Buffer {
  return Buffer.from(type.encode(type.fromObject({ ...family, type: TYPE_NUMBERS[family.type] })).finish());
}

/** A varint-length prefix, for pages built by hand. */
export function lengthPrefix(length: number): Buffer {
  return Buffer.from(protobuf.Writer.create().uint32(length).finish());
}

/** A text page → the same page as a kubelet serves it in protobuf. Text lines that do not parse are left out. */
export function textToProtobuf(page: string, type: protobuf.Type = metricFamilyType()): Buffer {
  const parsed = parseExposition(page);
  return encodeFamilies(samplesToFamilies(parsed.samples, parsed.types), type);
}

/**
 * Samples in page order → families: a new family whenever the family changes. A summary's
 * or histogram's lines (`x{quantile=…}`, `x_bucket{le=…}`, `x_sum`, `x_count`) are put back
 * together per label set, as the text format took them apart.
 */
export function samplesToFamilies(samples: readonly Sample[], types: ReadonlyMap<string, MetricType>): FamilyInput[] {
  const families: FamilyInput[] = [];
  let current: FamilyInput | undefined;
  let composite = new Map<string, MetricInput>();
  for (const sample of samples) {
    const { family, type, part } = familyOf(sample.name, types);
    if (current === undefined || current.name !== family) {
      current = { name: family, type, metric: [] };
      families.push(current);
      composite = new Map();
    }
    const timestamp = sample.timestampMs === undefined ? {} : { timestamp_ms: sample.timestampMs };
    if (type !== 'summary' && type !== 'histogram') {
      current.metric.push({ label: labelPairs(sample.labels), [type]: { value: sample.value }, ...timestamp });
      continue;
    }
    const special = type === 'summary' ? 'quantile' : 'le';
    const own = Object.fromEntries(Object.entries(sample.labels).filter(([name]) => name !== special));
    const key = JSON.stringify(own);
    let metric = composite.get(key);
    if (metric === undefined) {
      metric = { label: labelPairs(own), ...(type === 'summary' ? { summary: { sample_count: 0, sample_sum: 0, quantile: [] } } : { histogram: { sample_count: 0, sample_sum: 0, bucket: [] } }), ...timestamp };
      composite.set(key, metric);
      current.metric.push(metric);
    }
    const body = (metric.summary ?? metric.histogram) as { sample_count: number; sample_sum: number };
    if (part === '_sum') body.sample_sum = sample.value;
    else if (part === '_count') body.sample_count = sample.value;
    else if (metric.summary !== undefined) metric.summary.quantile.push({ quantile: Number(sample.labels['quantile']), value: sample.value });
    else if (metric.histogram !== undefined) metric.histogram.bucket.push({ upper_bound: sample.labels['le'] === '+Inf' ? Infinity : Number(sample.labels['le']), cumulative_count: sample.value });
  }
  return families;
}

function familyOf(name: string, types: ReadonlyMap<string, MetricType>): { family: string; type: MetricType; part: '' | '_sum' | '_count' | '_bucket' } {
  const own = types.get(name);
  if (own !== undefined) return { family: name, type: own, part: '' };
  for (const part of ['_sum', '_count', '_bucket'] as const) {
    if (!name.endsWith(part)) continue;
    const base = name.slice(0, -part.length);
    const type = types.get(base);
    if (type === 'histogram' || (type === 'summary' && part !== '_bucket')) return { family: base, type, part };
  }
  return { family: name, type: 'untyped', part: '' };
}

function labelPairs(labels: Readonly<Record<string, string>>): LabelPairInput[] {
  return Object.entries(labels).map(([name, value]) => ({ name, value }));
}
