import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { databaseFault } from '../store/database.js';
import { TIMER_INVALID } from '../engine/definitions/guarded-timer.js';

/** The one place that turns an error code into an HTTP status. */
const STATUS_BY_CODE: Record<string, number> = {
  VALIDATION_FAILED: 400,
  INVALID_DEFINITION: 400,
  NOT_EXECUTABLE: 400,
  MESSAGE_NOT_CORRELATED: 400,
  MESSAGE_CORRELATION_AMBIGUOUS: 400,
  EXTERNAL_TASK_NOT_LOCKED: 400,
  EXTERNAL_TASK_LOCK_EXPIRED: 400,
  EXPRESSION_INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONCURRENT_UPDATE: 409,
  INSTANCE_ENDED: 409,
  TASK_NOT_ACTIVE: 409,
  TASK_ALREADY_CLAIMED: 409,
  SUBSCRIPTION_GONE: 409,
  EXTERNAL_TASK_LOCKED: 409,
  INCIDENT_RESOLVED: 409,
  INCIDENT_NOT_RETRYABLE: 409,
  PATTERN_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  JOB_LOCKED: 409,
  JOB_FAILED: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  UNSUPPORTED_MEDIA_TYPE: 415,
  DECODE_TIMEOUT: 503,
  ENGINE_ERROR: 500,
  STEP_LIMIT_EXCEEDED: 500,
};

export function statusOf(error: unknown): number {
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
