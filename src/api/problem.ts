import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.js';

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
  UNSUPPORTED_MEDIA_TYPE: 415,
  ENGINE_ERROR: 500,
  STEP_LIMIT_EXCEEDED: 500,
  // A decision that cannot decide over the given input (src/decisions).
  DECISION_UNIQUE_VIOLATION: 422,
  DECISION_ANY_VIOLATION: 422,
  DECISION_EXPRESSION_FAILED: 422,
  DECISION_TYPE_MISMATCH: 422,
  DECISION_TIMEOUT: 422,
  DECISION_NO_LOGIC: 422,
  DECISION_RESULT_MAPPING: 422,
  DECISION_RESULT_TOO_LARGE: 422,
  DECISION_RESOURCES_EXHAUSTED: 422,
  DECISION_BUSY: 503,
  DECISION_SERVICE_CLOSED: 503,
};

export function statusOf(error: unknown): number {
  if (error instanceof AppError) return STATUS_BY_CODE[error.code] ?? 500;
  const status = (error as { status?: number })?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
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
  const status = statusOf(error);
  const bodyError = (error as { type?: string })?.type;
  const code =
    error instanceof AppError
      ? error.code
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
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content' }[status] ??
    (status >= 500 ? 'Internal Server Error' : 'Error')
  );
}

declare module 'express-serve-static-core' {
  interface Request {
    log?: (error: unknown) => void;
  }
}
