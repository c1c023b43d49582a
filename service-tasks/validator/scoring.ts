import type { PhaseResult } from '../../src/store/validation-runs.js';

export interface Verdict {
  score: number;
  gate: number;
  passed: boolean;
  /** How many phases were scored (none: nothing was validated, and the gate fails). */
  phaseCount: number;
  /** The heaviest phases that together carry 80 % of the weight: all of them must pass. */
  vitalFew: string[];
  /** Phases not run because the repository lacks their script. */
  skipped: string[];
  /** Required phases that did not pass. */
  requiredFailed: string[];
  /** Phases of the vital few, not required, that did not pass (failed or skipped). */
  vitalFailed: string[];
  reasons: string[];
}

/**
 * 80/20 scoring: the overall score is the weighted mean of the phase scores; the gate
 * passes when the score reaches `gate`, every required phase passed, and every phase of
 * the vital few (the heaviest ones that carry 80 % of the total weight) passed.
 *
 * A skipped phase (a non-required phase whose script the repository lacks) keeps its
 * weight and scores 0: missing work is never a pass, so it lowers the score like a
 * failure would, and a skipped phase among the vital few fails the gate. Only a
 * non-required, non-vital phase can be skipped with the gate still passing.
 */
export function score(phases: PhaseResult[], gate: number): Verdict {
  const weighted = phases.filter((phase) => phase.weight > 0);
  const total = weighted.reduce((sum, phase) => sum + phase.weight, 0);
  const value = total ? weighted.reduce((sum, phase) => sum + phase.weight * phase.score, 0) / total : 0;
  const vitalFew: string[] = [];
  let covered = 0;
  for (const phase of [...weighted].sort((a, b) => b.weight - a.weight || a.name.localeCompare(b.name))) {
    if (covered >= 0.8 * total) break;
    vitalFew.push(phase.name);
    covered += phase.weight;
  }
  const reasons: string[] = [];
  const rounded = Math.round(value * 1000) / 1000;
  if (rounded < gate) reasons.push(`score ${rounded} is below the gate ${gate}`);
  const requiredFailed = phases.filter((phase) => phase.required && !phase.passed).map((phase) => phase.name);
  for (const name of requiredFailed) reasons.push(`required phase ${name} failed`);
  const vitalFailed: string[] = [];
  for (const name of vitalFew) {
    const phase = phases.find((candidate) => candidate.name === name)!;
    if (phase.passed || phase.required) continue;
    vitalFailed.push(name);
    reasons.push(`vital phase ${name} ${phase.skipped ? 'was skipped' : 'failed'}`);
  }
  const skipped = phases.filter((phase) => phase.skipped).map((phase) => phase.name);
  return { score: rounded, gate, passed: reasons.length === 0 && phases.length > 0, phaseCount: phases.length, vitalFew, skipped, requiredFailed, vitalFailed, reasons };
}
