/**
 * How an instance's bpmn-engine state is stored: the lean format.
 *
 * bpmn-engine's `getState()` lists every activity and sequence flow of the definition, visited
 * or not (~180 bytes each): a waiting instance of a 1,000-activity definition stored 254 KB,
 * most of it `{"id":"task_417","type":"bpmn:Task","counters":{"taken":0,"discarded":0}}`.
 * Such an entry says nothing a fresh engine does not already know: bpmn-elements' recover
 * walks the entries it is given and leaves every element it is not given as built from the
 * definition, which is exactly that pristine state. So the lean format drops them, at every
 * depth (sub-processes, their iterations), and keeps what a resume needs: the visited and
 * active elements, their brokers (waits, postponed messages), the environments (variables)
 * and regenflow's own keys.
 *
 * This is a serialization concern only. What the engine gives (`saveState`) and takes
 * (`recover`) keeps bpmn-engine's normal shape; recovering a lean state into an engine and
 * reading `getState()` gives the full listing again.
 *
 * `stateFormat`: absent (format 1) is the full listing rows were written in before; 2 is lean.
 * Both are read (recover accepts both); every write is format 2, and migration 0025 upgrades
 * the rows written before.
 */
export const STATE_FORMAT_KEY = 'stateFormat';
export const LEAN_STATE_FORMAT = 2;

/** The lists of elements bpmn-elements recovers entry by entry (and skips when absent). */
const ELEMENT_LISTS = new Set(['children', 'flows', 'messageFlows', 'associations']);
const PRISTINE_KEYS = new Set(['id', 'type', 'counters']);

/** An element entry that is what a fresh engine builds: only its id, type and zero counters. */
function isPristine(entry: unknown): boolean {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return false;
  const record = entry as Record<string, unknown>;
  // bpmn-elements leaves fields it has no value for as `undefined` (JSON drops them).
  for (const [key, value] of Object.entries(record)) if (value !== undefined && !PRISTINE_KEYS.has(key)) return false;
  if (typeof record.id !== 'string') return false;
  const counters = record.counters;
  if (counters === undefined) return true;
  if (!counters || typeof counters !== 'object') return false;
  for (const value of Object.values(counters as Record<string, unknown>)) if (value !== 0) return false;
  return true;
}

/** A copy of `value` without pristine element entries, at any depth. Leaves `value` alone. */
function leanCopy(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) {
    const kept = key !== undefined && ELEMENT_LISTS.has(key) ? value.filter((entry) => !isPristine(entry)) : value;
    return kept.map((entry) => leanCopy(entry));
  }
  if (!value || typeof value !== 'object') return value;
  // Variables and message payloads are the user's data, not element lists: copy them as they are.
  const out: Record<string, unknown> = {};
  for (const [field, inner] of Object.entries(value as Record<string, unknown>)) {
    out[field] = field === 'environment' || field === 'variables' || field === 'messages' ? inner : leanCopy(inner, field);
  }
  return out;
}

/** The state as stored: lean, marked with its format. */
export function leanState(state: Record<string, unknown>): Record<string, unknown> {
  const lean = leanCopy(state) as Record<string, unknown>;
  lean[STATE_FORMAT_KEY] = LEAN_STATE_FORMAT;
  return lean;
}

/** The stored state's JSON (lean), or null for an instance that keeps none. */
export function serializeState(state: unknown): string {
  if (!state || typeof state !== 'object') return JSON.stringify(null);
  return JSON.stringify(leanState(state as Record<string, unknown>));
}

/** The format a stored state was written in (1: the full listing, before the lean format). */
export function stateFormatOf(state: unknown): number {
  const format = state && typeof state === 'object' ? (state as Record<string, unknown>)[STATE_FORMAT_KEY] : undefined;
  return typeof format === 'number' ? format : 1;
}
