import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { AppError, databaseFault, STATUS_BY_CODE } from '../errors.js';
import { TIMER_INVALID } from '../engine/definitions/guarded-timer.js';

export function statusOf(error: unknown): number {
  // The one place that turns an error code into an HTTP status (the map is in src/errors.ts).
  const fault = databaseFault(error);
  if (fault) return fault.status;
  if (error instanceof AppError && error.code === 'ENGINE_ERROR' && causedBy(error, TIMER_INVALID)) return 400;
  if (error instanceof AppError) return STATUS_BY_CODE[error.code] ?? 500;
  const status = (error as { status?: number })?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/** Whether an error's cause chain (`cause`, bpmn-elements' `inner`/`source`) holds an error with this code. */
function causedBy(error: unknown, code: string): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length && seen.size < 16) {
    const current = queue.shift() as { code?: unknown; cause?: unknown; inner?: unknown; source?: unknown } | undefined;
    if (!current || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    if (current.code === code) return true;
    queue.push(current.cause, current.inner, current.source);
  }
  return false;
}

/** RFC 9457 problem details. */
export function sendProblem(res: Response, status: number, title: string, detail: string, extra: Record<string, unknown> = {}): void {
  res.status(status).type('application/problem+json').send(JSON.stringify({ type: 'about:blank', title, status, detail, ...extra }));
}

export const problemHandler: ErrorRequestHandler = (error, req, res, _next) => {
  if (error instanceof z.ZodError) {
    return sendProblem(res, 400, 'Bad Request', error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; '), {
      code: 'VALIDATION_FAILED',
      errors: error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
  }
  const fault = databaseFault(error);
  if (fault) {
    res.setHeader('Retry-After', String(fault.retryAfter));
    return sendProblem(res, fault.status, titleOf(fault.status), `${fault.reason}; retry after ${fault.retryAfter} s`, { code: fault.code });
  }
  const status = statusOf(error);
  const bodyError = (error as { type?: string })?.type;
  const code =
    error instanceof AppError
      ? error.code === 'ENGINE_ERROR' && status === 400
        ? TIMER_INVALID
        : error.code
      : bodyError === 'entity.too.large'
        ? 'PAYLOAD_TOO_LARGE'
        : bodyError === 'entity.parse.failed'
          ? 'MALFORMED_JSON'
          : status < 500
            ? 'BAD_REQUEST'
            : 'INTERNAL';
  const detail = status >= 500 && !(error instanceof AppError) ? 'internal error' : String((error as Error)?.message ?? error);
  if (status >= 500) req.log?.(error);
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  sendProblem(res, status, titleOf(status), detail, {
    code,
    ...(error instanceof AppError && error.details ? { details: error.details } : {}),
  });
};

export const notFoundHandler: RequestHandler = (req, res) =>
  sendProblem(res, 404, 'Not Found', `no route for ${req.method} ${req.path}`, { code: 'NOT_FOUND' });

function titleOf(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests', 503: 'Service Unavailable', 507: 'Insufficient Storage' }[status] ??
    (status >= 500 ? 'Internal Server Error' : 'Error')
  );
}

declare module 'express-serve-static-core' {
  interface Request {
    log?: (error: unknown) => void;
  }
}
