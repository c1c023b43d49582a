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
  { from: 'base', to: 'src/engine/timer-schedule.ts', why: 'config checks the cadence settings with the engine\'s own timer parser' },
  { from: 'engine', to: 'service-tasks/registry.ts', why: 'engine -> service-tasks only through the registry (DESIGN.md)' },
  { from: 'engine', to: 'service-tasks/entropy/ports.ts', why: "the engine implements the entropy module's EngineControl port" },
];

/**
 * Layers whose shapes (row and result types, `import type` only) a layer may name without
 * calling into it: the API answers with what the store returns, but asks the engine facade
 * or a module's service for it.
 */
const TYPES_ONLY: Array<{ from: Layer; to: Layer }> = [{ from: 'api', to: 'store' }];

/**
 * Arrows that point the wrong way today, file -> file. The list may only shrink: an arrow
 * not listed fails, and so does a listed one that is gone (delete its line).
 */
const KNOWN_WRONG: string[] = [];

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

/** An import of one file by another; `typeOnly` when every import between them is `import type` / `export type`. */
export interface Arrow {
  arrow: string;
  typeOnly: boolean;
}

/** Every relative import (static, `export … from`, `import()`, type-only) of the given files, as `from -> to` repository paths. */
export function importsOf(files: Array<{ path: string; text: string }>): Arrow[] {
  const arrows = new Map<string, boolean>();
  for (const { path, text } of files) {
    const add = (specifier: string, typeOnly: boolean) => {
      if (!specifier.startsWith('.')) return;
      const target = posix.normalize(posix.join(posix.dirname(path), specifier)).replace(/\.js$/, '.ts');
      const arrow = `${path} -> ${target}`;
      arrows.set(arrow, (arrows.get(arrow) ?? true) && typeOnly);
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        const clause = node.importClause;
        const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
        const typeOnly = Boolean(clause && (clause.isTypeOnly || (!clause.name && named && named.length > 0 && named.every((element) => element.isTypeOnly))));
        add(node.moduleSpecifier.text, typeOnly);
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        add(node.moduleSpecifier.text, node.isTypeOnly);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
        add(node.arguments[0].text, false);
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        add(node.argument.literal.text, true);
      }
      ts.forEachChild(node, visit);
    };
    visit(ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS));
  }
  return [...arrows].map(([arrow, typeOnly]) => ({ arrow, typeOnly }));
}

/** The arrows that break the layering (seams and allowed type-only arrows aside). */
export function wrongArrows(arrows: Arrow[]): string[] {
  return arrows
    .filter(({ arrow, typeOnly }) => {
      const [from, to] = arrow.split(' -> ') as [string, string];
      const fromLayer = layerOf(from);
      const toLayer = layerOf(to);
      if (!fromLayer || !toLayer || fromLayer === toLayer) return false;
      if ((LAYERS[fromLayer] as readonly string[]).includes(toLayer)) return false;
      if (typeOnly && TYPES_ONLY.some((allowed) => allowed.from === fromLayer && allowed.to === toLayer)) return false;
      return !SEAMS.some((seam) => seam.from === fromLayer && seam.to === to);
    })
    .map(({ arrow }) => arrow);
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
  const arrows = importsOf(files);
  const wrong = wrongArrows(arrows);

  it('when a file imports a layer above its own, then the arrow is refused (unless it is a known one being removed)', () => {
    expect(wrong.filter((arrow) => !KNOWN_WRONG.includes(arrow)).sort()).toEqual([]);
  });

  it('when a known wrong arrow is gone, then its line is deleted from the list (the list only shrinks)', () => {
    expect(KNOWN_WRONG.filter((arrow) => !wrong.includes(arrow))).toEqual([]);
  });

  it('when the scanner reads imports pointing up, then it reports each; re-exports and import() count, and type-only ones count except the api naming store rows', () => {
    const found = wrongArrows(
      importsOf([
        { path: 'src/store/things.ts', text: "import type { X } from '../api/problem.js';\nexport { y } from '../engine/transitions.js';" },
        { path: 'service-tasks/foo/bar.ts', text: "const m = await import('../../src/api/otlp-router.js');" },
        { path: 'src/api/things-router.ts', text: "import { engine } from '../engine/workflow-engine.js';" },
        { path: 'src/store/rows.ts', text: "import type { InstanceStatus } from '../engine/types.js';" },
        { path: 'src/api/rows-router.ts', text: "import type { Row } from '../store/rows.js';\nimport { type Other, listRows } from '../store/more-rows.js';\nimport { type A, type B } from '../store/typed.js';" },
        { path: 'src/store/ported.ts', text: "import { type Port } from '../../service-tasks/entropy/ports.js';" },
      ]),
    );
    expect(found).toEqual([
      'src/store/things.ts -> src/api/problem.ts',
      'src/store/things.ts -> src/engine/transitions.ts',
      'service-tasks/foo/bar.ts -> src/api/otlp-router.ts',
      // the store owns what a transition commits: naming the engine's types is pointing up, type-only or not
      'src/store/rows.ts -> src/engine/types.ts',
      'src/api/rows-router.ts -> src/store/more-rows.ts',
      'src/store/ported.ts -> service-tasks/entropy/ports.ts',
    ]);
  });

  it('when an HTTP route needs data, then it asks the engine or a module, never runs a query itself (no knex in src/api)', () => {
    // Not only imports: the engine's knex handle would let a router write SQL without importing the store.
    const querying = /\bknex\s*\(|\.knex\b|\btrx\s*\(/;
    expect(files.filter((file) => layerOf(file.path) === 'api' && querying.test(file.text)).map((file) => file.path)).toEqual([]);
  });

  it('when a file is added anywhere under src/ or service-tasks/, then it belongs to a layer of the table', () => {
    expect(files.map((file) => file.path).filter((path) => !layerOf(path))).toEqual([]);
    expect(arrows.length).toBeGreaterThan(300);
  });
});
