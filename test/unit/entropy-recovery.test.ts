import type { Finding } from '../../service-tasks/entropy/operations.js';
import type { Measurement } from '../../service-tasks/entropy/ports.js';
import { judgeRecovery, settleWaitSeconds } from '../../service-tasks/entropy/recovery.js';

/** A cycle's verdict compares the settle window with the fault it found, against the state before the fault. */
describe('recovery verdict', () => {
  const stats = (count: number, errors: number, medianMs = 40, sigma = 0.5) => ({ count, errors, sumLog: count * Math.log(medianMs), sumLog2: count * (Math.log(medianMs) ** 2 + sigma ** 2) });
  const measurement = (score: number, current: ReturnType<typeof stats>, findings: Finding[] = [], seconds = 600): Measurement => ({
    system: 'shop',
    measuredAt: '',
    windowStart: '',
    windowEnd: '',
    health: 1,
    healthState: 'HEALTHY',
    drift: 0,
    validationErrors: 0,
    score,
    level: score >= 0.3 ? 'MEDIUM' : 'LOW',
    indicators: { findings, operations: [{ name: 'GET /orders', role: 'request', current }], requests: { current: { count: current.count, errors: current.errors, seconds } } },
  });
  const failing: Finding = { operation: 'GET /orders', role: 'request', signal: 'errors', test: 'binomial', effect: 0.2, severity: 0.9 };
  const slow: Finding = { operation: 'GET /orders', role: 'request', signal: 'latency', test: 'welch', effect: 3, severity: 0.9 };
  const atMeasure = measurement(0.7, stats(600, 126, 120), [failing, slow]);

  it('when the system is as sick after the strategy as before, then it is not recovered', () => {
    expect(judgeRecovery({ before: atMeasure, after: measurement(0.7, stats(120, 25, 120), [failing, slow], 120), threshold: 0.3 }).verdict).toBe('not-recovered');
  });

  it('when it is still above the threshold but clearly better than at Measure, then the cycle looks again rather than rolling back', () => {
    expect(judgeRecovery({ before: atMeasure, after: measurement(0.35, stats(300, 6, 50), [slow], 300), threshold: 0.3 }).verdict).toBe('insufficient');
  });

  it('when a few clean requests are all the settle window has, then the evidence is not yet sufficient', () => {
    // LOW because nothing can be significant on 4 requests, not because the fault is gone
    const verdict = judgeRecovery({ before: atMeasure, after: measurement(0, stats(4, 0, 40), [], 5), threshold: 0.3 });
    expect(verdict.verdict).toBe('insufficient');
    expect(verdict.reasons.join(' ')).toContain('GET /orders');
  });

  it('when failures and latency are clearly back to normal, then it recovered', () => {
    expect(judgeRecovery({ before: atMeasure, after: measurement(0, stats(120, 1, 40), [], 120), threshold: 0.3 }).verdict).toBe('recovered');
  });

  it('when only the errors went away and the latency did not, then the evidence is not sufficient for "recovered"', () => {
    expect(judgeRecovery({ before: atMeasure, after: measurement(0.1, stats(120, 1, 120), [], 120), threshold: 0.3 }).verdict).toBe('insufficient');
  });

  it('when nothing was found at Measure and nothing now, then it is recovered (there was nothing to undo)', () => {
    expect(judgeRecovery({ before: measurement(0, stats(600, 6)), after: measurement(0, stats(60, 0), [], 60), threshold: 0.3 }).verdict).toBe('recovered');
  });

  it('when traffic is slow, then the cycle waits longer between looks, within 10 s and 2 minutes', () => {
    expect(settleWaitSeconds(1)).toBe(40);
    expect(settleWaitSeconds(100)).toBe(10);
    expect(settleWaitSeconds(0.1)).toBe(120);
    expect(settleWaitSeconds(0)).toBe(120);
  });
});
