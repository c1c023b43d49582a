/**
 * The one error type. `code` is SCREAMING_SNAKE and stable: the HTTP layer maps it to a
 * status in one place, and BPMN error boundary events match on it.
 */
export class AppError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
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
