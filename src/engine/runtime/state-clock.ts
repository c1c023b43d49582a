import { STATE_KEY } from './event-sub-process-starts.js';

/**
 * Due times in a saved state are on the database's clock. bpmn-elements writes a timer's
 * `expireAt` on the clock of the node that armed it and, on resume, compares it with the clock of
 * the node that resumes it: a node whose clock runs ahead would fire a waiting timer early by
 * the difference (and one behind would not see it due). So a node moves the state's due times
 * onto its own clock when it resumes a state, and back onto the database's when it saves one.
 */

/** Subtrees that hold data (variables, outputs), never the engine's own due times. */
const DATA_FIELDS = new Set(['environment', 'variables', 'output', 'settings']);

/** A copy of `state` with every due time moved by `byMs` (the same object when there is nothing to move). */
export function shiftDueTimes<T>(state: T, byMs: number): T {
  if (!byMs || !state || typeof state !== 'object') return state;
  const shift = (value: unknown): unknown => {
    if (typeof value === 'number') return value + byMs;
    if (value instanceof Date) return new Date(value.getTime() + byMs);
    if (typeof value === 'string') {
      const time = Date.parse(value);
      return Number.isNaN(time) ? value : new Date(time + byMs).toISOString();
    }
    return value;
  };
  const walk = (node: unknown, depth: number): unknown => {
    if (!node || typeof node !== 'object' || depth > 80 || node instanceof Date) return node;
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      copy[key] = key === 'expireAt' ? shift(value) : DATA_FIELDS.has(key) ? value : walk(value, depth + 1);
    }
    return copy;
  };
  const shifted = walk(state, 0) as Record<string, unknown>;
  // The event sub-processes' timer starts keep their own schedule beside bpmn-engine's state.
  const starts = shifted[STATE_KEY] as Record<string, { dueAt?: string }> | undefined;
  if (starts && typeof starts === 'object') {
    shifted[STATE_KEY] = Object.fromEntries(
      Object.entries(starts).map(([key, schedule]) => [key, schedule && typeof schedule.dueAt === 'string' ? { ...schedule, dueAt: shift(schedule.dueAt) } : schedule]),
    );
  }
  return shifted as T;
}
