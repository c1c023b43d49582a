/**
 * Did a regeneration cycle recover its system? Each finding that triggered the cycle is judged
 * again by the statistic that found it — error share, mean ln(duration), share slower than the
 * reference's p95, request rate, presence — on the settle window, against the state before the
 * fault (Measure's reference window), one-sided.
 *
 * The judgement is sequential, so the cycle can look every few requests and stop as soon as the
 * evidence is clear either way: per finding, Wald's sequential probability ratio test of
 * "healthy" (the reference's level, known only as well as the reference's spans tell it) against
 * "still sick" (the reference plus SICK_SHARE of the
 * breach Measure saw, and at least the smallest breach detection counts). Wald's bounds keep
 * the error rates however often the cycle looks: calling a still-sick finding gone at most
 * FALSE_RECOVERED, calling a repaired one still sick at most FALSE_NOT_RECOVERED.
 *
 * - not recovered: a finding is still there (its test accepts "still sick"), or something new
 *   and user-visible appeared in the settle window (more errors, slower, gone).
 * - recovered: per operation and kind of signal, the finding whose test separates "healthy" from
 *   "still sick" best accepts "healthy" (a slow tail by its tail, not by a mean it barely moved),
 *   and the settle window is as long as the longest quiet spell the fault had at Measure (a
 *   flapping fault is not gone because it paused). "Still sick" is shared out over the findings.
 * - insufficient: neither yet (too little traffic for either bound): look again, until the
 *   cycle's deadline (later while every finding leans healthy and the budget lasts); past it the
 *   verdict is "not recovered", never a default "recovered".
 */
import { DEFAULT_OPERATION_OPTIONS, INGEST_GRACE_SECONDS, type Finding } from './operations.js';
import { logGamma } from './statistics.js';
import type { Measurement, OperationRole, SpanStats } from './ports.js';

export type RecoveryVerdict = 'recovered' | 'not-recovered' | 'insufficient';

/** Chance of calling a finding gone while it is still there (per finding). */
export const FALSE_RECOVERED = 0.01;
/** Chance of calling a finding still there while it is gone (a good fix rolled back). */
export const FALSE_NOT_RECOVERED = 0.05;
/** Wald's bounds on the log-likelihood ratio ln L(sick) / L(healthy). */
export const ACCEPT_SICK = Math.log((1 - FALSE_RECOVERED) / FALSE_NOT_RECOVERED);
export const ACCEPT_HEALTHY = Math.log(FALSE_RECOVERED / (1 - FALSE_NOT_RECOVERED));
/**
 * "Still sick" for a mean (ln duration): the reference plus this share of the breach Measure
 * saw, so that a strategy that repairs half of a slowdown leaves it sick (the Gaussian test
 * leans to "sick" past 0.3 of the breach). Shares (failures, the tail past the p95) are tested
 * against the share Measure saw itself: with a rare event at the reference the Bernoulli test
 * already leans to "sick" past about a third of the breach, and the wider gap halves the
 * traffic the verdict needs.
 */
export const SICK_SHARE = 0.6;
/** A finding is never called gone on less settle time than this (spans of the first seconds may still be on their way). */
export const MIN_RECOVERED_SECONDS = 30;

/** Spans above the reference's p95 (an edge of the log histogram), on the reference side and the judged side. */
export interface TailCounts {
  edge: number;
  referenceAbove: number;
  referenceTotal: number;
  currentAbove: number;
  currentTotal: number;
}

/**
 * The tail counts the slow-tail test uses (operations.ts, tailTest): the first histogram bin
 * above which at most 5 % of the reference lies, and how many spans of each side lie above it.
 */
export function tailCounts(reference: number[], current: number[]): TailCounts | null {
  const total = reference.reduce((a, b) => a + b, 0);
  if (total < 40) return null;
  let above = total;
  for (let index = 0; index < reference.length; index++) {
    above -= reference[index] ?? 0;
    if (above <= 0.05 * total) {
      return { edge: index, referenceAbove: above, referenceTotal: total, currentAbove: current.slice(index + 1).reduce((a, b) => a + b, 0), currentTotal: current.reduce((a, b) => a + b, 0) };
    }
  }
  return null;
}

