import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateDrg, lintDecisions, parseDmn } from '../../src/decisions/index.js';
import { loadConfig } from '../../src/config.js';
import { repositoryRoot } from '../support/server-process.js';

const shipped = (file: string) => parseDmn(file, readFileSync(join(repositoryRoot, 'processes', file), 'utf8'));

/** Confidences from 0 to 1 in steps of 0.005, and either side of every threshold. */
function confidences(thresholds: number[]): number[] {
  const grid = Array.from({ length: 201 }, (_, n) => n / 200);
  return [...grid, ...thresholds.flatMap((threshold) => [threshold - 1e-9, threshold, threshold + 1e-9])].filter((value) => value >= 0 && value <= 1);
}

describe('policy tables shipped in processes/', () => {
  it('when incident-automation-level.dmn is read, then it lints clean and agrees with the code thresholds at every confidence', async () => {
    const drg = await shipped('incident-automation-level.dmn');
    expect(lintDecisions(drg)).toEqual([]);
    // The code's rule (service-tasks/incident/analyse.ts proposes the same route from the settings).
    const config = loadConfig({});
    const auto = config.REGENFLOW_INCIDENT_AUTO_CONFIDENCE;
    const review = config.REGENFLOW_INCIDENT_REVIEW_CONFIDENCE;
    const byCode = (confidence: number) => (confidence > auto ? 'automatic' : confidence < review ? 'person' : 'approval');
    const disagreements = confidences([auto, review])
      .map((confidence) => ({ confidence, table: evaluateDrg(drg, 'incident-automation-level', { confidence }).result[0]?.automationLevel, code: byCode(confidence) }))
      .filter((row) => row.table !== row.code);
    expect(disagreements).toEqual([]);
    expect(evaluateDrg(drg, 'incident-automation-level', { confidence: null }).result).toEqual([{ automationLevel: 'person' }]);
  });

  it('when evolution-confidence-gate.dmn is read, then it lints clean and evolves only above 80 %', async () => {
    const drg = await shipped('evolution-confidence-gate.dmn');
    expect(lintDecisions(drg)).toEqual([]);
    const evolve = (successProbability: number | null) => evaluateDrg(drg, 'evolution-confidence-gate', { successProbability }).result[0]?.evolve;
    const disagreements = confidences([0.8]).filter((probability) => evolve(probability) !== probability > 0.8);
    expect(disagreements).toEqual([]);
    expect(evolve(null)).toBe(false);
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
    expect(called.length).toBeGreaterThanOrEqual(2);
    expect(called.filter((key) => !keys.has(key))).toEqual([]);
  });
});
