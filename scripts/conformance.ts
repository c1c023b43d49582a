/** `npm run conformance -- <folder>`: a table of import, round trip, deploy and run per file. */
import { checkConformance, summarise } from './conformance-check.js';

const folder = process.argv[2];
if (!folder) {
  console.error('usage: npm run conformance -- <folder with .bpmn files>');
  process.exit(2);
}
const rows = await checkConformance(folder);
const mark = (ok: boolean) => (ok ? 'yes' : 'NO');
console.log(`${'file'.padEnd(14)} ${'import'.padEnd(7)} ${'round trip'.padEnd(11)} ${'deploy'.padEnd(22)} run`);
for (const row of rows) {
  const run = row.runs.length
    ? row.runs.map((entry) => `${entry.processKey}: ${entry.result}${entry.detail ? ` (${entry.detail})` : ''}`).join('; ')
    : row.deploy === 'stored-not-executable'
      ? 'not executable: stored, not run'
      : (row.deployDetail ?? '');
  console.log(`${row.file.padEnd(14)} ${mark(row.imported).padEnd(7)} ${mark(row.roundTrip).padEnd(11)} ${row.deploy.padEnd(22)} ${run}`);
  if (row.roundTripDetail) console.log(`${''.padEnd(14)} round trip: ${row.roundTripDetail}`);
}
console.log('');
console.log(summarise(rows));
process.exit(rows.every((row) => row.imported) ? 0 : 1);
