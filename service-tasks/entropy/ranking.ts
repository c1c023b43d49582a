/**
 * Ranking of strategies: success probability 40 %, recovery time 30 %, risk 20 %,
 * resources 10 %. The success probability is the mean of a Beta posterior: a prior worth
 * PRIOR_WEIGHT outcomes centred on the catalogue's estimate, updated with every recorded
 * success and failure, so a strategy that keeps failing sinks and one that works rises.
 */
import type { Strategy } from './strategies.js';

export const RANKING_WEIGHTS = { success: 0.4, recovery: 0.3, risk: 0.2, resources: 0.1 } as const;
/** How many outcomes the catalogue's prior is worth. */
export const PRIOR_WEIGHT = 4;
/** Recovery times are scored on a log scale up to this many minutes (8 h scores 0). */
const MAX_RECOVERY_MINUTES = 480;

export interface RankedStrategy {
  id: string;
  name: string;
  level: string;
  score: number;
  successProbability: number;
  /** Beta(α, β) of the success probability. */
  alpha: number;
  beta: number;
  outcomes: number;
  risk: number;
  recoveryMinutes: number;
  resources: number;
}

export function successPosterior(prior: number, counts: { successes: number; failures: number } | undefined): { alpha: number; beta: number; mean: number } {
  const alpha = prior * PRIOR_WEIGHT + (counts?.successes ?? 0);
  const beta = (1 - prior) * PRIOR_WEIGHT + (counts?.failures ?? 0);
  return { alpha, beta, mean: alpha / (alpha + beta) };
}

export function rankStrategies(strategies: Strategy[], outcomes: Map<string, { successes: number; failures: number }>): RankedStrategy[] {
  return strategies
    .map((strategy) => {
      const counts = outcomes.get(strategy.id);
      const posterior = successPosterior(strategy.prior, counts);
      const recoveryScore = 1 - Math.min(1, Math.log1p(strategy.recoveryMinutes) / Math.log1p(MAX_RECOVERY_MINUTES));
      const score =
        RANKING_WEIGHTS.success * posterior.mean +
        RANKING_WEIGHTS.recovery * recoveryScore +
        RANKING_WEIGHTS.risk * (1 - strategy.risk) +
        RANKING_WEIGHTS.resources * (1 - strategy.resources);
      return {
        id: strategy.id,
        name: strategy.name,
        level: strategy.level,
        score,
        successProbability: posterior.mean,
        alpha: posterior.alpha,
        beta: posterior.beta,
        outcomes: (counts?.successes ?? 0) + (counts?.failures ?? 0),
        risk: strategy.risk,
        recoveryMinutes: strategy.recoveryMinutes,
        resources: strategy.resources,
      };
    })
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}
