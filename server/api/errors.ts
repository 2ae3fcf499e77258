/**
 * The API's errors, with Monasca's body `{title, description}`. Handlers throw these; the
 * error handler alone turns them (and fastify's own) into responses, and never leaks a
 * 5xx's internals.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly title: string,
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(description);
  }
}

export const badRequest = (description: string): ApiError => new ApiError(400, 'Bad Request', description);
export const unauthorized = (description: string): ApiError => new ApiError(401, 'Unauthorized', description);
export const forbidden = (description: string): ApiError => new ApiError(403, 'Forbidden', description);
export const notFound = (description: string): ApiError => new ApiError(404, 'Not Found', description);
export const conflict = (description: string): ApiError => new ApiError(409, 'MultipleMetricsException', description);
export const unprocessable = (description: string): ApiError => new ApiError(422, 'Unprocessable Entity', description);
export const unavailable = (description: string, retryAfterSeconds: number): ApiError =>
  new ApiError(503, 'Service Unavailable', description, { 'retry-after': String(retryAfterSeconds) });

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
};

/** Turns whatever was thrown into a status, headers and Monasca's body. */
export function toResponse(error: unknown): { statusCode: number; headers: Record<string, string>; body: { title: string; description: string } } {
  if (error instanceof ApiError) return { statusCode: error.statusCode, headers: { ...error.headers }, body: { title: error.title, description: error.description } };
  const statusCode = typeof (error as { statusCode?: unknown }).statusCode === 'number' ? (error as { statusCode: number }).statusCode : 500;
  if (statusCode >= 400 && statusCode < 500) {
    const message = (error as Error).message;
    return { statusCode, headers: {}, body: { title: TITLES[statusCode] ?? 'Bad Request', description: message } };
  }
  return { statusCode: 500, headers: {}, body: { title: 'Internal Server Error', description: 'The server could not complete the request; see its log.' } };
}
