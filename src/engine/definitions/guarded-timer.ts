import * as elements from 'bpmn-elements';
import { timerTextProblem, type TimerType } from '../timer-schedule.js';

/** Error code of a timer text that cannot be scheduled. */
export const TIMER_INVALID = 'TIMER_INVALID';

const TimerEventDefinition = (elements as any).TimerEventDefinition as new (...args: any[]) => any;

/**
 * bpmn-elements' timer with its text checked before piso parses it: piso loops forever on a
 * zero-length cycle (`R/PT0S`), so a cycle that an expression resolves at run time to less
 * than the floor must fail the activity (the runtime raises an incident) instead of
 * stalling the node. Static texts are refused at deploy already.
 */
export class GuardedTimerEventDefinition extends TimerEventDefinition {
  parse(timerType: TimerType, value: unknown) {
    const problem = timerTextProblem(timerType, value);
    // The code survives bpmn-elements' RunError (as its cause): a start whose variables make
    // no timer is the client's mistake (400), not the server's.
    if (problem) throw Object.assign(new Error(problem), { code: TIMER_INVALID });
    return super.parse(timerType, value);
  }
}
