import { getDate, ISOInterval } from '@0dep/piso';
import { evaluateExpression } from './expressions.js';

export type TimerType = 'timeDate' | 'timeDuration' | 'timeCycle';

/**
 * The shortest period a repeating timer may have. piso (bpmn-elements' timer parser) loops
 * forever looking for the next expiry of `R/PT0S`, and `R/PT0.001S` starts an instance per
 * millisecond: either stalls the node. Camunda users schedule in seconds at the finest.
 */
export const MIN_CYCLE_MS = 1000;
/** Longer timer texts are no ISO 8601 timer anyone writes; refusing them bounds parsing. */
const MAX_TIMER_TEXT = 200;

/**
 * Why a timer text cannot be scheduled, or undefined when it can. Checked at deploy for
 * every static timer text (start, boundary, intermediate, event sub-process) and at run
 * time before bpmn-elements or piso see a text that came from an expression.
 */
export function timerTextProblem(timerType: TimerType, text: unknown, now = new Date()): string | undefined {
  if (typeof text !== 'string' || !text.trim()) return `${timerType} is empty`;
  const value = text.trim();
  if (value.length > MAX_TIMER_TEXT) return `${timerType} is longer than ${MAX_TIMER_TEXT} characters`;
  if (timerType === 'timeDate') {
    let date: Date;
    try {
      date = getDate(value);
    } catch (error) {
      return `${timerType} ${JSON.stringify(value)} is not an ISO 8601 date: ${(error as Error).message}`;
    }
    return Number.isNaN(date?.getTime?.()) ? `${timerType} ${JSON.stringify(value)} is not an ISO 8601 date` : undefined;
  }
  let interval: ISOInterval;
  try {
    interval = new ISOInterval(value).parse();
  } catch (error) {
    return `${timerType} ${JSON.stringify(value)} is not an ISO 8601 ${timerType === 'timeCycle' ? 'cycle' : 'duration'}: ${(error as Error).message}`;
  }
  const period = interval.duration
    ? interval.duration.toMilliseconds(now)
    : interval.start && interval.end
      ? interval.end.toDate().getTime() - interval.start.toDate().getTime()
      : undefined;
  const repeats = timerType === 'timeCycle' || interval.repeat !== undefined;
  if (period === undefined || Number.isNaN(period)) {
    return repeats ? `${timerType} ${JSON.stringify(value)} has no period` : undefined;
  }
  if (repeats && period < MIN_CYCLE_MS) {
    return `${timerType} ${JSON.stringify(value)} repeats every ${period} ms; the shortest cycle is ${MIN_CYCLE_MS / 1000} s`;
  }
  if (period < 0) return `${timerType} ${JSON.stringify(value)} is negative`;
  return undefined;
}

/**
 * When a timer start event fires next. bpmn-elements schedules timers inside instances;
 * a timer *start* event has no instance yet, so its schedule lives in a job row.
 * Returns null when the timer will not fire again.
 */
export function nextStartTimerDue(
  timerType: TimerType,
  expression: string,
  previous: { firedAt: Date; remaining?: number } | null,
  now = new Date(),
): { dueAt: Date; remaining?: number } | null {
  const problem = timerTextProblem(timerType, expression, now);
  if (problem) throw new Error(problem);
  switch (timerType) {
    case 'timeDate':
      return previous ? null : { dueAt: getDate(expression) };
    case 'timeDuration': {
      if (previous) return null;
      return { dueAt: new ISOInterval(expression).parse().getExpireAt(now, now) };
    }
    case 'timeCycle': {
      const interval = new ISOInterval(expression).parse();
      const total = interval.repeat ?? -1; // -1: repeats without end
      const remaining = previous ? (previous.remaining ?? total) : total;
      if (remaining === 0) return null;
      // A cycle that missed ticks while no node ran fires once, then keeps its rhythm from
      // now, as Camunda does: counting on from the missed due time would replay every tick.
      const onRhythm = previous ? interval.getExpireAt(previous.firedAt, previous.firedAt) : null;
      const dueAt = onRhythm && onRhythm.getTime() > now.getTime() ? onRhythm : interval.getExpireAt(now, now);
      return { dueAt, remaining: remaining > 0 ? remaining - 1 : -1 };
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
  start: { timerType: TimerType; expression: string },
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