interface StoredOperation {
  name: string;
  role: OperationRole;
  baseline: SpanStats;
  current: SpanStats;
  oldest?: SpanStats | null;
  buckets?: SpanStats[];
  tail?: TailCounts | null;
}
interface StoredRequests {
  baseline: { count: number; errors: number; seconds: number };
  current: { count: number; errors: number; seconds: number };
}

/** An operation's attribute values in one measurement's key sample (measure.ts): its spans, and each value the current window carried. */
interface StoredValues {
  operation: string;
  baselineSpans: number;
  currentSpans: number;
  values: Array<{ key: string; value: string; baseline: number; current: number }>;
}

const EMPTY: SpanStats = { count: 0, errors: 0, sumLog: 0, sumLog2: 0 };
const operationsOf = (measurement: Measurement) => (measurement.indicators.operations as StoredOperation[] | undefined) ?? [];
const requestsOf = (measurement: Measurement): StoredRequests => (measurement.indicators.requests as StoredRequests | undefined) ?? { baseline: { count: 0, errors: 0, seconds: 0 }, current: { count: 0, errors: 0, seconds: 0 } };
const findingsOf = (measurement: Measurement) => ((measurement.indicators.findings as Finding[] | undefined) ?? []).filter((finding) => !finding.diagnostic);
const valuesOf = (measurement: Measurement, operation: string) => ((measurement.indicators.attributeValues as StoredValues[] | undefined) ?? []).find((entry) => entry.operation === operation);
const operationOf = (measurement: Measurement, finding: Pick<Finding, 'operation' | 'role'>) => operationsOf(measurement).find((operation) => operation.name === finding.operation && operation.role === finding.role);

/** What one finding's sequential test says now. */
export interface FindingEvidence {
  finding: string;
  /** ln L(still sick) / L(healthy) on the settle window. */
  llr: number;
  decision: 'healthy' | 'sick' | 'undecided';
  /** Settle seconds this finding needs before it may be called gone (its quiet spells at Measure). */
  minSeconds: number;
  /** Expected evidence per second under "healthy" (nats/s): how fast the test can clear it. */
  healthyRate: number;
  why: string;
}

const family = (signal: string) => (signal.startsWith('errors') ? 'errors' : signal.startsWith('latency') ? 'latency' : signal === 'outage' || signal === 'throughput' ? 'traffic' : signal);

/**
 * What "healthy" means for a share (failures, spans past the p95, spans carrying a value): the
 * reference's share, known only from `events` of `total` reference spans.
 */
interface ReferenceShare {
  events: number;
  total: number;
}

const lnBeta = (a: number, b: number) => logGamma(a) + logGamma(b) - logGamma(a + b);

/**
 * Log-likelihood ratio of k events in n: "still sick" at p1 against "healthy" at the reference's
 * share. That share is not taken as known: "healthy" is the beta-binomial predictive of its
 * posterior, Beta(events + ½, total − events + ½), so a share seen on a few reference spans
 * (a quiet route's oldest quarter) asks for more evidence before a settle window is called
 * either way. It is the ratio of two full likelihoods of the settle spans, so Wald's bounds hold
 * however often the cycle looks.
 */
function bernoulliLlr(k: number, n: number, reference: ReferenceShare, p1: number): number {
  const a = Math.max(0, reference.events) + 0.5;
  const b = Math.max(0, reference.total - reference.events) + 0.5;
  return k * Math.log(p1) + (n - k) * Math.log(1 - p1) - (lnBeta(a + k, b + n - k) - lnBeta(a, b));
}
/** Expected Bernoulli LLR per trial when the truth is p0 (minus the Kullback-Leibler divergence). */
const bernoulliDrift = (p0: number, p1: number) => p0 * Math.log(p1 / p0) + (1 - p0) * Math.log((1 - p1) / (1 - p0));
const clampP = (p: number) => Math.min(0.99, Math.max(1e-4, p));

/**
 * Log-likelihood ratio of a settle window's mean ln(duration): "still sick" at the reference's
 * mean plus δ against "healthy" at the reference's mean, with the reference's variance σ². The
 * reference's mean is not taken as known: "healthy" is the predictive of its posterior from the
 * `referenceCount` reference spans, N(mean, σ²/m), so the settle mean x̄ of n spans is
 * N(mean, σ²(1/n + 1/m)) there, N(mean + δ, σ²/n) under "still sick". (With m → ∞ this is
 * Wald's δ/σ² · (Σx − n(μ0 + δ/2)).) A quiet route's reference, a few hundred spans, no longer
 * reads its own sampling error as a fault that stayed.
 */
