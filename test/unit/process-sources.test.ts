import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { BpmnModdle } from 'bpmn-moddle';
import { repositoryRoot } from '../support/server-process.js';

/**
 * The entropy processes are kept without layout in scripts/process-sources/ and laid out into
 * processes/ by scripts/layout-bpmn.ts. A change made to the shipped file only (a start form, a
 * business rule task) is lost at the next layout: the two must say the same apart from layout.
 */
const require = createRequire(import.meta.url);
const moddle = new BpmnModdle({ camunda: require('camunda-bpmn-moddle/resources/camunda.json') });

/** The semantic part of a diagram as XML: each process, without the flows' back-references layout writes. */
async function semantics(xml: string): Promise<string> {
  const { rootElement } = await moddle.fromXML(xml);
  const forget = (elements: Array<{ $type: string; flowElements?: unknown[]; set(name: string, value: unknown): void }> = []) => {
    for (const element of elements) {
      if (element.$type === 'bpmn:SequenceFlow') continue;
      element.set('incoming', []);
      element.set('outgoing', []);
      forget(element.flowElements as typeof elements);
    }
  };
  const processes = rootElement.rootElements.filter((element: { $type: string }) => element.$type === 'bpmn:Process');
  const written: string[] = [];
  for (const process of processes) {
    forget(process.flowElements);
    written.push((await moddle.toXML(process, { format: true })).xml);
  }
  return written.join('\n');
}

describe('process sources', () => {
  it('when a shipped entropy process is compared with its source, then they say the same apart from layout', async () => {
    const sources = join(repositoryRoot, 'scripts', 'process-sources');
    const files = (await readdir(sources)).filter((file) => file.endsWith('.bpmn'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const source = await semantics(await readFile(join(sources, file), 'utf8'));
      const shipped = await semantics(await readFile(join(repositoryRoot, 'processes', file), 'utf8'));
      expect({ file, xml: shipped }).toEqual({ file, xml: source });
    }
  });
});
