/**
 * Did a regeneration cycle recover its system? Judged from two measurements: the one the
 * cycle took at Measure (the fault state, and the reference window before it) and one of the
 * settle window since the strategy ran, against that same reference — never against a
 * baseline that already holds the fault.
 *
 * - not recovered: the settle window is still MEDIUM or worse against the state before the
 *   fault, and something Measure found is no better than it was. Clear as soon as it shows;
 *   still sick but significantly better means "look again".
 * - recovered: it is LOW against the state before the fault, and each thing Measure found
 *   is now significantly better than it was at Measure (one-sided tests at RECOVERY_ALPHA
 *   against the fault state). "No longer detectable" on a handful of requests is not enough.
 * - insufficient: neither yet. The cycle waits and looks again; past its deadline the
 *   verdict is "not recovered" (rolled back or escalated), never a default "recovered".
 */
import type { Finding } from './operations.js';
import type { Measurement, OperationRole, SpanStats } from './ports.js';
import { binomialLowerTail, binomialUpperTail, welch } from './statistics.js';

export type RecoveryVerdict = 'recovered' | 'not-recovered' | 'insufficient';

/** Significance of "better than at Measure" for each finding. */
export const RECOVERY_ALPHA = 0.01;

interface StoredOperation {
  name: string;
  role: OperationRole;
  current: SpanStats;
}
interface StoredRequests {
  current: { count: number; errors: number; seconds: number };
}

const operationsOf = (measurement: Measurement) => (measurement.indicators.operations as StoredOperation[] | undefined) ?? [];
const requestsOf = (measurement: Measurement) => (measurement.indicators.requests as StoredRequests | undefined)?.current ?? { count: 0, errors: 0, seconds: 0 };
const findingsOf = (measurement: Measurement) => ((measurement.indicators.findings as Finding[] | undefined) ?? []).filter((finding) => !finding.diagnostic);

export function judgeRecovery(input: { before: Measurement | null; after: Measurement; threshold: number }): { verdict: RecoveryVerdict; reasons: string[] } {
  const { before, after, threshold } = input;
  const findings = before ? findingsOf(before) : [];
  const pending: string[] = [];
  for (const finding of findings) {
    const evidence = improvement(finding, before as Measurement, after);
    if (!evidence.improved) pending.push(`${finding.operation} (${finding.signal}): ${evidence.why}`);
  }
  if (after.score >= threshold) {
    const still = `entropy ${after.score.toFixed(3)} is still at or above ${threshold} against the state before the fault`;
    // Still sick and no better than at Measure: clear. Still sick but getting better: look again (until the deadline).
    if (pending.length || !findings.length) return { verdict: 'not-recovered', reasons: [still, ...pending] };
    return { verdict: 'insufficient', reasons: [still, 'but what Measure found is significantly better: looking again'] };
  }
  if (!findings.length) return { verdict: 'recovered', reasons: ['nothing was found at Measure, and nothing is found now'] };
  if (pending.length) return { verdict: 'insufficient', reasons: pending };
  return { verdict: 'recovered', reasons: findings.map((finding) => `${finding.operation} (${finding.signal}) is significantly better than at Measure`) };
}

function improvement(finding: Finding, before: Measurement, after: Measurement): { improved: boolean; why: string } {
  const pick = (measurement: Measurement): SpanStats | null => {
    if (finding.operation === '(service)') {
      const requests = requestsOf(measurement);
      return { count: requests.count, errors: requests.errors, sumLog: 0, sumLog2: 0 };
    }
    return operationsOf(measurement).find((operation) => operation.name === finding.operation && operation.role === finding.role)?.current ?? null;
  };
  const fault = pick(before);
  const now = pick(after) ?? { count: 0, errors: 0, sumLog: 0, sumLog2: 0 };
  switch (finding.signal) {
    case 'errors':
    case 'errors-sequential':
    case 'errors-absolute': {
      if (!fault || !fault.count || !now.count) return { improved: false, why: 'no requests yet' };
      const p = binomialLowerTail(now.errors, now.count, fault.errors / fault.count);
      return p < RECOVERY_ALPHA ? { improved: true, why: '' } : { improved: false, why: `${now.errors} of ${now.count} failed (p ${p.toFixed(3)} against the fault's rate)` };
    }
    case 'latency':
    case 'latency-tail':
    case 'latency-sequential': {
      if (!fault || fault.count < 2 || now.count < 2) return { improved: false, why: 'too few spans yet' };
      const m = (stats: SpanStats) => {
        const mean = stats.sumLog / stats.count;
        return { mean, variance: Math.max(0, (stats.sumLog2 - stats.count * mean * mean) / (stats.count - 1)) };
      };
      const f = m(fault);
      const n = m(now);
      const test = welch(fault.count, f.mean, f.variance, now.count, n.mean, n.variance, 'less');
      return test.pValue < RECOVERY_ALPHA ? { improved: true, why: '' } : { improved: false, why: `not yet faster than at Measure (p ${test.pValue.toFixed(3)})` };
    }
    case 'throughput':
    case 'outage': {
      const faultRequests = requestsOf(before);
      const nowRequests = requestsOf(after);
      if (!nowRequests.seconds || !faultRequests.seconds) return { improved: false, why: 'no settle window yet' };
      const share = nowRequests.seconds / (nowRequests.seconds + faultRequests.seconds);
      const p = binomialUpperTail(nowRequests.count, nowRequests.count + faultRequests.count, share);
      // Or back to the rate before the fault, on enough requests (when the drop at Measure was slight, "more than then" takes long to show).
      const reference = (after.indicators.requests as { baseline?: { count: number; seconds: number } } | undefined)?.baseline;
      const backToNormal = !!reference && reference.seconds > 0 && nowRequests.count >= 40 && nowRequests.count / nowRequests.seconds >= (0.8 * reference.count) / reference.seconds;
      return p < RECOVERY_ALPHA || backToNormal ? { improved: true, why: '' } : { improved: false, why: `${nowRequests.count} requests in ${Math.round(nowRequests.seconds)} s is not yet more than at Measure (p ${p.toFixed(3)})` };
    }
    case 'vanished':
      return now.count >= 3 ? { improved: true, why: '' } : { improved: false, why: 'not seen again yet' };
    case 'semantic':
    case 'loop-thrash': {
      const indicator = (after.indicators as Record<string, { detected?: boolean; details?: unknown }>)[finding.signal === 'semantic' ? 'semantic' : 'loopThrash'];
      const requests = requestsOf(after).count;
      return !indicator?.detected && requests >= 10 ? { improved: true, why: '' } : { improved: false, why: indicator?.detected ? `still there: ${JSON.stringify(indicator.details).slice(0, 300)}` : 'too few requests yet' };
    }
  }
}

/**
 * How long to wait before the next look: long enough for the system's traffic to bring about
 * 40 requests (the evidence one look needs), between 10 s and 2 minutes.
 */
export function settleWaitSeconds(requestsPerSecond: number): number {
  if (!(requestsPerSecond > 0)) return 120;
  return Math.min(120, Math.max(10, Math.ceil(40 / requestsPerSecond)));
}
