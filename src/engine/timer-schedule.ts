import { getDate, ISOInterval } from '@0dep/piso';
import { evaluateExpression } from './expressions.js';

/**
 * When a timer start event fires next. bpmn-elements schedules timers inside instances;
 * a timer *start* event has no instance yet, so its schedule lives in a job row.
 * Returns null when the timer will not fire again.
 */
export function nextStartTimerDue(
  timerType: 'timeDate' | 'timeDuration' | 'timeCycle',
  expression: string,
  previous: { firedAt: Date; remaining?: number } | null,
  now = new Date(),
): { dueAt: Date; remaining?: number } | null {
  switch (timerType) {
    case 'timeDate':
      return previous ? null : { dueAt: getDate(expression) };
    case 'timeDuration': {
      if (previous) return null;
      return { dueAt: new ISOInterval(expression).parse().getExpireAt(now, now) };
    }
    case 'timeCycle': {
      const interval = new ISOInterval(expression).parse();
      // piso loops forever looking for the next expiry of a zero-length cycle.
      if (interval.duration && interval.duration.toMilliseconds(now) <= 0) throw new Error(`a timer cycle needs a positive duration: ${expression}`);
      const total = interval.repeat ?? -1; // -1: repeats without end
      const remaining = previous ? (previous.remaining ?? total) : total;
      if (remaining === 0) return null;
      const from = previous?.firedAt ?? now;
      return { dueAt: interval.getExpireAt(from, from), remaining: remaining > 0 ? remaining - 1 : -1 };
    }
  }
}

/**
 * Settings of the server that diagrams may read as `${environment.settings.NAME}` (for
 * example the evolution cycle's cadence). They come from configuration, never from
 * request data, and must be the same on every node.
 */
export type ProcessSettings = Readonly<Record<string, string>>;

/**
 * The timer text a start event runs on: a timer start has no instance and no variables,
 * so only settings can be read. Throws an Error naming the problem when the text does
 * not resolve to a timer that will fire.
 */
export function resolveStartTimer(
  start: { timerType: 'timeDate' | 'timeDuration' | 'timeCycle'; expression: string },
  settings: ProcessSettings,
  now = new Date(),
): { expression: string; first: { dueAt: Date; remaining?: number } } {
  let resolved: unknown;
  try {
    resolved = evaluateExpression(start.expression, { environment: { settings: { ...settings } } });
  } catch (error) {
    throw new Error(`${start.timerType} ${JSON.stringify(start.expression)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof resolved !== 'string' || !resolved.trim()) {
    const known = Object.keys(settings).join(', ') || 'none';
    throw new Error(`${start.timerType} ${JSON.stringify(start.expression)} does not resolve to a timer (settings known: ${known})`);
  }
  const expression = resolved.trim();
  let first: { dueAt: Date; remaining?: number } | null;
  try {
    first = nextStartTimerDue(start.timerType, expression, null, now);
  } catch (error) {
    throw new Error(`${start.timerType} ${JSON.stringify(expression)} is not a valid timer: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!first || Number.isNaN(first.dueAt.getTime())) throw new Error(`${start.timerType} ${JSON.stringify(expression)} never fires`);
  return { expression, first };
}
