import { readFileSync, writeFileSync } from 'node:fs';
import { layoutProcess } from 'bpmn-auto-layout';
for (const file of process.argv.slice(2)) {
  const xml = readFileSync(file, 'utf8');
  writeFileSync(file.replace('.bpmn', '.laid.bpmn'), await layoutProcess(xml));
}
