import { join } from 'node:path';
import { checkConformance, summarise } from '../../scripts/conformance-check.js';
import { repositoryRoot } from '../support/server-process.js';

/** The 21 OMG MIWG reference models, read from ../shared beside the checkout (CI has it too). */
const MIWG = join(repositoryRoot, '..', 'shared', 'conformance', 'miwg');

describe('MIWG conformance', () => {
  it('when the reference models are deployed, then all import and round-trip, and every executable one runs or is refused by name', async () => {
    const rows = await checkConformance(MIWG);
    console.log(summarise(rows));
    expect(rows).toHaveLength(21);
    expect(rows.every((row) => row.imported)).toBe(true);
    expect(rows.every((row) => row.roundTrip)).toBe(true);
    for (const row of rows.filter((candidate) => candidate.deploy === 'rejected')) {
      // A refusal names an element and a rule: "<id> (<rule>): <message>".
      expect(row.deployDetail).toMatch(/was rejected: \S+ \([\w-]+\): /);
    }
    // Refused by name: C.3.0 (a sub-process without a start event, unconditioned splits) and
    // C.1.0/C.1.1, whose execution listener calls a bean method (`${genderBean.getGenderString(gender)}`):
    // expressions are checked wherever they stand, and method calls are never evaluated.
    expect(rows.filter((row) => row.deploy === 'rejected').map((row) => row.file).sort()).toEqual(['C.1.0.bpmn', 'C.1.1.bpmn', 'C.3.0.bpmn']);
    for (const file of ['C.1.0.bpmn', 'C.1.1.bpmn']) {
      expect(rows.find((row) => row.file === file)?.deployDetail).toMatch(/archiveInvoice \(expression\): .*method calls are not allowed/);
    }
    const runs = rows.flatMap((row) => row.runs);
    expect(runs.length).toBeGreaterThanOrEqual(4);
    expect(runs.filter((run) => run.result === 'failed')).toEqual([]);
  }, 120_000);
});
