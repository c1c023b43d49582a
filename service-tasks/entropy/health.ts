/**
 * Health of a system over a window, against a baseline window: each signal is normalised
 * to 0..1 (1 = as good as the baseline or better) and the three are weighted. When the
 * system also sends OTLP metrics, their components (metric-health.ts) are weighted in.
 */
import type { MetricHealth } from './metric-health.js';

export const HEALTH_STATES = ['HEALTHY', 'WARNING', 'CRITICAL', 'FAILING'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export interface WindowStats {
  count: number;
  errors: number;
  seconds: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface HealthBreakdown {
  score: number;
  state: HealthState;
  errorRate: number;
  errorScore: number;
  latencyScore: number;
  throughputScore: number;
  latencyRatio: { p50: number; p95: number; p99: number };
  throughputRatio: number;
  /** Only when metric components contributed: the score from spans alone, and the metrics' part. */
  spanScore?: number;
  /** The pooled score of the requests (errors, percentile ratios, throughput), for reference; the score itself is the worst finding's. */
  pooledScore?: number;
  metrics?: MetricHealth & { share: number };
}

/** Weights of the signals; they add up to 1. */
export const HEALTH_WEIGHTS = { errors: 0.4, latency: 0.35, throughput: 0.25 } as const;
/** An error rate at or above this scores 0. */
const ERROR_RATE_FLOOR = 0.25;
/** A latency percentile this many times the baseline's scores 0 (linear in between). */
const LATENCY_RATIO_FLOOR = 3;

const clamp = (value: number) => Math.min(1, Math.max(0, value));

/** HEALTHY > 0.9, WARNING 0.7–0.9, CRITICAL 0.5–0.7, FAILING < 0.5. */
export function healthState(score: number): HealthState {
  if (score > 0.9) return 'HEALTHY';
  if (score >= 0.7) return 'WARNING';
  if (score >= 0.5) return 'CRITICAL';
  return 'FAILING';
}

function ratio(current: number | null, baseline: number | null): number {
  if (current === null || baseline === null || baseline <= 0) return 1;
  return current / baseline;
}

/**
 * Errors: linear from 0 % (1) to 25 % (0), absolute, because a failure is a failure whatever
 * the baseline was. Latency: the p50/p95/p99 ratios to the baseline (weighted 0.2/0.5/0.3),
 * 1 at or below the baseline, 0 at three times it. Throughput: |ln(rate ratio)|, 0 at a
 * quarter (or four times) of the baseline rate; a system with no traffic at all scores 0.
 * Without a baseline (a new system) latency and throughput score 1: nothing to compare.
 */
export function computeHealth(current: WindowStats, baseline: WindowStats | null): HealthBreakdown {
  const errorRate = current.count ? current.errors / current.count : 0;
  const errorScore = clamp(1 - errorRate / ERROR_RATE_FLOOR);
  const latencyRatio = {
    p50: baseline ? ratio(current.p50, baseline.p50) : 1,
    p95: baseline ? ratio(current.p95, baseline.p95) : 1,
    p99: baseline ? ratio(current.p99, baseline.p99) : 1,
  };
  const percentileScore = (value: number) => clamp(1 - (value - 1) / (LATENCY_RATIO_FLOOR - 1));
  const latencyScore = 0.2 * percentileScore(latencyRatio.p50) + 0.5 * percentileScore(latencyRatio.p95) + 0.3 * percentileScore(latencyRatio.p99);
  let throughputRatio = 1;
  let throughputScore = 1;
  if (baseline && baseline.count > 0 && baseline.seconds > 0 && current.seconds > 0) {
    throughputRatio = current.count / current.seconds / (baseline.count / baseline.seconds);
    throughputScore = throughputRatio === 0 ? 0 : clamp(1 - Math.abs(Math.log(throughputRatio)) / Math.log(4));
  } else if (current.count === 0) {
    throughputScore = 0;
  }
  const score = clamp(HEALTH_WEIGHTS.errors * errorScore + HEALTH_WEIGHTS.latency * latencyScore + HEALTH_WEIGHTS.throughput * throughputScore);
  return { score, state: healthState(score), errorRate, errorScore, latencyScore, throughputScore, latencyRatio, throughputRatio };
}

/** Share of the score the metric components take when the system has spans as well. */
export const METRICS_SHARE = 0.3;

/**
 * Weighs metric components into a span-based health: (1 − 0.3)·spans + 0.3·metrics. A system
 * with metrics but no spans in either window is judged by its metrics alone (its span part
 * would only say "no traffic"). Without metric components the span health is returned as is.
 */
export function withMetrics(health: HealthBreakdown, metrics: MetricHealth | null, hasSpans: boolean): HealthBreakdown {
  if (!metrics) return health;
  const share = hasSpans ? METRICS_SHARE : 1;
  // Metrics can lower the span health, never raise it: a confirmed sick route stays sick whatever the metrics say.
  const score = hasSpans ? Math.min(health.score, clamp((1 - share) * health.score + share * metrics.score)) : clamp(metrics.score);
  return { ...health, score, state: healthState(score), spanScore: health.score, metrics: { ...metrics, share } };
}