function gaussianLlr(stats: SpanStats, mean: number, variance: number, referenceCount: number, delta: number): number {
  const n = stats.count;
  if (!n) return 0;
  const x = stats.sumLog / n - mean;
  const healthyVariance = variance * (1 / n + 1 / Math.max(1, referenceCount));
  return (-n * (x - delta) ** 2) / (2 * variance) + (x * x) / (2 * healthyVariance) + 0.5 * Math.log(healthyVariance / (variance / n));
}

function moments(stats: SpanStats) {
  const mean = stats.count ? stats.sumLog / stats.count : 0;
  const variance = stats.count > 1 ? Math.max(0, (stats.sumLog2 - stats.count * mean * mean) / (stats.count - 1)) : 0;
  return { mean, variance };
}

/** "Still sick" is shared out over the cycle's findings (Bonferroni): one of many crossing by chance must not roll back a good fix. */
const acceptSickOf = (tests: number) => Math.log((1 - FALSE_RECOVERED) / (FALSE_NOT_RECOVERED / Math.max(1, tests)));

/**
 * Re-runs the test that made `finding` at Measure (`before`) on the settle window (`after`, measured
 * against the same reference window), as a sequential probability ratio test.
 */
export function findingEvidence(finding: Finding, before: Measurement, after: Measurement, tests = 1): FindingEvidence {
  const acceptSick = acceptSickOf(tests);
  const name = `${finding.operation} (${finding.signal}${finding.attribute ? ` ${finding.attribute}` : ''})`;
  const options = DEFAULT_OPERATION_OPTIONS;
  const atMeasure = operationOf(before, finding);
  const now = operationOf(after, finding);
  const requests = requestsOf(before);
  const settle = requestsOf(after).current;
  const settleSeconds = Math.max(0, settle.seconds);
  const decide = (llr: number, minSeconds: number, healthyRate: number, why: string): FindingEvidence => ({
    finding: name,
    llr,
    decision: llr >= acceptSick ? 'sick' : llr <= ACCEPT_HEALTHY && settleSeconds >= minSeconds ? 'healthy' : 'undecided',
    minSeconds,
    healthyRate,
    why,
  });
  const referenceSeconds = Math.max(1, requests.baseline.seconds);

  switch (finding.signal) {
    case 'errors':
    case 'errors-sequential':
    case 'errors-absolute': {
      // The reference the finding was made against (the oldest quarter of the reference when the fault began inside it).
      const service = finding.operation === '(service)';
      const reference = service ? { ...EMPTY, ...requests.baseline } : finding.reference === 'oldest-quarter' && atMeasure?.oldest && atMeasure.oldest.count >= 10 ? atMeasure.oldest : (atMeasure?.baseline ?? EMPTY);
      const fault = service ? { ...EMPTY, ...requests.current } : (atMeasure?.current ?? EMPTY);
      const current = service ? { ...EMPTY, ...settle } : (now?.current ?? EMPTY);
      const p0 = clampP((reference.errors + 0.5) / (reference.count + 1));
      const pFault = fault.count ? fault.errors / fault.count : p0;
      const p1 = clampP(Math.max(p0 + options.minErrorRateChange, options.minErrorRatio * p0, pFault, finding.signal === 'errors-absolute' ? (2 / 3) * options.absoluteErrorRate : 0));
      const share = { events: reference.errors, total: reference.count };
      const llr = bernoulliLlr(current.errors, current.count, share, p1);
      const rate = reference.count / referenceSeconds;
      const minSeconds = quietSpell(atMeasure?.buckets, before, (bucket) => bernoulliLlr(bucket.errors, bucket.count, share, p1));
      return decide(llr, minSeconds, -bernoulliDrift(p0, p1) * rate, `${current.errors} of ${current.count} failed (healthy ${(p0 * 100).toFixed(1)} %, still sick ${(p1 * 100).toFixed(1)} %), LLR ${llr.toFixed(2)}`);
    }
    case 'latency':
    case 'latency-sequential': {
      const reference = finding.reference === 'oldest-quarter' && atMeasure?.oldest && atMeasure.oldest.count >= 10 ? atMeasure.oldest : (atMeasure?.baseline ?? EMPTY);
      const current = now?.current ?? EMPTY;
      const ref = moments(reference);
      const fault = moments(atMeasure?.current ?? EMPTY);
      if (reference.count < 2 || !(ref.variance > 0)) return decide(0, Infinity, 0, 'no reference spread to judge latency against');
      const delta = Math.max(Math.log(options.minLatencyRatio), SICK_SHARE * (fault.mean - ref.mean));
      const llrOf = (stats: SpanStats) => gaussianLlr(stats, ref.mean, ref.variance, reference.count, delta);
      const llr = llrOf(current);
      const rate = reference.count / referenceSeconds;
      const minSeconds = quietSpell(atMeasure?.buckets, before, llrOf);
      const ratio = current.count ? Math.exp(current.sumLog / current.count - ref.mean) : NaN;
      return decide(llr, minSeconds, ((delta * delta) / (2 * ref.variance)) * rate, `${current.count} spans at ×${ratio.toFixed(2)} the reference's typical duration (still sick ×${Math.exp(delta).toFixed(2)}), LLR ${llr.toFixed(2)}`);
    }
    case 'latency-tail': {
      const tailBefore = atMeasure?.tail;
      const tailNow = now?.tail;
      if (!tailBefore) return decide(0, Infinity, 0, 'no reference tail to judge against');
      const q0 = clampP((tailBefore.referenceAbove + 1) / (tailBefore.referenceTotal + 1));
      const qFault = tailBefore.currentTotal ? tailBefore.currentAbove / tailBefore.currentTotal : q0;
      const q1 = clampP(Math.max(q0 + options.minTailShare, 2 * q0, qFault));
      const above = tailNow?.currentAbove ?? 0;
      const total = tailNow?.currentTotal ?? now?.current.count ?? 0;
      const llr = bernoulliLlr(above, total, { events: tailBefore.referenceAbove, total: tailBefore.referenceTotal }, q1);
      const rate = tailBefore.referenceTotal / referenceSeconds;
      return decide(llr, MIN_RECOVERED_SECONDS, -bernoulliDrift(q0, q1) * rate, `${above} of ${total} slower than the reference's p95 (healthy ${(q0 * 100).toFixed(1)} %, still sick ${(q1 * 100).toFixed(1)} %), LLR ${llr.toFixed(2)}`);
    }
    case 'throughput':
    case 'outage': {
      // Poisson SPRT on the request rate; the newest seconds are left out of the exposure (their spans may still be on their way).
      const r0 = requests.baseline.count / referenceSeconds;
      const faultRatio = requests.current.seconds ? requests.current.count / requests.current.seconds / Math.max(r0, 1e-9) : 0;
      const ratio1 = Math.min(options.maxThroughputRatio, 1 - SICK_SHARE * (1 - Math.min(1, faultRatio)));
      const r1 = r0 * Math.max(0.05, ratio1);
      const exposure = Math.max(0, settleSeconds - INGEST_GRACE_SECONDS);
      if (!(r0 > 0)) return decide(0, Infinity, 0, 'no reference traffic');
      const llr = settle.count * Math.log(r1 / r0) - (r1 - r0) * exposure;
      return decide(llr, MIN_RECOVERED_SECONDS, r0 * (Math.log(r0 / r1) - 1 + r1 / r0), `${settle.count} requests in ${Math.round(exposure)} s (healthy ${r0.toFixed(2)}/s, still sick ${r1.toFixed(2)}/s), LLR ${llr.toFixed(2)}`);
    }
    case 'vanished': {
      const r0 = (atMeasure?.baseline.count ?? 0) / referenceSeconds;
      const r1 = 0.3 * r0;
      const exposure = Math.max(0, settleSeconds - INGEST_GRACE_SECONDS);
      if (!(r0 > 0)) return decide(0, Infinity, 0, 'no reference traffic');
      const count = now?.current.count ?? 0;
      const llr = count * Math.log(r1 / r0) - (r1 - r0) * exposure;
      return decide(llr, MIN_RECOVERED_SECONDS, r0 * (Math.log(r0 / r1) - 1 + r1 / r0), `${count} spans in ${Math.round(exposure)} s (healthy ${r0.toFixed(2)}/s), LLR ${llr.toFixed(2)}`);
    }
    case 'semantic':
    case 'loop-thrash': {
      if (finding.value !== undefined && finding.attribute) return valueShareEvidence(finding, before, after, decide, referenceSeconds);
      // Not found again in the settle window on enough spans (its own detection needs about 10 expected). Found again is not
      // yet "still there": the window's first spans may come from before the strategy took effect; it stays undecided (and
      // not recovered at the deadline).
      const again = findingsOf(after).some((other) => other.signal === finding.signal && other.operation === finding.operation && other.attribute === finding.attribute);
      const spans = finding.operation === '(service)' ? settle.count : (now?.current.count ?? 0);
      const llr = !again && spans >= 20 ? ACCEPT_HEALTHY : 0;
      return decide(llr, MIN_RECOVERED_SECONDS, ((-ACCEPT_HEALTHY / 20) * (atMeasure?.baseline.count ?? requests.baseline.count)) / referenceSeconds, again ? 'found again in the settle window' : `${spans} spans without it`);
    }
  }
}

