import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpmnModdle } from 'bpmn-moddle';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { normalizeNamespaces } from '../src/engine/definitions/namespaces.js';
import { AppError } from '../src/errors.js';

const require = createRequire(import.meta.url);
const camundaSchema = require('camunda-bpmn-moddle/resources/camunda.json');

export interface ConformanceRow {
  file: string;
  imported: boolean;
  roundTrip: boolean;
  roundTripDetail?: string;
  deploy: 'ok' | 'stored-not-executable' | 'rejected';
  deployDetail?: string;
  runs: Array<{ processKey: string; result: 'completed' | 'waiting' | 'failed'; detail?: string }>;
}

/** Every element as `id:type`, in document order: what a round trip must keep. */
function elementsOf(root: unknown): string[] {
  const seen = new Set<unknown>();
  const out: string[] = [];
  const visit = (node: any) => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (typeof node.$type === 'string' && typeof node.id === 'string') out.push(`${node.id}:${node.$type}`);
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('$') || key.endsWith('Ref') || key === 'incoming' || key === 'outgoing' || key === 'bpmnElement') continue;
      if (Array.isArray(value)) value.forEach(visit);
      else if (value && typeof value === 'object') visit(value);
    }
  };
  visit(root);
  return out.sort();
}

/**
 * Imports, round-trips, deploys and runs every .bpmn of a folder on a throw-away engine
 * (in-memory PGlite). Non-executable processes are stored and reported, not run.
 */
export async function checkConformance(folder: string): Promise<ConformanceRow[]> {
  const files = readdirSync(folder)
    .filter((file) => file.endsWith('.bpmn'))
    .sort();
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-conformance-'));
  const app = await createApp(loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: dataDir, DATABASE_URL: '' }), {
    inMemoryDatabase: true,
    log: () => {},
  });
  const rows: ConformanceRow[] = [];
  try {
    for (const file of files) {
      const xml = readFileSync(join(folder, file), 'utf8');
      const row: ConformanceRow = { file, imported: false, roundTrip: false, deploy: 'rejected', runs: [] };
      rows.push(row);
      const moddle = new BpmnModdle({ camunda: camundaSchema });
      let parsed: Awaited<ReturnType<BpmnModdle['fromXML']>>;
      try {
        parsed = await moddle.fromXML(normalizeNamespaces(xml)); // as the engine imports it
        row.imported = true;
      } catch (error) {
        row.deployDetail = `import: ${(error as Error).message}`;
        continue;
      }
      try {
        const { xml: written } = await moddle.toXML(parsed.rootElement, { format: true });
        const again = await new BpmnModdle({ camunda: camundaSchema }).fromXML(written);
        row.roundTrip = JSON.stringify(elementsOf(parsed.rootElement)) === JSON.stringify(elementsOf(again.rootElement));
      } catch (error) {
        row.roundTripDetail = (error as Error).message;
      }
      try {
        const deployment = await app.engine.deploy([{ name: file, xml }], { source: 'conformance' });
        const executable = deployment.definitions.filter((definition) => definition.executable);
        row.deploy = executable.length ? 'ok' : 'stored-not-executable';
        for (const definition of executable) {
          try {
            const instance = await app.engine.start({ definitionId: definition.id });
            const waits = await waitsOf(app.database.knex, instance.id);
            row.runs.push({
              processKey: definition.key,
              result: instance.status === 'completed' ? 'completed' : 'waiting',
              detail: instance.status === 'completed' ? undefined : waits,
            });
          } catch (error) {
            row.runs.push({ processKey: definition.key, result: 'failed', detail: (error as Error).message });
          }
        }
      } catch (error) {
        row.deploy = 'rejected';
        row.deployDetail = error instanceof AppError ? error.message : String(error);
      }
    }
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

async function waitsOf(knex: ReturnType<typeof createApp> extends Promise<infer A> ? A extends { database: { knex: infer K } } ? K : never : never, instanceId: string): Promise<string> {
  const parts: string[] = [];
  for (const [table, label] of [
    ['user_tasks', 'user task'],
    ['external_tasks', 'external task'],
    ['jobs', 'timer'],
    ['subscriptions', 'subscription'],
  ] as const) {
    const activities: string[] = await knex(table).where({ instance_id: instanceId }).pluck('activity_id');
    for (const activity of activities) parts.push(`${label} ${activity}`);
  }
  return parts.join(', ') || 'nothing (stalled)';
}

export function summarise(rows: ConformanceRow[]): string {
  const runs = rows.flatMap((row) => row.runs);
  const stored = rows.filter((row) => row.deploy === 'stored-not-executable').length;
  const deployed = rows.filter((row) => row.deploy !== 'rejected').length;
  return (
    `import ${rows.filter((row) => row.imported).length}/${rows.length}, ` +
    `round trip ${rows.filter((row) => row.roundTrip).length}/${rows.length}, ` +
    `deploy ${deployed}/${rows.length} (stored ${stored} not executable), ` +
    `run ${runs.filter((run) => run.result !== 'failed').length}/${runs.length} ` +
    `(completed ${runs.filter((run) => run.result === 'completed').length}, waiting ${runs.filter((run) => run.result === 'waiting').length})`
  );
}
