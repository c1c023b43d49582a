import type { Finding } from '../../service-tasks/entropy/operations.js';
import type { Measurement, SpanStats } from '../../service-tasks/entropy/ports.js';
import { expectedSettleSeconds, extendedSettleDeadlineSeconds, judgeRecovery, minimumSettleSeconds, settleDeadlineSeconds, settleWaitSeconds, tailCounts, type TailCounts } from '../../service-tasks/entropy/recovery.js';

/**
 * A cycle's verdict re-runs the test of each finding that triggered it on the settle window,
 * against the state before the fault (the reference window Measure used), sequentially.
 */
describe('recovery verdict', () => {
  const stats = (count: number, errors: number, medianMs = 40, sigma = 0.5): SpanStats => ({ count, errors, sumLog: count * Math.log(medianMs), sumLog2: count * (Math.log(medianMs) ** 2 + sigma ** 2) });
  const tail = (referenceAbove: number, referenceTotal: number, currentAbove: number, currentTotal: number): TailCounts => ({ edge: 100, referenceAbove, referenceTotal, currentAbove, currentTotal });
  /** A measurement of GET /orders: its reference (1200 s at 1 request/s) and its judged window. */
  type Values = Array<{ key: string; value: string; baseline: number; current: number }>;
  const measurement = (current: SpanStats, options: { findings?: Finding[]; seconds?: number; score?: number; tail?: TailCounts; buckets?: SpanStats[]; reference?: SpanStats; values?: Values } = {}): Measurement => {
    const reference = options.reference ?? stats(1200, 12);
    const seconds = options.seconds ?? 300;
    return {
      system: 'shop',
      measuredAt: '',
      windowStart: '',
      windowEnd: '',
      health: 1,
      healthState: 'HEALTHY',
      drift: 0,
      validationErrors: 0,
      score: options.score ?? 0,
      level: 'LOW',
      indicators: {
        findings: options.findings ?? [],
        operations: [{ name: 'GET /orders', role: 'request', baseline: reference, current, tail: options.tail ?? null, buckets: options.buckets }],
        attributeValues: [{ operation: 'GET /orders', baselineSpans: reference.count, currentSpans: current.count, values: options.values ?? [] }],
        requests: { baseline: { count: reference.count, errors: reference.errors, seconds: 1200 }, current: { count: current.count, errors: current.errors, seconds } },
        windows: { reference: { from: '2026-01-01T00:00:00Z', to: '2026-01-01T00:20:00Z' }, current: { from: '2026-01-01T00:20:00Z', to: new Date(Date.parse('2026-01-01T00:20:00Z') + seconds * 1000).toISOString() } },
      },
    };
  };
  const failing: Finding = { operation: 'GET /orders', role: 'request', signal: 'errors', test: 'binomial', effect: 0.2, severity: 0.9 };
  const slow: Finding = { operation: 'GET /orders', role: 'request', signal: 'latency', test: 'welch', effect: 3, severity: 0.9 };
  const slowTail: Finding = { operation: 'GET /orders', role: 'request', signal: 'latency-tail', test: 'binomial', effect: 0.2, severity: 0.75 };
  // At Measure: a fifth of the requests failing and three times slower.
  const atMeasure = measurement(stats(300, 63, 120), { findings: [failing, slow], score: 0.7 });
  const judge = (after: Measurement, before = atMeasure) => judgeRecovery({ before, after, threshold: 0.3 });

  it('when the system is as sick after the strategy as before, then it is not recovered', () => {
    const verdict = judge(measurement(stats(60, 13, 120), { seconds: 60 }));
    expect(verdict.verdict).toBe('not-recovered');
    expect(verdict.reasons.join(' ')).toContain('still there: GET /orders (errors)');
  });

  it('when a few clean requests are all the settle window has, then the evidence is not yet sufficient', () => {
    const verdict = judge(measurement(stats(4, 0, 40), { seconds: 5 }));
    expect(verdict.verdict).toBe('insufficient');
    expect(verdict.reasons.join(' ')).toContain('GET /orders');
  });

  it('when failures and latency are clearly back to normal, then it recovered, early (on a minute of traffic)', () => {
    expect(judge(measurement(stats(60, 0, 40), { seconds: 60 })).verdict).toBe('recovered');
  });

  it('when only the errors went away and the latency did not, then the evidence says it is still there', () => {
    const verdict = judge(measurement(stats(60, 0, 120), { seconds: 60 }));
    expect(verdict.verdict).toBe('not-recovered');
    expect(verdict.reasons.join(' ')).toContain('(latency)');
  });

  it('when a strategy repairs only half of the breach, then it is not recovered', () => {
    // 20 % failing at Measure, 10 % now (the reference had 1 %), on 10 minutes of traffic
    expect(judge(measurement(stats(600, 60, 40), { seconds: 600 }), measurement(stats(300, 63, 40), { findings: [failing] })).verdict).toBe('not-recovered');
  });

  it('when Measure found a slow tail and the tail is back to the reference, then it recovered, judged by the tail and not the mean', () => {
    // The fault: a tenth of requests eight times slower (22 % past the reference's p95 instead of 5 %); the mean moved little.
    const before = measurement(stats(300, 3, 48), { findings: [slowTail], tail: tail(60, 1200, 66, 300) });
    // The settle window: 5 % past the p95 again, its mean log a touch above the reference's (noise), 150 requests
    const after = measurement(stats(150, 1, 42), { seconds: 150, tail: tail(60, 1200, 7, 150) });
    expect(judge(after, before)).toMatchObject({ verdict: 'recovered' });
    // and still 20 % in the tail: still there
    expect(judge(measurement(stats(150, 1, 42), { seconds: 150, tail: tail(60, 1200, 30, 150) }), before).verdict).toBe('not-recovered');
  });

  it('when the fault flapped at Measure, then a pause as long as its quiet spells is not taken for a repair', () => {
    // Buckets of 25 s: bursts of 50 % failures with 75 s of quiet between them
    const burst = stats(25, 12);
    const quiet = stats(25, 0);
    const buckets = [quiet, quiet, burst, quiet, quiet, quiet, burst, quiet, quiet, quiet, burst, quiet];
    const before = measurement(stats(300, 36), { findings: [failing], buckets });
    // 60 s without a failure: as clean as it gets, but the fault paused for 75 s at a time
    expect(judge(measurement(stats(60, 0), { seconds: 60 }), before).verdict).toBe('insufficient');
    expect(judge(measurement(stats(110, 0), { seconds: 110 }), before).verdict).toBe('recovered');
  });

  it('when something new and user-visible appears in the settle window, then it is not recovered; a drop of traffic alone is not that', () => {
    const newErrors: Finding = { operation: 'GET /checkout', role: 'request', signal: 'errors', test: 'binomial', effect: 0.3, severity: 0.9 };
    expect(judge(measurement(stats(60, 0, 40), { seconds: 60, findings: [newErrors] })).verdict).toBe('not-recovered');
    const fewer: Finding = { operation: '(service)', role: 'request', signal: 'throughput', test: 'cusum', effect: 0.5, severity: 0.7 };
    expect(judge(measurement(stats(60, 0, 40), { seconds: 60, findings: [fewer] })).verdict).toBe('recovered');
  });

  it('when Measure found an attribute value taking a larger share, then the verdict re-runs that share test on the settle window, not "is it found again"', () => {
    // At Measure a fifth of GET /orders carried retry.reason = timeout, where 1 % of the reference did (failures unchanged).
    const timeouts: Finding = { operation: 'GET /orders', role: 'request', signal: 'semantic', attribute: 'retry.reason', value: 'timeout', baselineShare: 0.01, currentShare: 0.2, test: 'fisher', effect: 0.19, severity: 0.7 };
    const before = measurement(stats(300, 3), { findings: [timeouts], values: [{ key: 'retry.reason', value: 'timeout', baseline: 12, current: 60 }] });
    // An early look: 30 requests, 6 with the value. The detection (α shared over every value and stretch) would not find it
    // on so few spans, yet a fifth is the share Measure saw: still there.
    const early = judge(measurement(stats(30, 0), { seconds: 30, values: [{ key: 'retry.reason', value: 'timeout', baseline: 12, current: 6 }] }), before);
    expect(early.verdict).toBe('not-recovered');
    expect(early.reasons.join(' ')).toContain('still there: GET /orders (semantic retry.reason): 6 of 30 with retry.reason = timeout');
    // Back to the reference's share on a minute of traffic: gone.
    const after = judge(measurement(stats(60, 0), { seconds: 60, values: [{ key: 'retry.reason', value: 'timeout', baseline: 12, current: 1 }] }), before);
    expect(after.verdict).toBe('recovered');
    expect(after.reasons.join(' ')).toContain('gone: GET /orders (semantic retry.reason): 1 of 60');
    // Ten spans without it are too few to tell a 1 % share from a 20 % one: not yet clear, rather than "recovered".
    expect(judge(measurement(stats(10, 0), { seconds: 40 }), before).verdict).toBe('insufficient');
  });

  it('when the settle window shows a failing status code on a route whose failures Measure found, then that is the same fault, not a new one', () => {
    const before = measurement(stats(300, 63, 40), { findings: [failing] });
    const status500: Finding = { operation: 'GET /orders', role: 'request', signal: 'semantic', attribute: 'http.status_code', value: '500', baselineShare: 0.01, currentShare: 0.2, test: 'fisher', effect: 0.19, severity: 0.7 };
    // The failures are back to the reference's rate: the errors test clears them, and their status code is no new problem.
    expect(judge(measurement(stats(60, 0, 40), { seconds: 60, findings: [status500] }), before).verdict).toBe('recovered');
    // A value shift on a route whose failures nobody judges is new.
    const elsewhere: Finding = { ...status500, operation: 'GET /checkout' };
    const verdict = judge(measurement(stats(60, 0, 40), { seconds: 60, findings: [elsewhere] }), before);
    expect(verdict.verdict).toBe('not-recovered');
    expect(verdict.reasons.join(' ')).toContain('new in the settle window: GET /checkout (semantic)');
  });

  it('when nothing was found at Measure and nothing now, then it is recovered (there was nothing to undo)', () => {
    expect(judge(measurement(stats(60, 0), { seconds: 60 }), measurement(stats(600, 6))).verdict).toBe('recovered');
  });

  it('when traffic is slow, then the cycle waits longer between looks, within 10 s and a minute', () => {
    expect(settleWaitSeconds(1)).toBe(30);
    expect(settleWaitSeconds(100)).toBe(10);
    expect(settleWaitSeconds(0.1)).toBe(60);
    expect(settleWaitSeconds(0)).toBe(60);
  });

  it('the settle time a verdict needs falls with the traffic and grows with a finding that is hard to tell from healthy', () => {
    const at = (perSecond: number, finding: Finding, current: SpanStats) =>
      expectedSettleSeconds(measurement(current, { findings: [finding], reference: stats(1200 * perSecond, 12 * perSecond), tail: tail(60 * perSecond, 1200 * perSecond, 66, 300) }));
    expect(at(1, failing, stats(300, 63))).toBeLessThan(at(0.1, failing, stats(30, 6)));
    expect(at(1, slowTail, stats(300, 3))).toBeGreaterThan(at(1, slow, stats(300, 3, 120)));
    expect(at(1, failing, stats(300, 63))).toBeLessThan(10 * 60);
  });

  it('the strategy\'s verdict is due when its tests expect to be sure, keeping time for the check after a rollback, and never before "recovered" is possible', () => {
    const plan = (leftSeconds: number, afterRollback = false) => settleDeadlineSeconds({ leftSeconds, waitSeconds: 10, expectedSeconds: 30, minimumSeconds: 30, afterRollback });
    // A generous budget: four times the expected, the rest kept for a rollback's check.
    expect(plan(480)).toBe(120);
    expect(plan(360, true)).toBe(120);
    // A short budget: not half of it (15 s, when a finding needs 30 s of clean traffic), but the minimum and a look after it.
    expect(plan(60)).toBe(40);
    expect(plan(30)).toBe(30);
    // Nothing left after the rollback: one look.
    expect(plan(0, true)).toBe(10);
    // The minimum comes from Measure's findings: 30 s of clean traffic at least.
    expect(minimumSettleSeconds(atMeasure)).toBe(30);
    expect(minimumSettleSeconds(null)).toBe(30);
  });

  it('when the reference is a few spans, then a settle window within its sampling error of "healthy" is not called still sick', () => {
    // A route twice as slow at Measure; after the strategy, 40 spans at ×1.31 the reference's typical duration
    const settle = stats(40, 0, 40 * Math.exp(0.27));
    const judgedAgainst = (referenceSpans: number) => {
      const reference = stats(referenceSpans, 0, 40);
      return judge(measurement(settle, { reference, seconds: 120 }), measurement(stats(300, 0, 80), { findings: [slow], reference, score: 0.7 })).verdict;
    };
    // Against 6000 reference spans that is still sick; against 60, whose own mean is uncertain by ±6 %, not yet clear
    expect(judgedAgainst(6000)).toBe('not-recovered');
    expect(judgedAgainst(60)).toBe('insufficient');
  });

  it('a verdict still unclear at its time, every finding leaning healthy, looks again while the budget lasts; one leaning sick does not', () => {
    // A clean but short settle window (20 requests): not yet sure, and leaning healthy.
    const clean = judge(measurement(stats(20, 0, 40), { seconds: 20 }));
    expect(clean.verdict).toBe('insufficient');
    expect(clean.leansHealthy).toBe(true);
    // As many failures as at Measure on a few requests: not yet sure either, but leaning sick.
    const failingStill = judge(measurement(stats(5, 1, 40), { seconds: 20 }));
    expect(failingStill.verdict).toBe('insufficient');
    expect(failingStill.leansHealthy).toBe(false);
    const later = (input: Partial<Parameters<typeof extendedSettleDeadlineSeconds>[0]>) =>
      extendedSettleDeadlineSeconds({ budgetLeftSeconds: 240, waitSeconds: 30, minimumSeconds: 30, leansHealthy: true, afterRollback: false, ...input });
    // The strategy's verdict keeps the shortest window a check after a rollback can decide on, and a look.
    expect(later({})).toBe(180);
    // After a rollback nothing follows: the whole budget.
    expect(later({ afterRollback: true })).toBe(240);
    expect(later({ leansHealthy: false })).toBeNull();
    // Less than a look left: no later deadline, the verdict is "not recovered".
    expect(later({ budgetLeftSeconds: 80 })).toBeNull();
  });

  it('tail counts use the edge past which at most 5 % of the reference lies', () => {
    const reference = [50, 30, 15, 4, 1];
    expect(tailCounts(reference, [1, 1, 1, 5, 2])).toEqual({ edge: 2, referenceAbove: 5, referenceTotal: 100, currentAbove: 7, currentTotal: 10 });
    expect(tailCounts([1, 2], [1, 1])).toBeNull();
  });
});