/**
 * A shifted attribute value (its share of the operation's spans grew, Measure's Fisher test): the
 * same share, judged one-sided on the settle window as a Bernoulli SPRT — healthy at the
 * reference's share, still sick at the share Measure saw (at least the smallest rise the
 * detection counts), as failures are. "Not found again" is no evidence of recovery: the
 * detection shares its α over every value and stretch, so it misses a fault that is still there
 * on the few spans of an early look.
 */
function valueShareEvidence(finding: Finding, before: Measurement, after: Measurement, decide: (llr: number, minSeconds: number, healthyRate: number, why: string) => FindingEvidence, referenceSeconds: number): FindingEvidence {
  const options = DEFAULT_OPERATION_OPTIONS;
  const atMeasure = valuesOf(before, finding.operation);
  const now = valuesOf(after, finding.operation);
  const reference = atMeasure?.values.find((value) => value.key === finding.attribute && value.value === finding.value);
  const referenceSpans = atMeasure?.baselineSpans ?? 0;
  // The reference's share, with half a span of doubt either way (a value the reference never carried is not impossible).
  const p0 = clampP(referenceSpans ? ((reference?.baseline ?? (finding.baselineShare ?? 0) * referenceSpans) + 0.5) / (referenceSpans + 1) : (finding.baselineShare ?? 0));
  const p1 = clampP(Math.max(p0 + options.minValueShareChange, options.minValueShareRatio * p0, finding.currentShare ?? 0));
  const carrying = now?.values.find((value) => value.key === finding.attribute && value.value === finding.value)?.current ?? 0;
  const spans = now?.currentSpans ?? 0;
  const referenceCarrying = reference?.baseline ?? (finding.baselineShare ?? 0) * referenceSpans;
  const llr = p1 > p0 ? bernoulliLlr(carrying, spans, { events: referenceCarrying, total: referenceSpans }, p1) : 0;
  const operation = operationOf(before, finding);
  const rate = (operation?.baseline.count ?? referenceSpans) / referenceSeconds;
  return decide(
    llr,
    MIN_RECOVERED_SECONDS,
    -bernoulliDrift(p0, p1) * rate,
    `${carrying} of ${spans} with ${finding.attribute} = ${finding.value} (healthy ${(p0 * 100).toFixed(1)} %, still sick ${(p1 * 100).toFixed(1)} %), LLR ${llr.toFixed(2)}`,
  );
}

