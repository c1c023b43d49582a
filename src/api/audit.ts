import type { Request } from 'express';
import type { AuditLog } from '../engine/audit-log.js';
import { AppError } from '../errors.js';
import type { AuditEntry } from '../store/audit-entries.js';

/** The audit entry of a request: the engine writes it inside the action's own transaction. */
export function auditEntry(req: Request, action: string, target: string, details?: Record<string, unknown>): AuditEntry {
  return { actor: req.actor ?? 'anonymous', action, target, ...(details ? { details } : {}) };
}

/**
 * Runs an audited action. When the engine refuses it (not found, already ended, a rejected
 * diagram) nothing of the action was written, so the refusal is recorded on its own, with
 * the error code as result. Input that fails validation never reaches here: it is not an
 * action, and bad input stores nothing at all.
 */
export async function audited<T>(log: AuditLog, entry: AuditEntry, work: (entry: AuditEntry) => Promise<T>): Promise<T> {
  try {
    return await work(entry);
  } catch (error) {
    if (error instanceof AppError && error.code !== 'VALIDATION_FAILED') {
      await log.append({ ...entry, result: error.code, details: { ...entry.details, message: error.message.slice(0, 500) } }).catch(() => {});
    }
    throw error;
  }
}
