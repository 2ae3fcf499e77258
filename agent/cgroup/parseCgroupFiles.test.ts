import { describe, expect, it } from 'vitest';
import { parseBlkioServiceBytes, parseCount, parseIoStat, parseKeyedCounts } from './parseCgroupFiles.js';

describe('parseCount', () => {
  it.each([
    { name: 'with the trailing newline', text: '818409472\n', want: { ok: true, value: 818409472 } },
    { name: 'beyond 2^53 (a long-running cpuacct.usage), as the nearest float', text: '18446744073709551615\n', want: { ok: true, value: 2 ** 64 } },
    { name: 'empty', text: '', want: { ok: false, error: '"" is not a count' } },
    { name: 'v2 "max"', text: 'max\n', want: { ok: false, error: '"max" is not a count' } },
    { name: 'negative', text: '-5', want: { ok: false, error: '"-5" is not a count' } },
    { name: 'hexadecimal, which Number() would take', text: '0x1f', want: { ok: false, error: '"0x1f" is not a count' } },
  ])('$name', ({ text, want }) => {
    expect(parseCount(text)).toEqual(want);
  });
});

describe('parseKeyedCounts', () => {
  it.each([
    { name: 'picks the keys asked for and ignores the rest', text: 'usage_usec 10\nuser_usec 7\nsystem_usec 3\nnr_periods x\n', want: { ok: true, value: { usage_usec: 10, user_usec: 7 } } },
    { name: 'a missing key', text: 'usage_usec 10\n', want: { ok: false, error: 'has no user_usec' } },
    { name: 'a garbage value', text: 'usage_usec 10\nuser_usec 7e3\n', want: { ok: false, error: 'user_usec is "7e3", not a count' } },
    { name: 'a key with no value', text: 'usage_usec 10\nuser_usec\n', want: { ok: false, error: 'has no user_usec' } },
  ])('$name', ({ text, want }) => {
    expect(parseKeyedCounts(text, ['usage_usec', 'user_usec'])).toEqual(want);
  });
});

describe('parseIoStat', () => {
  it.each([
    {
      name: 'sums over devices',
      text: '8:0 rbytes=1048576 wbytes=2097152 rios=10 wios=20 dbytes=0 dios=0\n253:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
      want: { ok: true, value: { readBytes: 1052672, writeBytes: 2105344 } },
    },
    { name: 'no device has done I/O', text: '', want: { ok: true, value: { readBytes: 0, writeBytes: 0 } } },
    { name: 'a line without a device', text: 'rbytes=1 wbytes=2\n', want: { ok: false, error: 'line "rbytes=1 wbytes=2" does not start with a device number' } },
    { name: 'a garbage byte count', text: '8:0 rbytes=12q wbytes=2\n', want: { ok: false, error: 'rbytes of 8:0 is "12q", not a count' } },
  ])('$name', ({ text, want }) => {
    expect(parseIoStat(text)).toEqual(want);
  });
});

describe('parseBlkioServiceBytes', () => {
  it.each([
    {
      name: 'sums Read and Write over devices, ignoring the other operations and the totals',
      text: '8:0 Read 1048576\n8:0 Write 2097152\n8:0 Sync 3145728\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 3145728\n253:0 Read 4096\n253:0 Write 0\n253:0 Total 4096\nTotal 3149824\n',
      want: { ok: true, value: { readBytes: 1052672, writeBytes: 2097152 } },
    },
    { name: 'no device has done I/O', text: 'Total 0\n', want: { ok: true, value: { readBytes: 0, writeBytes: 0 } } },
    { name: 'a garbage byte count', text: '8:0 Read lots\nTotal 0\n', want: { ok: false, error: 'Read of 8:0 is "lots", not a count' } },
    { name: 'a line of another shape', text: 'Read 5\n', want: { ok: false, error: 'line "Read 5" is not "MAJ:MIN operation bytes"' } },
  ])('$name', ({ text, want }) => {
    expect(parseBlkioServiceBytes(text)).toEqual(want);
  });
});