/**
 * The longest spell, inside the stretch where the fault showed at Measure, of buckets that
 * clearly looked healthy (LLR ≤ −2): a fault that paused that long while in force cannot be
 * called gone on less, so a burst that flaps is not mistaken for a repair.
 */
function quietSpell(buckets: SpanStats[] | undefined, before: Measurement, llrOf: (bucket: SpanStats) => number): number {
  const windows = before.indicators.windows as { current?: { from: string; to: string } } | undefined;
  if (!buckets?.length || !windows?.current) return MIN_RECOVERED_SECONDS;
  const bucketSeconds = (new Date(windows.current.to).getTime() - new Date(windows.current.from).getTime()) / 1000 / buckets.length;
  const llrs = buckets.map(llrOf);
  const sick = llrs.map((llr, index) => (llr > 0 && (buckets[index]?.count ?? 0) > 0 ? index : -1)).filter((index) => index >= 0);
  if (sick.length < 2) return MIN_RECOVERED_SECONDS;
  let longest = 0;
  let run = 0;
  for (let index = sick[0] as number; index <= (sick.at(-1) as number); index++) {
    run = (llrs[index] as number) <= -2 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return Math.max(MIN_RECOVERED_SECONDS, longest ? (longest + 1) * bucketSeconds : 0);
}

/**
 * Findings of the settle window that Measure did not have and that users feel (a drop of traffic alone is not one: users come
 * and go). A shifted attribute value on an operation whose failures are judged (an errors finding at Measure or now) is those
 * failures seen through their status code or error type: the errors test judges that fault, once.
 */
function newProblems(before: Measurement, after: Measurement): Finding[] {
  const known = new Set(findingsOf(before).map((finding) => `${finding.operation} ${family(finding.signal)}`));
  const failing = new Set([...findingsOf(before), ...findingsOf(after)].filter((finding) => family(finding.signal) === 'errors').map((finding) => `${finding.role} ${finding.operation}`));
  return findingsOf(after).filter(
    (finding) => finding.signal !== 'throughput' && !known.has(`${finding.operation} ${family(finding.signal)}`) && !(finding.value !== undefined && failing.has(`${finding.role} ${finding.operation}`)),
  );
}

export interface RecoveryJudgement {
  verdict: RecoveryVerdict;
  reasons: string[];
  evidence: FindingEvidence[];
  /** Insufficient, and every finding not yet called gone has more evidence for "healthy" than for "still sick" so far. */
  leansHealthy: boolean;
}

export function judgeRecovery(input: { before: Measurement | null; after: Measurement; threshold: number }): RecoveryJudgement {
  const { before, after, threshold } = input;
  const findings = before ? findingsOf(before) : [];
  if (!before || !findings.length) {
    // Nothing the spans showed (the cycle was started by hand, or by metrics or validation): the score decides.
    if (after.score >= threshold) return { verdict: 'not-recovered', reasons: [`entropy ${after.score.toFixed(3)} is at or above ${threshold} against the state before`], evidence: [], leansHealthy: false };
    if (requestsOf(after).current.count < 10) return { verdict: 'insufficient', reasons: ['fewer than 10 requests in the settle window'], evidence: [], leansHealthy: false };
    return { verdict: 'recovered', reasons: ['nothing was found at Measure, and nothing is found now'], evidence: [], leansHealthy: false };
  }
  const evidence = findings.map((finding) => findingEvidence(finding, before, after, findings.length));
  const fresh = newProblems(before, after);
  const sick = evidence.filter((entry) => entry.decision === 'sick');
  // Gone is judged per operation and kind of signal by the finding whose test tells "healthy" from "still sick" best (the
  // statistic that fits the fault: a slow tail by the tail, a slowdown by the mean); any of them still sick fails the cycle.
  const judged = new Map<string, FindingEvidence>();
  findings.forEach((finding, index) => {
    const key = `${finding.role} ${finding.operation} ${family(finding.signal)} ${finding.attribute ?? ''} ${finding.value ?? ''}`;
    const entry = evidence[index] as FindingEvidence;
    const best = judged.get(key);
    if (!best || entry.healthyRate > best.healthyRate) judged.set(key, entry);
  });
  if (sick.length || fresh.length) {
    return {
      verdict: 'not-recovered',
      reasons: [...sick.map((entry) => `still there: ${entry.finding}: ${entry.why}`), ...fresh.map((finding) => `new in the settle window: ${finding.operation} (${finding.signal}): ${finding.test}`)],
      evidence,
      leansHealthy: false,
    };
  }
  const pending = [...judged.values()].filter((entry) => entry.decision !== 'healthy');
  if (pending.length) {
    return {
      verdict: 'insufficient',
      reasons: pending.map((entry) => `not yet clear: ${entry.finding}: ${entry.why}${entry.llr <= ACCEPT_HEALTHY ? ` (needs ${Math.round(entry.minSeconds)} s of settle: the fault paused that long at Measure)` : ''}`),
      evidence,
      // No finding of the cycle leans "still sick" either (a finding not chosen to judge gone may still say "sick").
      leansHealthy: pending.every((entry) => entry.llr < 0) && evidence.every((entry) => entry.llr < acceptSickOf(findings.length) / 2),
    };
  }
  return { verdict: 'recovered', reasons: [...judged.values()].map((entry) => `gone: ${entry.finding}: ${entry.why}`), evidence, leansHealthy: false };
}

/**
 * Settle seconds the verdict is expected to need, from what Measure found and the traffic
 * before the fault: per finding the seconds for its test to clear "healthy" at the expected
 * evidence rate (Wald's approximate sample size), and its quiet spell; the slowest finding
 * decides. Infinity when a finding has no traffic to be judged on.
 */
export function expectedSettleSeconds(before: Measurement | null): number {
  const findings = before ? findingsOf(before) : [];
  if (!before || !findings.length) return MIN_RECOVERED_SECONDS * 2;
  // The evidence rate of each finding, from a settle window that looks exactly like the reference.
  const groups = new Map<string, number>();
  for (const finding of findings) {
    const entry = findingEvidence(finding, before, before);
    const seconds = Math.max(entry.healthyRate > 0 ? -ACCEPT_HEALTHY / entry.healthyRate : Infinity, entry.minSeconds);
    const key = `${finding.role} ${finding.operation} ${family(finding.signal)} ${finding.attribute ?? ''} ${finding.value ?? ''}`;
    groups.set(key, Math.min(groups.get(key) ?? Infinity, seconds));
  }
  return Math.max(MIN_RECOVERED_SECONDS, ...groups.values());
}

/**
 * The shortest settle window on which every finding of Measure can be called gone: a finding
 * that Measure saw pause for a while in force (quietSpell) needs at least that long of clean
 * traffic. A deadline before it makes "recovered" impossible.
 */
export function minimumSettleSeconds(before: Measurement | null): number {
  const findings = before ? findingsOf(before) : [];
  return Math.max(MIN_RECOVERED_SECONDS, ...findings.map((finding) => findingEvidence(finding, before!, before!).minSeconds));
}

/**
 * When a settle window's verdict is due, in seconds from now. The strategy's verdict gets what its
 * tests need (four times the expected: a sequential test's sample size has a long tail), at
 * least three looks, keeping as much (at most half the budget) for the check after a rollback,
 * which confirms the same findings gone; that check gets what is left. Neither is cut below
 * the shortest window on which "recovered" is possible while the budget lasts, and neither
 * before its first look.
 */
export function settleDeadlineSeconds(input: { leftSeconds: number; waitSeconds: number; expectedSeconds: number; minimumSeconds: number; afterRollback: boolean }): number {
  const { leftSeconds: left, waitSeconds: wait } = input;
  const needed = Math.max(3 * wait, 4 * input.expectedSeconds);
  const cap = input.afterRollback ? left : left - Math.min(left / 2, needed);
  const floor = Math.min(left, input.minimumSeconds + wait);
  return Math.max(Math.min(wait, left || wait), Math.min(cap, needed), floor);
}

/**
 * A later deadline for a verdict, in seconds from now, or null. At its deadline a verdict may
 * still be unclear only for want of traffic: every finding leaning "healthy", on a route that
 * sees a request every few seconds. Calling it "not recovered" then would most likely roll back
 * a good fix (or hand a healed system to a person), and a check after a rollback would face the
 * same slow traffic. So the verdict keeps looking while the cycle's budget lasts, less, for the
 * strategy's verdict, what a check after a rollback needs to see a fault come back (the
 * shortest window on which it can decide, and a look). The later deadline is fixed by the
 * budget, so a second pass cannot extend it again. A verdict that leans "still sick" never waits
 * longer than planned.
 */
export function extendedSettleDeadlineSeconds(input: { budgetLeftSeconds: number; waitSeconds: number; minimumSeconds: number; leansHealthy: boolean; afterRollback: boolean }): number | null {
  if (!input.leansHealthy) return null;
  const until = input.budgetLeftSeconds - (input.afterRollback ? 0 : input.minimumSeconds + input.waitSeconds);
  return until >= input.waitSeconds ? until : null;
}

/**
 * How long to wait before the next look: long enough for the system's traffic to bring about
 * 30 requests, between 10 s and 1 minute (looks are cheap, and the sequential test keeps its
 * error rates however often it looks).
 */
export function settleWaitSeconds(requestsPerSecond: number): number {
  if (!(requestsPerSecond > 0)) return 60;
  return Math.min(60, Math.max(10, Math.ceil(30 / requestsPerSecond)));
}
