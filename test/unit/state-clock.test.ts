import { STATE_KEY } from '../../src/engine/runtime/event-sub-process-starts.js';
import { shiftDueTimes } from '../../src/engine/runtime/state-clock.js';

describe('due times in a saved state', () => {
  const state = {
    execution: { children: [{ id: 'wait', content: { expireAt: '2026-12-07T10:02:00.000Z', timeDuration: 'PT2M' } }] },
    environment: { variables: { expireAt: '2026-12-07T10:00:00.000Z' } },
    [STATE_KEY]: { 'sub/start': { dueAt: '2026-12-07T11:00:00.000Z', remaining: 2 }, 'sub/other': { done: true } },
  };

  it('when a state is moved onto a clock and back, then its timers and event sub-process starts move and its variables do not', () => {
    const ahead = shiftDueTimes(state, 300_000);
    expect(ahead.execution.children[0]!.content.expireAt).toBe('2026-12-07T10:07:00.000Z');
    expect(ahead[STATE_KEY]['sub/start']).toEqual({ dueAt: '2026-12-07T11:05:00.000Z', remaining: 2 });
    expect(ahead[STATE_KEY]['sub/other']).toEqual({ done: true });
    expect(ahead.environment.variables.expireAt).toBe('2026-12-07T10:00:00.000Z');
    expect(ahead.execution.children[0]!.content.timeDuration).toBe('PT2M');
    expect(shiftDueTimes(ahead, -300_000)).toEqual(state);
    // The original is left as it was.
    expect(state.execution.children[0]!.content.expireAt).toBe('2026-12-07T10:02:00.000Z');
  });

  it('when the clocks agree (an offset of 0) or there is no state, then the state is handed on as it is, uncopied', () => {
    expect(shiftDueTimes(state, 0)).toBe(state);
    expect(shiftDueTimes(undefined, 300_000)).toBeUndefined();
  });
});
