import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The layering, written down once. A file's layer comes from where it lives; a layer may
 * import itself and the layers listed for it, nothing else. Arrows run downwards:
 *
 *   app (src/app.ts, src/cli)          composes everything
 *   modules (src/modules/*)            each product module's index: topics, routes, tables, listeners
 *   api (src/api)                      routers: talk to the engine facade or a module's service
 *   service-tasks                      the built-in modules' logic (never the api)
 *   services (alerts, decisions, forms, telemetry)
 *   engine (src/engine)                runs BPMN; asks the store
 *   store (src/store)                  the only SQL; imports nothing above it
 *   base (src/errors.ts, src/config.ts, src/types)
 */
const LAYERS = {
  app: ['modules', 'api', 'service-tasks', 'services', 'engine', 'store', 'base'],
  modules: ['api', 'service-tasks', 'services', 'engine', 'store', 'base'],
  api: ['service-tasks', 'services', 'engine', 'base'],
  'service-tasks': ['services', 'engine', 'store', 'base'],
  services: ['engine', 'store', 'base'],
  engine: ['store', 'base'],
  store: ['base'],
  base: [],
} as const satisfies Record<string, readonly string[]>;
type Layer = keyof typeof LAYERS;

/** Narrow seams a lower layer may reach above it, each for a stated reason. */
const SEAMS: Array<{ from: Layer; to: string; why: string }> = [
  { from: 'store', to: 'src/engine/types.ts', why: 'the shapes shared by the engine, the store and the API (instance status, transition outcome)' },
  { from: 'base', to: 'src/engine/timer-schedule.ts', why: 'config checks the cadence settings with the engine\'s own timer parser' },
  { from: 'engine', to: 'service-tasks/registry.ts', why: 'engine -> service-tasks only through the registry (DESIGN.md)' },
  { from: 'engine', to: 'service-tasks/entropy/ports.ts', why: "the engine implements the entropy module's EngineControl port" },
];

/**
 * Arrows that point the wrong way today, file -> file. The list may only shrink: an arrow
 * not listed fails, and so does a listed one that is gone (delete its line).
 */
const KNOWN_WRONG: string[] = [
  'service-tasks/validator/otlp-capture.ts -> src/api/otlp-router.ts',
  'service-tasks/validator/otlp-capture.ts -> src/api/problem.ts',
  'src/api/alerts-router.ts -> src/store/alerts.ts',
  'src/api/audit.ts -> src/store/audit-entries.ts',
  'src/api/camunda/camunda-errors.ts -> src/store/database.ts',
  'src/api/camunda/camunda-shapes.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/decision-definition-router.ts -> src/store/decisions.ts',
  'src/api/camunda/deployment-router.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/external-task-router.ts -> src/store/external-tasks.ts',
  'src/api/camunda/form-router.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/form-router.ts -> src/store/definitions.ts',
  'src/api/camunda/history-router.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/incident-router.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/incident-router.ts -> src/store/incidents.ts',
  'src/api/camunda/message-router.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/process-definition-router.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/process-definition-router.ts -> src/store/definitions.ts',
  'src/api/camunda/process-instance-router.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/task-router.ts -> src/store/camunda-queries.ts',
  'src/api/camunda/task-router.ts -> src/store/queries.ts',
  'src/api/decisions-router.ts -> src/store/decisions.ts',
  'src/api/forms-router.ts -> src/store/definitions.ts',
  'src/api/http-server.ts -> src/store/database.ts',
  'src/api/idempotency.ts -> src/store/audit-entries.ts',
  'src/api/monitored-systems-router.ts -> src/store/monitored-systems.ts',
  'src/api/native-router.ts -> src/store/audit-entries.ts',
  'src/api/native-router.ts -> src/store/definitions.ts',
  'src/api/native-router.ts -> src/store/incidents.ts',
  'src/api/native-router.ts -> src/store/instance-list.ts',
  'src/api/native-router.ts -> src/store/queries.ts',
  'src/api/otlp-router.ts -> src/store/metric-points.ts',
  'src/api/otlp-router.ts -> src/store/spans.ts',
  'src/api/patterns-router.ts -> src/store/incident-decisions.ts',
  'src/api/patterns-router.ts -> src/store/patterns.ts',
  'src/api/patterns-router.ts -> src/store/queries.ts',
  'src/api/problem.ts -> src/store/database.ts',
  'src/api/ui-router.ts -> src/store/activity-stats.ts',
  'src/api/ui-router.ts -> src/store/definitions.ts',
  'src/api/validation-runs-router.ts -> src/store/validation-runs.ts',
  'src/store/entropy-measurements.ts -> service-tasks/entropy/ports.ts',
  'src/store/entropy-store.ts -> service-tasks/entropy/ports.ts',
  'src/store/learning.ts -> service-tasks/entropy/ports.ts',
  'src/store/metric-points.ts -> service-tasks/entropy/ports.ts',
  'src/store/span-metrics.ts -> service-tasks/entropy/ports.ts',
];

const root = resolve(import.meta.dirname, '../..');

export function layerOf(file: string): Layer | undefined {
  if (file === 'src/app.ts' || file.startsWith('src/cli/')) return 'app';
  if (file.startsWith('src/modules/')) return 'modules';
  if (file.startsWith('src/api/')) return 'api';
  if (file.startsWith('service-tasks/')) return 'service-tasks';
  if (/^src\/(alerts|decisions|forms|telemetry)\//.test(file)) return 'services';
  if (file.startsWith('src/engine/')) return 'engine';
  if (file.startsWith('src/store/')) return 'store';
  if (file === 'src/errors.ts' || file === 'src/config.ts' || file.startsWith('src/types/')) return 'base';
  return undefined;
}

/** Every relative import (static, `export … from`, `import()`, type-only) of the given files, as `from -> to` repository paths. */
export function importsOf(files: Array<{ path: string; text: string }>): string[] {
  const arrows: string[] = [];
  for (const { path, text } of files) {
    for (const imported of ts.preProcessFile(text, true, true).importedFiles) {
      if (!imported.fileName.startsWith('.')) continue;
      const target = posix.normalize(posix.join(posix.dirname(path), imported.fileName)).replace(/\.js$/, '.ts');
      arrows.push(`${path} -> ${target}`);
    }
  }
  return arrows;
}

/** The arrows that break the layering (seams aside). */
export function wrongArrows(arrows: string[]): string[] {
  return arrows.filter((arrow) => {
    const [from, to] = arrow.split(' -> ') as [string, string];
    const fromLayer = layerOf(from);
    const toLayer = layerOf(to);
    if (!fromLayer || !toLayer || fromLayer === toLayer) return false;
    if ((LAYERS[fromLayer] as readonly string[]).includes(toLayer)) return false;
    return !SEAMS.some((seam) => seam.from === fromLayer && seam.to === to);
  });
}

function sourceFiles(folder: string): Array<{ path: string; text: string }> {
  return readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => {
      const path = relative(root, join(entry.parentPath, entry.name)).split('\\').join('/');
      return { path, text: readFileSync(join(root, path), 'utf8') };
    });
}

describe('import arrows', () => {
  const files = [...sourceFiles('src'), ...sourceFiles('service-tasks')];
  const arrows = [...new Set(importsOf(files))];
  const wrong = wrongArrows(arrows);

  it('when a file imports a layer above its own, then the arrow is refused (unless it is a known one being removed)', () => {
    expect(wrong.filter((arrow) => !KNOWN_WRONG.includes(arrow)).sort()).toEqual([]);
  });

  it('when a known wrong arrow is gone, then its line is deleted from the list (the list only shrinks)', () => {
    expect(KNOWN_WRONG.filter((arrow) => !wrong.includes(arrow))).toEqual([]);
  });

  it('when the scanner reads a store file importing the api or service-tasks importing the api, then it reports both; type-only and re-exports count', () => {
    const found = wrongArrows(
      importsOf([
        { path: 'src/store/things.ts', text: "import type { X } from '../api/problem.js';\nexport { y } from '../engine/transitions.js';" },
        { path: 'service-tasks/foo/bar.ts', text: "const m = await import('../../src/api/otlp-router.js');" },
        { path: 'src/api/things-router.ts', text: "import { engine } from '../engine/workflow-engine.js';" },
        { path: 'src/store/rows.ts', text: "import type { InstanceStatus } from '../engine/types.js';" },
      ]),
    );
    expect(found).toEqual([
      'src/store/things.ts -> src/api/problem.ts',
      'src/store/things.ts -> src/engine/transitions.ts',
      'service-tasks/foo/bar.ts -> src/api/otlp-router.ts',
    ]);
  });

  it('when a file is added anywhere under src/ or service-tasks/, then it belongs to a layer of the table', () => {
    expect(files.map((file) => file.path).filter((path) => !layerOf(path))).toEqual([]);
  });
});
