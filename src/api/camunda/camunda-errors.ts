import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { AppError, databaseFault } from '../../errors.js';
import { statusOf } from '../problem.js';
import { sendJson } from './external-task-router.js';

/** Camunda 7 exception names for our error codes; C7 clients show `type: message`. */
const TYPE_BY_CODE: Record<string, string> = {
  INVALID_DEFINITION: 'ParseException',
  EXTERNAL_TASK_NOT_LOCKED: 'BadUserRequestException',
  EXTERNAL_TASK_LOCK_EXPIRED: 'BadUserRequestException',
  MESSAGE_NOT_CORRELATED: 'RestException',
  MESSAGE_CORRELATION_AMBIGUOUS: 'RestException',
  CONCURRENT_UPDATE: 'OptimisticLockingException',
  TASK_ALREADY_CLAIMED: 'TaskAlreadyClaimedException',
  UNAUTHENTICATED: 'AuthenticationException',
  FORBIDDEN: 'AuthorizationException',
};

/**
 * Errors under /engine-rest as Camunda 7 sends them: `{type, message, code}` as exact
 * `application/json` (code 0: C7's "no specific code"). A rejected deployment also carries
 * C7's `details` per resource, so the Camunda Modeler lists the problems.
 */
export const camundaErrorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  if (error instanceof z.ZodError) {
    const message = error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');
    return sendJson(res, 400, { type: 'InvalidRequestException', message, code: 0 });
  }
  const fault = databaseFault(error);
  if (fault) {
    res.setHeader('Retry-After', String(fault.retryAfter));
    return sendJson(res, fault.status, { type: 'ProcessEngineException', message: `${fault.reason}; retry after ${fault.retryAfter} s`, code: 0 });
  }
  const status = statusOf(error);
  const bodyError = (error as { type?: string })?.type;
  const type =
    error instanceof AppError
      ? (TYPE_BY_CODE[error.code] ?? (status >= 500 ? 'ProcessEngineException' : 'InvalidRequestException'))
      : status >= 500
        ? 'ProcessEngineException'
        : 'InvalidRequestException';
  const message =
    status >= 500 && !(error instanceof AppError)
      ? 'internal error'
      : bodyError === 'entity.too.large'
        ? 'the request body is larger than its limit'
        : String((error as Error)?.message ?? error);
  if (status >= 500) req.log?.(error);
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  const body: Record<string, unknown> = { type, message, code: 0 };
  if (error instanceof AppError && error.code === 'INVALID_DEFINITION' && error.details) {
    const { resource, errors, warnings } = error.details as { resource: string; errors: Finding[]; warnings: Finding[] };
    body.details = { [resource]: { errors: errors.map(problemOf), warnings: warnings.map(problemOf) } };
  }
  sendJson(res, status, body);
};

interface Finding {
  elementId?: string;
  rule: string;
  message: string;
  line?: number;
  column?: number;
}

function problemOf(finding: Finding) {
  return {
    message: `${finding.message} (${finding.rule})`,
    line: finding.line ?? 0,
    column: finding.column ?? 0,
    mainElementId: finding.elementId ?? null,
    elementIds: finding.elementId ? [finding.elementId] : [],
  };
}

export const camundaNotFound: RequestHandler = (req, res) =>
  sendJson(res, 404, { type: 'NotFoundException', message: `no Camunda 7 resource for ${req.method} ${req.baseUrl}${req.path}`, code: 0 });
