/** The entropy score and its level, exactly as the charter of the module defines them. */

export const ENTROPY_LEVELS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type EntropyLevel = (typeof ENTROPY_LEVELS)[number];

/** 0.4·(1 − health) + 0.3·min(1, drift/5) + 0.3·min(1, validationErrors/10), in 0..1. */
export function entropyScore(input: { health: number; drift: number; validationErrors: number }): number {
  const health = Math.min(1, Math.max(0, input.health));
  const drift = Math.max(0, input.drift);
  const errors = Math.max(0, input.validationErrors);
  return 0.4 * (1 - health) + 0.3 * Math.min(1, drift / 5) + 0.3 * Math.min(1, errors / 10);
}

/** LOW < 0.3 ≤ MEDIUM < 0.6 ≤ HIGH < 0.8 ≤ CRITICAL. */
export function entropyLevel(score: number): EntropyLevel {
  if (score < 0.3) return 'LOW';
  if (score < 0.6) return 'MEDIUM';
  if (score < 0.8) return 'HIGH';
  return 'CRITICAL';
}

/**
 * The lowest entropy at which a regeneration cycle may act. Below the LOW/MEDIUM boundary a
 * healthy system's entropy is noise: one indicator firing by chance adds 0.06, health at the
 * HEALTHY/WARNING edge 0.04, so a lower threshold would run strategies (and roll production
 * back) on chance. LOW strategies stay available to the phases run by hand.
 */
export const MIN_REGENERATION_THRESHOLD = 0.3;
