/**
 * More seeds of the model test: `npm run fuzz -- --seeds 200 [--from 1] [--instances 6]`.
 * Runs on PGlite, or on the PostgreSQL server of DATABASE_URL (a fresh database per run).
 * Prints each failing seed with what differed; exits 1 if any failed.
 */
import { parseArgs } from 'node:util';
import { CI_FAULTS, modelRegistry, NO_FAULTS, runModel } from '../test/support/model/model-run.js';
import { createTestApp } from '../test/support/test-app.js';
import { createTwoNodes } from '../test/support/two-nodes.js';

const { values } = parseArgs({
  options: { seeds: { type: 'string', default: '20' }, from: { type: 'string', default: '1' }, instances: { type: 'string', default: '6' } },
});
const seeds = Number(values.seeds);
const from = Number(values.from);
const instances = Number(values.instances);

const two = await createTwoNodes({ registry: modelRegistry });
const single = await createTestApp({ registry: modelRegistry() });
const failed: number[] = [];
let totalInstances = 0;
let totalFaults = 0;
try {
  for (let seed = from; seed < from + seeds; seed++) {
    const reference = await runModel([single], seed, { instances, faults: NO_FAULTS });
    const faulty = await runModel(two.nodes, seed, { instances, faults: CI_FAULTS });
    totalInstances += instances;
    totalFaults += faulty.faults;
    const problems = [...reference.serverErrors.map((error) => `reference: ${error}`), ...faulty.serverErrors];
    for (const [key, path] of Object.entries(reference.paths)) {
      if (JSON.stringify(faulty.paths[key]) !== JSON.stringify(path)) {
        problems.push(`${key}: expected ${JSON.stringify(path)}, got ${JSON.stringify(faulty.paths[key])}`);
      }
    }
    if (problems.length) {
      failed.push(seed);
      console.log(`seed ${seed} FAILED\n  ${problems.join('\n  ')}`);
    } else {
      console.log(`seed ${seed} ok (${faulty.actions} actions, ${faulty.faults} faults)`);
    }
  }
} finally {
  await two.dispose();
  await single.dispose();
}
console.log(`${seeds} seeds, ${totalInstances} instances, ${totalFaults} faults injected; failing seeds: ${failed.length ? failed.join(' ') : 'none'}`);
process.exit(failed.length ? 1 : 0);
