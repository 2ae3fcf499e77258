import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { LogEntry, LogQuery } from '../../core/query.js';
import type { ApiDeps } from './apiDeps.js';
import { ApiError } from './errors.js';
import { logElement, parseCount, parseLogFilter, requireLogStore } from './logsQuery.js';
import { parseInstant } from './params.js';

export interface LogTailOptions {
  /** How often the store is asked for new records. */
  readonly pollMs: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  readonly heartbeatMs: number;
  /** Open tails of one tenant at most; one more is a 429. */
  readonly maxPerTenant: number;
  /**
   * How far before the newest record sent each poll looks again: a record reaches the store
   * after its timestamp (the bus, the sink's batch), and one that arrives late but within
   * this window is still sent. Records are told apart by id, so none is sent twice.
   */
  readonly lookbackMs: number;
}

export const LOG_TAIL_DEFAULTS: LogTailOptions = { pollMs: 1000, heartbeatMs: 15_000, maxPerTenant: 5, lookbackMs: 10_000 };

/** Records one poll sends at most; a poll that finds more sends the newest and says it passed over some. */
const MAX_PER_POLL = 500;
/** Records sent on connecting: `limit`, 10 unless asked, 100 at most. */
const DEFAULT_INITIAL = 10;
const MAX_INITIAL = 100;
/** A client that has not read this much of what was sent is too slow to follow: its stream is closed. */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

const Str = Type.Optional(Type.String({ maxLength: 4096 }));
const TailQuery = Type.Object({ q: Str, dimensions: Str, level: Str, since: Str, limit: Str, tenant_id: Str });

function event(entry: LogEntry): string {
  // JSON has no raw newlines, so the element is one `data:` line.
  return `event: log\nid: ${entry.id}\ndata: ${JSON.stringify(logElement(entry))}\n\n`;
}

/**
 * `GET /logs/tail`: server-sent events of a tenant's new logs, by polling the LogStore for
 * records newer than those already sent. Polling rather than listening on the bus keeps it
 * working across API replicas and for every store, at the cost of `pollMs` of delay.
 */
export function logsTail(deps: ApiDeps, overrides: Partial<LogTailOptions>) {
  const options: LogTailOptions = { ...LOG_TAIL_DEFAULTS, ...overrides };
  return async function plugin(app: FastifyInstance): Promise<void> {
    const openByTenant = new Map<string, number>();
    /** Ends every open tail: the server's close waits for its connections. */
    const closers = new Set<() => void>();
    // preClose, not onClose: the server's close waits for these connections before onClose runs.
    app.addHook('preClose', async () => {
      for (const close of [...closers]) close();
    });

    app.get<{ Querystring: Static<typeof TailQuery> }>('/logs/tail', { schema: { querystring: TailQuery } }, async (request, reply) => {
      const q = request.query;
      const filter = parseLogFilter(request, q);
      const store = requireLogStore(deps);
      const initial = parseCount('limit', q.limit, DEFAULT_INITIAL, MAX_INITIAL);
      const sinceMs = parseInstant('since', q.since);
      const open = openByTenant.get(filter.tenantId) ?? 0;
      if (open >= options.maxPerTenant) {
        deps.counters.add('kansoku_api_log_tails_total', { outcome: 'refused' });
        throw new ApiError(429, 'Too Many Requests', `A tenant may have ${options.maxPerTenant} log tails open at once.`, { 'retry-after': '5' });
      }
      openByTenant.set(filter.tenantId, open + 1);
      deps.counters.add('kansoku_api_log_tails_total', { outcome: 'opened' });

      const raw = reply.raw;
      reply.hijack();
      // `connection: close`: when the tail ends (client gone, server closing) so does its
      // connection, rather than idling where the server's close would wait for it.
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'close', 'x-accel-buffering': 'no' });
      raw.write(': kansoku log tail\n\n');

      let closed = false;
      let pollTimer: NodeJS.Timeout | undefined;
      const close = (): void => {
        if (closed) return;
        closed = true;
        clearTimeout(pollTimer);
        clearInterval(heartbeat);
        closers.delete(close);
        const left = (openByTenant.get(filter.tenantId) ?? 1) - 1;
        if (left > 0) openByTenant.set(filter.tenantId, left);
        else openByTenant.delete(filter.tenantId);
        raw.end();
        // The socket too: a hijacked response leaves it to us, and the server's close would
        // wait for it. A client that stopped reading may never take the rest, so it is not
        // waited for longer than a second.
        const socket = raw.socket;
        socket?.destroySoon();
        if (socket) setTimeout(() => socket.destroy(), 1000).unref();
      };
      closers.add(close);
      request.raw.on('close', close);
      raw.on('close', close);
      raw.on('error', close);
      const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), options.heartbeatMs);
      heartbeat.unref();

      // Ids sent, with their timestamps, as far back as the next poll looks.
      const sent = new Map<string, number>();
      let newestMs = -Infinity;
      // Polls never look before this: what the first answer left out on purpose stays out.
      let floorMs = 0;
      const send = (entries: readonly LogEntry[]): void => {
        // The store answers newest first; a tail shows them in the order they happened.
        for (let i = entries.length - 1; i >= 0; i--) {
          const entry = entries[i] as LogEntry;
          if (sent.has(entry.id)) continue;
          sent.set(entry.id, entry.timestampMs);
          newestMs = Math.max(newestMs, entry.timestampMs);
          raw.write(event(entry));
        }
        if (raw.writableLength > MAX_UNREAD_BYTES) close();
      };
      const search = (query: Partial<LogQuery>) => store.searchLogs({ ...filter, limit: MAX_PER_POLL, ...query });

      const poll = async (): Promise<void> => {
        if (closed) return;
        try {
          // Never from later than now: a record stamped in the future must not hide the present.
          const fromMs = Math.max(floorMs, Math.min(newestMs, deps.now()) - options.lookbackMs);
          for (const [id, timestampMs] of sent) if (timestampMs < fromMs) sent.delete(id);
          const found = await search({ startMs: fromMs });
          if (closed) return;
          if (found.length === MAX_PER_POLL) raw.write(`: more than ${MAX_PER_POLL} records since the last poll; the older ones were passed over\n\n`);
          send(found);
        } catch (error) {
          request.log.warn({ err: error }, 'log tail poll failed');
          deps.counters.add('kansoku_api_log_tail_poll_failures_total');
        }
        if (!closed) pollTimer = setTimeout(() => void poll(), options.pollMs);
      };

      try {
        const first = initial === 0 ? [] : await search({ limit: initial, ...(sinceMs !== undefined ? { startMs: sinceMs } : {}) });
        if (closed) return;
        send(first);
        // A full first answer left older records out: they stay out. Otherwise every match
        // was sent, and records that arrive late for that window are still wanted.
        const oldest = first[first.length - 1];
        if (initial === 0) floorMs = deps.now();
        else if (first.length === initial && oldest !== undefined) floorMs = oldest.timestampMs;
        else floorMs = sinceMs ?? 0;
        // With nothing sent yet, new records are those from now on.
        if (newestMs === -Infinity) newestMs = deps.now();
      } catch (error) {
        request.log.warn({ err: error }, 'log tail failed to start');
        deps.counters.add('kansoku_api_log_tail_poll_failures_total');
        newestMs = floorMs = deps.now();
      }
      pollTimer = setTimeout(() => void poll(), options.pollMs);
    });
  };
}
