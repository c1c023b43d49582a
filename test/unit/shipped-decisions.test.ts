import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateDrg, lintDecisions, parseDmn } from '../../src/decisions/index.js';
import { loadConfig } from '../../src/config.js';
import { proposeRoute } from '../../service-tasks/incident/analyse.js';
import { ENTROPY_LEVELS, entropyLevel } from '../../service-tasks/entropy/entropy-score.js';
import { STRATEGIES, strategiesFor } from '../../service-tasks/entropy/strategies.js';
import { score } from '../../service-tasks/validator/scoring.js';
import type { PhaseResult } from '../../src/store/validation-runs.js';
import { repositoryRoot } from '../support/server-process.js';

const shipped = (file: string) => parseDmn(file, readFileSync(join(repositoryRoot, 'processes', file), 'utf8'));

/** Confidences from 0 to 1 in steps of 0.005, and either side of every threshold. */
function confidences(thresholds: number[]): number[] {
  const grid = Array.from({ length: 201 }, (_, n) => n / 200);
  return [...grid, ...thresholds.flatMap((threshold) => [threshold - 1e-9, threshold, threshold + 1e-9])].filter((value) => value >= 0 && value <= 1);
}

describe('policy tables shipped in processes/', () => {
  const levelOf = { auto: 'automatic', approve: 'approval', manual: 'person' } as const;

  it('when incident-automation-level.dmn is read, then it lints clean and agrees with incident.analyse at every confidence, threshold and telemetry', async () => {
    const drg = await shipped('incident-automation-level.dmn');
    expect(lintDecisions(drg)).toEqual([]);
    const config = loadConfig({});
    const thresholdPairs: Array<[number, number]> = [
      [config.REGENFLOW_INCIDENT_AUTO_CONFIDENCE, config.REGENFLOW_INCIDENT_REVIEW_CONFIDENCE],
      [0.95, 0.5],
      [0.5, 0.5],
    ];
    const disagreements = [];
    for (const [auto, review] of thresholdPairs) {
      const scores = [...Array.from({ length: 21 }, (_, n) => n / 20), ...[auto, review].flatMap((threshold) => [threshold - 1e-9, threshold, threshold + 1e-9])];
      for (const score of scores.filter((value) => value >= 0 && value <= 1)) {
        for (const telemetry of ['consistent', 'contradicting']) {
          // What analyse records and hands the table (confidence capped, confidenceCappedBy, thresholds).
          const proposed = proposeRoute({ score, telemetry }, auto, review);
          const variables = { confidence: proposed.confidence, confidenceCappedBy: proposed.capped ? 'telemetry' : null, autoThreshold: auto, reviewThreshold: review };
          const table = evaluateDrg(drg, 'incident-automation-level', variables).result[0]?.automationLevel;
          if (table !== levelOf[proposed.proposedRoute]) disagreements.push({ auto, review, score, telemetry, table, recorded: proposed.proposedRoute });
          if (telemetry === 'contradicting' && table === 'automatic') disagreements.push({ auto, review, score, telemetry, table, reason: 'contradicted fix automatic' });
        }
      }
    }
    expect(disagreements).toEqual([]);
    expect(evaluateDrg(drg, 'incident-automation-level', { confidence: null, confidenceCappedBy: null, autoThreshold: 0.9, reviewThreshold: 0.5 }).result).toEqual([
      { automationLevel: 'person' },
    ]);
  });

  it('when the automatic threshold is 0.95 and telemetry contradicts a 0.97 fix, then the table and the recorded decision both say approval, never automatic', async () => {
    const drg = await shipped('incident-automation-level.dmn');
    const proposed = proposeRoute({ score: 0.97, telemetry: 'contradicting' }, 0.95, 0.5);
    expect(proposed).toEqual({ confidence: 0.95, capped: true, proposedRoute: 'approve' });
    const variables = { confidence: 0.95, confidenceCappedBy: 'telemetry', autoThreshold: 0.95, reviewThreshold: 0.5 };
    expect(evaluateDrg(drg, 'incident-automation-level', variables).result).toEqual([{ automationLevel: 'approval' }]);
    // Even a capped confidence above the automatic threshold (a table input set by hand) is not automatic.
    expect(evaluateDrg(drg, 'incident-automation-level', { ...variables, confidence: 0.99 }).result).toEqual([{ automationLevel: 'approval' }]);
  });

  it('when evolution-confidence-gate.dmn is read, then it lints clean and evolves only above 80 %', async () => {
    const drg = await shipped('evolution-confidence-gate.dmn');
    expect(lintDecisions(drg)).toEqual([]);
    const evolve = (successProbability: number | null) => evaluateDrg(drg, 'evolution-confidence-gate', { successProbability }).result[0]?.evolve;
    const disagreements = confidences([0.8]).filter((probability) => evolve(probability) !== probability > 0.8);
    expect(disagreements).toEqual([]);
    expect(evolve(null)).toBe(false);
  });

  it('when feature-review-gate.dmn is read, then it lints clean and accepts at 0.7, refines below it for three rounds, then abandons', async () => {
    const drg = await shipped('feature-review-gate.dmn');
    expect(lintDecisions(drg)).toEqual([]);
    const outcome = (quality: number | null, reviewRound: number | null) => evaluateDrg(drg, 'feature-review-gate', { quality, reviewRound }).result[0]?.reviewOutcome;
    // What feature-lifecycle's gateway decided in code before the table: quality >= 0.7, else refine while reviewRound < 3.
    const expected = (quality: number, round: number) => (quality >= 0.7 ? 'accept' : round < 3 ? 'refine' : 'abandon');
    const disagreements = [];
    for (const quality of confidences([0.7])) for (const round of [0, 1, 2, 3, 4, 10]) if (outcome(quality, round) !== expected(quality, round)) disagreements.push({ quality, round, table: outcome(quality, round) });
    expect(disagreements).toEqual([]);
    // A review without a quality is below the bar; a missing round count is the first round.
    expect([outcome(null, 0), outcome(null, 3), outcome(0.9, null), outcome(0.2, null)]).toEqual(['refine', 'abandon', 'accept', 'refine']);
  });

  it('when entropy-level.dmn is read, then it lints clean and gives the level the measurement reports at every entropy', async () => {
    const drg = await shipped('entropy-level.dmn');
    expect(lintDecisions(drg)).toEqual([]);
    const level = (entropy: number | null) => evaluateDrg(drg, 'entropy-level', { entropy }).result[0]?.level;
    const disagreements = confidences([0.3, 0.6, 0.8]).filter((entropy) => level(entropy) !== entropyLevel(entropy));
    expect(disagreements).toEqual([]);
    expect([level(0), level(0.3), level(0.6), level(0.8), level(1)]).toEqual(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'CRITICAL']);
  });

  it('when the regeneration-strategies table is asked for each level, for a service and for one of regenflow\'s own processes, then it offers the strategies the catalogue lists', async () => {
    const drg = await shipped('entropy-level.dmn');
    const offered = (level: string, system: string) => evaluateDrg(drg, 'regeneration-strategies', { level, system }).result.map((row) => row.strategyId).sort();
    const disagreements = [];
    for (const level of ENTROPY_LEVELS) {
      for (const system of ['shop', 'regenflow/orders', 'regenflow-shop']) {
        const catalogue = strategiesFor(level, system).map((strategy) => strategy.id).sort();
        if (JSON.stringify(offered(level, system)) !== JSON.stringify(catalogue)) disagreements.push({ level, system, table: offered(level, system), catalogue });
      }
    }
    expect(disagreements).toEqual([]);
    // Every strategy of the catalogue is offered somewhere, and the table names no strategy the catalogue lacks.
    const named = new Set(ENTROPY_LEVELS.flatMap((level) => [...offered(level, 'shop'), ...offered(level, 'regenflow/orders')]));
    expect([...named].sort()).toEqual(STRATEGIES.map((strategy) => strategy.id).sort());
    expect(offered('UNKNOWN', 'shop')).toEqual([]);
  });

  it('when ci-quality-gate.dmn is read, then it lints clean and agrees with the 80/20 rule on every kind of run', async () => {
    const drg = await shipped('ci-quality-gate.dmn');
    expect(lintDecisions(drg)).toEqual([]);
    const judged = (validation: object) => evaluateDrg(drg, 'ci-quality-gate', { validation }).result[0]?.gatePassed;
    // Runs of 0-9 phases: weights 0-5, some required, passed, failed or skipped, scores partial too; gates at the edges and between.
    let state = 20261207;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const runs: PhaseResult[][] = [[]];
    for (let run = 0; run < 400; run++) {
      runs.push(
        Array.from({ length: 1 + Math.floor(random() * 9) }, (_, index) => {
          const outcome = pick(['passed', 'passed', 'passed', 'failed', 'skipped', 'partial'] as const);
          const phaseScore = outcome === 'passed' ? 1 : outcome === 'partial' ? pick([0.5, 0.79, 0.8, 0.95]) : 0;
          return { name: `phase${index}`, passed: outcome === 'passed' || (outcome === 'partial' && phaseScore >= 0.8), score: phaseScore, weight: pick([0, 1, 1, 2, 3, 5]), required: random() < 0.25, durationMs: 1, summary: outcome, skipped: outcome === 'skipped' };
        }),
      );
    }
    const disagreements = [];
    const outcomes = { passed: 0, failed: 0 };
    for (const phases of runs) {
      for (const gate of [0, 0.5, 0.8, 0.9, 1]) {
        const verdict = score(phases, gate);
        outcomes[verdict.passed ? 'passed' : 'failed']++;
        const table = judged(verdict);
        if (table !== verdict.passed) disagreements.push({ phases: phases.map((phase) => phase.summary), gate, rule: verdict.passed, table, reasons: verdict.reasons });
      }
    }
    expect(disagreements.slice(0, 5)).toEqual([]);
    // Both answers are well represented, so the agreement says something.
    expect(Math.min(outcomes.passed, outcomes.failed)).toBeGreaterThan(300);
    // A run without a score (a variable set by hand) fails.
    expect(judged({ phaseCount: 3, requiredFailed: [], vitalFailed: [], score: null, gate: 0.8 })).toBe(false);
  });

  it('when every .dmn in processes/ is read, then each lints clean and each shipped process that calls a decision finds it there', async () => {
    const { readdirSync } = await import('node:fs');
    const files = readdirSync(join(repositoryRoot, 'processes'));
    const keys = new Set<string>();
    for (const file of files.filter((name) => name.endsWith('.dmn'))) {
      const drg = await shipped(file);
      expect(lintDecisions(drg)).toEqual([]);
      for (const decision of drg.decisions) keys.add(decision.id);
    }
    const called = files
      .filter((name) => name.endsWith('.bpmn'))
      .flatMap((name) => [...readFileSync(join(repositoryRoot, 'processes', name), 'utf8').matchAll(/camunda:decisionRef="([^"]+)"/g)].map((match) => match[1]!));
    expect(called.length).toBeGreaterThanOrEqual(3);
    expect(called.filter((key) => !keys.has(key))).toEqual([]);
  });
});
