import { getDate, ISOInterval } from '@0dep/piso';

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
      const total = interval.repeat ?? -1; // -1: repeats without end
      const remaining = previous ? (previous.remaining ?? total) : total;
      if (remaining === 0) return null;
      const from = previous?.firedAt ?? now;
      return { dueAt: interval.getExpireAt(from, from), remaining: remaining > 0 ? remaining - 1 : -1 };
    }
  }
}
