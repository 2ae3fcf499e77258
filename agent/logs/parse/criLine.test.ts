import { describe, expect, it } from 'vitest';
import { parseCriLine } from './criLine.js';
import { parseDockerLine } from './dockerLine.js';
import { parseRfc3339Ms } from './rfc3339.js';
import { logFixture } from './testLines.js';

interface KubeletCase {
  name: string;
  line: string;
  expect: { timestamp?: string; stream?: string; log?: string; error?: boolean };
}

const kubeletCases = (JSON.parse(logFixture('kubelet-parser-vectors/kubelet_TestParseLog_vectors.json')) as { cases: KubeletCase[] }).cases;

describe('the kubelet TestParseLog vectors', () => {
  it('are all here', () => {
    expect(kubeletCases).toHaveLength(7);
  });

  it.each(kubeletCases)('$name', ({ line, expect: want }) => {
    // The kubelet reads a line with its newline; the tailer gives it without.
    const text = line.endsWith('\n') ? line.slice(0, -1) : line;
    const parsed = text.startsWith('{') ? parseDockerLine(text) : parseCriLine(text);
    if (want.error === true) {
      expect(typeof parsed).toBe('string');
      return;
    }
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed.stream).toBe(want.stream);
    expect(parsed.timestampMs).toBe(Date.parse('2016-10-20T18:39:20.576Z'));
    // The kubelet keeps the newline on a full line and drops it on a partial one; the message never carries it.
    const kubeletLog = text.startsWith('{') ? parsed.message : parsed.message + (parsed.partial ? '' : '\n');
    expect(kubeletLog).toBe(want.log);
  });
});

describe('parseCriLine', () => {
  const cases: { name: string; line: string; want: { timestampMs: number; stream: string; partial: boolean; message: string } | 'error' }[] = [
    { name: 'a full stdout line', line: '2024-01-02T03:04:05.123456789Z stdout F hello world', want: { timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5, 123), stream: 'stdout', partial: false, message: 'hello world' } },
    { name: 'a partial stderr line keeps its trailing space', line: '2024-01-02T03:04:05Z stderr P part one ', want: { timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5), stream: 'stderr', partial: true, message: 'part one ' } },
    { name: 'an offset of +08:00', line: '2024-01-02T11:04:05.5+08:00 stdout F x', want: { timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5, 500), stream: 'stdout', partial: false, message: 'x' } },
    { name: 'a negative offset crossing midnight', line: '2024-01-01T23:30:00-01:00 stdout F x', want: { timestampMs: Date.UTC(2024, 0, 2, 0, 30), stream: 'stdout', partial: false, message: 'x' } },
    { name: 'an empty message', line: '2024-01-02T03:04:05Z stdout F ', want: { timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5), stream: 'stdout', partial: false, message: '' } },
    { name: 'an empty message with the space lost', line: '2024-01-02T03:04:05Z stdout F', want: { timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5), stream: 'stdout', partial: false, message: '' } },
    { name: 'spaces inside the message are kept', line: '2024-01-02T03:04:05Z stdout F  two  spaces ', want: { timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5), stream: 'stdout', partial: false, message: ' two  spaces ' } },
    { name: 'extra tags after F', line: '2024-01-02T03:04:05Z stdout F:x:y m', want: { timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5), stream: 'stdout', partial: false, message: 'm' } },
    { name: 'an unknown tag is a full line, as the kubelet reads it', line: '2024-01-02T03:04:05Z stdout X m', want: { timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5), stream: 'stdout', partial: false, message: 'm' } },
    { name: 'a leap day', line: '2024-02-29T00:00:00Z stdout F m', want: { timestampMs: Date.UTC(2024, 1, 29), stream: 'stdout', partial: false, message: 'm' } },
    { name: 'no fields', line: 'hello', want: 'error' },
    { name: 'a bad timestamp', line: '2024-13-02T03:04:05Z stdout F m', want: 'error' },
    { name: 'the 30th of February', line: '2024-02-30T03:04:05Z stdout F m', want: 'error' },
    { name: 'a timestamp without a zone', line: '2024-01-02T03:04:05 stdout F m', want: 'error' },
    { name: 'an unknown stream', line: '2024-01-02T03:04:05Z stdin F m', want: 'error' },
    { name: 'a stream glued to the tag', line: '2024-01-02T03:04:05Z stdoutF m', want: 'error' },
    { name: 'no tag', line: '2024-01-02T03:04:05Z stdout ', want: 'error' },
    { name: 'an empty line', line: '', want: 'error' },
  ];
  it.each(cases)('$name', ({ line, want }) => {
    const parsed = parseCriLine(line);
    if (want === 'error') expect(parsed).toBeTypeOf('string');
    else expect(parsed).toEqual(want);
  });
});

describe('parseRfc3339Ms', () => {
  const cases: { name: string; text: string; want: number }[] = [
    { name: 'nanoseconds are cut to milliseconds', text: '2016-10-20T18:39:20.57606443Z', want: Date.parse('2016-10-20T18:39:20.576Z') },
    { name: 'one fractional digit', text: '2016-10-20T18:39:20.5Z', want: Date.parse('2016-10-20T18:39:20.500Z') },
    { name: 'no fraction', text: '1970-01-01T00:00:00Z', want: 0 },
    { name: 'before the epoch', text: '1969-12-31T23:59:59.999Z', want: -1 },
    { name: 'lower-case z as Docker sometimes writes', text: '2021-02-01T16:45:03.01231z', want: Date.parse('2021-02-01T16:45:03.012Z') },
    { name: '+00:00', text: '2019-05-07T18:57:52.904275089+00:00', want: Date.parse('2019-05-07T18:57:52.904Z') },
    { name: '+05:30', text: '2019-05-08T00:27:52+05:30', want: Date.parse('2019-05-07T18:57:52Z') },
    { name: 'a dot without digits', text: '2019-05-07T18:57:52.Z', want: NaN },
    { name: 'garbage after the zone', text: '2019-05-07T18:57:52Zx', want: NaN },
    { name: 'a bad offset', text: '2019-05-07T18:57:52+0800', want: NaN },
    { name: 'hour 24', text: '2019-05-07T24:00:00Z', want: NaN },
  ];
  it.each(cases)('$name', ({ text, want }) => {
    expect(parseRfc3339Ms(text, 0, text.length)).toBe(want);
  });

  it('agrees with Date.parse on every day of a leap and a common year', () => {
    for (let ms = Date.UTC(2023, 0, 1); ms < Date.UTC(2025, 0, 1); ms += 86_400_000 + 3_723_456) {
      const text = new Date(ms).toISOString();
      expect(parseRfc3339Ms(text, 0, text.length)).toBe(ms);
    }
  });
});
