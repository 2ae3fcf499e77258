/**
 * An HTTP Retry-After header (RFC 9110 §10.2.3) as a delay in milliseconds from `nowMs`:
 * delta-seconds or an HTTP-date, a date already past as 0. Undefined when the header is
 * absent or unreadable, so each caller picks its own fallback delay and its own cap.
 */
const DELTA_SECONDS = /^\d+$/;
// Date.parse reads "1.5" or "-5" as dates in 2001; every HTTP-date form names its month.
const MONTH_NAME = /\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)/i;
// asctime() form, which carries no zone: HTTP dates are GMT, Date.parse would read local time.
const ASCTIME = /^[a-z]{3} [a-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/i;

export function retryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (DELTA_SECONDS.test(text)) return Number(text) * 1_000;
  if (!MONTH_NAME.test(text)) return undefined;
  const dateMs = Date.parse(ASCTIME.test(text) ? `${text} GMT` : text);
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - nowMs);
}
