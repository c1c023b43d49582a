/**
 * Every error code, with its HTTP status: the one map the problem+json handler reads. A new
 * code is added here, so no code falls back to 500 by being forgotten.
 */
export const STATUS_BY_CODE = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  INVALID_DEFINITION: 400,
  FORM_VALIDATION_FAILED: 400,
  DEPLOY_EMPTY: 400,
  NOT_EXECUTABLE: 400,
  START_EVENT_REQUIRED: 400,
  SCRIPTS_DISABLED: 400,
  MESSAGE_NOT_CORRELATED: 400,
  MESSAGE_CORRELATION_AMBIGUOUS: 400,
  EXTERNAL_TASK_NOT_LOCKED: 400,
  EXTERNAL_TASK_LOCK_EXPIRED: 400,
  EXPRESSION_INVALID: 400,
  COMMAND_INVALID: 400,
  PATH_OUTSIDE_WORK_FOLDER: 400,
  REF_INVALID: 400,
  REMEDIATION_UNKNOWN: 400,
  REPOSITORY_INVALID: 400,
  MIGRATION_PLAN_INVALID: 400,
  MIGRATION_INSTANCE_INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  REPOSITORY_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  NO_MEASUREMENT: 404,
  CONCURRENT_UPDATE: 409,
  INSTANCE_ENDED: 409,
  CALLED_INSTANCE: 409,
  TASK_NOT_ACTIVE: 409,
  TASK_ALREADY_CLAIMED: 409,
  SUBSCRIPTION_GONE: 409,
  EXTERNAL_TASK_LOCKED: 409,
  EXTERNAL_TASK_PARKED: 409,
  INCIDENT_RESOLVED: 409,
  INCIDENT_NOT_RETRYABLE: 409,
  INCIDENT_NOT_STARTED: 409,
  PATTERN_EXISTS: 409,
  JOB_LOCKED: 409,
  JOB_GONE: 409,
  JOB_QUARANTINED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  JOB_FAILED: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  // A decision that cannot decide over the given input (src/decisions).
  DECISION_UNIQUE_VIOLATION: 422,
  DECISION_ANY_VIOLATION: 422,
  DECISION_EXPRESSION_FAILED: 422,
  DECISION_TYPE_MISMATCH: 422,
  DECISION_TIMEOUT: 422,
  DECISION_NO_LOGIC: 422,
  DECISION_RESULT_MAPPING: 422,
  // The decision worker lost a model it was sent (it is sent again).
  DECISION_NOT_LOADED: 500,
  DECISION_RESULT_TOO_LARGE: 422,
  DECISION_RESOURCES_EXHAUSTED: 422,
  DECISION_BUSY: 503,
  DECISION_SERVICE_CLOSED: 503,
  STEP_LIMIT_EXCEEDED: 422,
  CALL_DEPTH_EXCEEDED: 422,
  EXPRESSION_FAILED: 422,
  HANDLER_INPUT_INVALID: 422,
  HANDLER_OUTPUT_INVALID: 422,
  INCIDENT_PROCESS_MISSING: 422,
  RATE_LIMITED: 429,
  ENGINE_ERROR: 500,
  UNKNOWN_JOB: 500,
  COMMIT_FAILED: 500,
  WORKTREE_FAILED: 500,
  DATA_DIR_LOCKED: 500,
  NO_TOKENS: 500,
  LLM_INVALID_OUTPUT: 502,
  LLM_UNAVAILABLE: 503,
  DECODE_TIMEOUT: 503,
  SIGNAL_DELIVERED: 409,
  INCIDENT_STARTING: 409,
  ALERT_WORK_TAKEN: 409,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof STATUS_BY_CODE;

/**
 * The one error type. `code` is SCREAMING_SNAKE and stable: the HTTP layer maps it to a
 * status in one place, and BPMN error boundary events match on it.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** Thrown when a transition lost the optimistic-lock race; the caller reloads and retries. */
export class ConcurrentUpdateError extends AppError {
  constructor(instanceId: string) {
    super('CONCURRENT_UPDATE', `instance ${instanceId} was changed by another transition`, { retryable: true });
  }
}

/**
 * PostgreSQL's deadlock (40P01) and serialization failure (40001): the database rolled the
 * transaction back, so it is retried from a fresh load like a lost optimistic race.
 */
export function isRetryableConflict(error: unknown): boolean {
  if (error instanceof ConcurrentUpdateError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

export const notFound = (what: string, id: string): AppError => new AppError('NOT_FOUND', `${what} ${id} not found`);

/** How a request fails when the database cannot serve it: the status and what to tell the client. */
export interface DatabaseFault {
  status: 503 | 507;
  code: 'DATABASE_UNAVAILABLE' | 'DATABASE_TIMEOUT' | 'STORAGE_FULL';
  reason: string;
  /** Seconds a client should wait before it retries. */
  retryAfter: number;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Recognises the errors that mean "the database is unreachable, too slow or full" rather
 * than "this request is wrong": a client should retry those later (503 with Retry-After),
 * not report a bug (500). Follows `cause` chains: the engine wraps what the store throws.
 */
export function databaseFault(error: unknown): DatabaseFault | undefined {
  for (let current: any = error, depth = 0; current && depth < 8; current = current.cause, depth++) {
    const code = typeof current.code === 'string' ? current.code : '';
    const message = typeof current.message === 'string' ? current.message : '';
    if (code === 'ENOSPC' || code === '53100' || /no space left on device|could not extend file/i.test(message)) {
      return { status: 507, code: 'STORAGE_FULL', reason: 'the database has no space left on its device', retryAfter: 30 };
    }
    if (CONNECTION_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') {
      return { status: 503, code: 'DATABASE_UNAVAILABLE', reason: `the database is unreachable (${code})`, retryAfter: 5 };
    }
    if (code === '57014' || current.name === 'KnexTimeoutError' || /Query read timeout|timeout exceeded when trying to connect|Timeout acquiring a connection/i.test(message)) {
      return { status: 503, code: 'DATABASE_TIMEOUT', reason: 'the database did not answer in time', retryAfter: 5 };
    }
    if (/Connection terminated|Client has encountered a connection error|connection is closed/i.test(message)) {
      return { status: 503, code: 'DATABASE_UNAVAILABLE', reason: 'the database connection was lost', retryAfter: 5 };
    }
  }
  return undefined;
}
