import { describe, expect, it } from 'vitest';
import type { LogStream } from '../logLine.js';
import { detectLevel } from './level.js';

describe('detectLevel', () => {
  const cases: { name: string; message: string; stream?: LogStream; want: string | undefined }[] = [
    { name: 'klog error', message: 'E0102 15:04:05.123456       1 controller.go:114] sync failed', want: 'error' },
    { name: 'klog info on stderr stays info', message: 'I0102 15:04:05.123456       1 server.go:1] serving', stream: 'stderr', want: 'info' },
    { name: 'klog warning', message: 'W0102 15:04:05.123456       1 x.go:1] slow', want: 'warn' },
    { name: 'klog fatal', message: 'F0102 15:04:05.123456       1 x.go:1] dead', want: 'fatal' },
    { name: 'JSON level', message: '{"ts":1,"level":"warn","msg":"slow"}', want: 'warn' },
    { name: 'JSON severity in capitals', message: '{"severity":"ERROR","message":"x"}', want: 'error' },
    { name: 'JSON lvl with spaces', message: '{ "lvl" : "dbug", "level": "debug" }', want: 'debug' },
    { name: 'JSON pino numeric level', message: '{"level":50,"time":1,"msg":"x"}', want: 'error' },
    { name: 'JSON log.level (ECS)', message: '{"@timestamp":"x","log.level":"info","message":"x"}', want: 'info' },
    { name: 'JSON without a level on stdout', message: '{"msg":"hello"}', want: undefined },
    { name: 'logfmt level', message: 'ts=2024-01-01T00:00:00Z level=warn msg="disk almost full"', want: 'warn' },
    { name: 'logfmt quoted level', message: 'time="2024" level="error" msg=x', want: 'error' },
    { name: 'a logfmt key must be whole, and a value is no level word', message: 'a=1 loglevel=error msg=INFO', want: undefined },
    { name: 'a level word after a timestamp', message: '2024-01-01 12:00:00 ERROR [main] c.e.App - failed', want: 'error' },
    { name: 'a bracketed lower-case level', message: '[error] 7#7: *1 open() failed', want: 'error' },
    { name: 'WARNING', message: '2024/01/01 12:00:00 WARNING: low memory', want: 'warn' },
    { name: 'Python logging INFO:root:', message: 'INFO:root:started', want: 'info' },
    { name: 'DEBUG', message: 'DEBUG something', want: 'debug' },
    { name: 'TRACE', message: '12:00:00.000 [main] TRACE o.a.Foo - x', want: 'trace' },
    { name: 'FATAL', message: 'FATAL: could not start', want: 'fatal' },
    { name: 'CRITICAL is fatal', message: 'CRITICAL:root:boom', want: 'fatal' },
    { name: 'a capitalised Error', message: 'Error: connect ECONNREFUSED', want: 'error' },
    { name: 'a lower-case trace is prose, not a level', message: 'trace id abc started', want: undefined },
    { name: 'a level word inside a path is not a level', message: '10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /api/info HTTP/1.1" 200 12', want: undefined },
    { name: 'a level word inside a longer word is not a level', message: 'Errors happen; informational text', want: undefined },
    { name: 'a level word past the first 64 chars is not looked at', message: `${'x'.repeat(70)} ERROR late`, want: undefined },
    { name: 'stderr with nothing stated is error', message: 'listening on :8080', stream: 'stderr', want: 'error' },
    { name: 'stdout with nothing stated is undefined', message: 'listening on :8080', stream: 'stdout', want: undefined },
    { name: 'no stream, nothing stated', message: 'hello', want: undefined },
    { name: 'an empty message', message: '', want: undefined },
  ];
  it.each(cases)('$name', ({ message, stream, want }) => {
    expect(detectLevel(message, stream ?? 'stdout')).toBe(want);
  });
});
