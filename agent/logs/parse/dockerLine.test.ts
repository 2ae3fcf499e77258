import { describe, expect, it } from 'vitest';
import { parseDockerLine } from './dockerLine.js';
import { linesOf, logFixture } from './testLines.js';

const T = '2016-10-20T18:39:20.57606443Z';
const T_MS = Date.parse('2016-10-20T18:39:20.576Z');

describe('parseDockerLine', () => {
  const cases: { name: string; line: string; want: { timestampMs: number; stream: string; partial: boolean; message: string } | 'error' }[] = [
    { name: 'a full line drops its newline', line: `{"log":"hello\\n","stream":"stdout","time":"${T}"}`, want: { timestampMs: T_MS, stream: 'stdout', partial: false, message: 'hello' } },
    { name: 'a line without newline is partial', line: `{"log":"hel","stream":"stderr","time":"${T}"}`, want: { timestampMs: T_MS, stream: 'stderr', partial: true, message: 'hel' } },
    { name: 'escapes are decoded', line: `{"log":"a\\"b\\\\c\\td\\u00e9\\u001b[0m\\/\\n","stream":"stdout","time":"${T}"}`, want: { timestampMs: T_MS, stream: 'stdout', partial: false, message: 'a"b\\c\td\u00e9\u001b[0m/' } },
    { name: 'only the last newline is dropped', line: `{"log":"a\\n\\n","stream":"stdout","time":"${T}"}`, want: { timestampMs: T_MS, stream: 'stdout', partial: false, message: 'a\n' } },
    { name: 'fields in another order, with spaces', line: `{ "time" : "${T}", "stream" : "stdout", "log" : "x\\n" }`, want: { timestampMs: T_MS, stream: 'stdout', partial: false, message: 'x' } },
    { name: 'an attrs object (log-opt labels) takes the general path', line: `{"log":"x\\n","stream":"stdout","attrs":{"app":"web"},"time":"${T}"}`, want: { timestampMs: T_MS, stream: 'stdout', partial: false, message: 'x' } },
    { name: 'a raw newline inside the string is let through', line: `{"log": "ee\n", "stream": "stderr", "time": "${T}"}`, want: { timestampMs: T_MS, stream: 'stderr', partial: false, message: 'ee' } },
    { name: 'not JSON', line: '{"log":"x', want: 'error' },
    { name: 'no log field', line: `{"stream":"stdout","time":"${T}"}`, want: 'error' },
    { name: 'a bad stream', line: `{"log":"x\\n","stream":"stdin","time":"${T}"}`, want: 'error' },
    { name: 'a bad time', line: `{"log":"x\\n","stream":"stdout","time":"yesterday"}`, want: 'error' },
    { name: 'a log that is not a string', line: `{"log":5,"stream":"stdout","time":"${T}"}`, want: 'error' },
    { name: 'an array', line: '[1,2]', want: 'error' },
    { name: 'text after the object', line: `{"log":"x\\n","stream":"stdout","time":"${T}"} junk`, want: 'error' },
    { name: 'a bad escape', line: `{"log":"\\q","stream":"stdout","time":"${T}"}`, want: 'error' },
  ];
  it.each(cases)('$name', ({ line, want }) => {
    const parsed = parseDockerLine(line);
    if (want === 'error') expect(parsed).toBeTypeOf('string');
    else expect(parsed).toEqual(want);
  });

  it('reads the kubelet TestReadLogs json-file', () => {
    const parsed = linesOf(logFixture('kubelet-parser-vectors/kubelet_TestReadLogs_docker-json.log')).map(parseDockerLine);
    expect(parsed).toEqual([1, 2, 3].map((n) => ({ timestampMs: Date.parse(`2020-09-27T11:18:0${n}Z`), stream: 'stdout', partial: false, message: `line${n}` })));
  });
});
