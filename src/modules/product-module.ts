import type { Knex } from 'knex';
import type { ServiceTaskDefinition, ServiceTaskRegistry } from '../../service-tasks/registry.js';
import type { RouteMount } from '../api/route-spec.js';
import type { Config } from '../config.js';
import type { DecisionService } from '../decisions/index.js';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import type { Telemetry } from '../telemetry/index.js';
import type { ScrapedGauge } from '../telemetry/metrics.js';

/**
 * What every product module is built from: the core the composition root made first
 * (store, engine, telemetry). A module takes only what it needs.
 */
export interface ModuleCore {
  readonly config: Config;
  readonly knex: Knex;
  readonly engine: WorkflowEngine;
  /** The deployed DMN decisions: a module that follows a shipped policy table evaluates its latest version. */
  readonly decisions: DecisionService;
  readonly telemetry: Telemetry;
  /** The topics this node serves (every module's, or a test's own registry). */
  readonly registry: ServiceTaskRegistry;
  /** This node's id (`REGENFLOW_NODE_ID` or hostname-pid). */
  readonly nodeId: string;
  readonly log: (line: string) => void;
  readonly logError: (error: unknown) => void;
}

/** A router a module mounts (see RouteMount): mounted before the native API, most specific path first. */
export type ModuleRoute = RouteMount;

/** What a module adds, once built. Every part but `service` is optional. */
export interface ModuleParts<Service> {
  /** What other modules (through `use`) and the app may call. */
  readonly service: Service;
  /**
   * Service-task topics. Called only when the app serves the built-in topics (not when a
   * test hands the app its own registry), so set-up that exists for the topics belongs here.
   */
  topics?(): ServiceTaskDefinition[];
  /** Routers, mounted in this order. */
  readonly routes?: ModuleRoute[];
  /** Gauges read at each /metrics scrape (a queue's depth, say). */
  readonly gauges?: readonly ScrapedGauge[];
  /** Engine events (`instance.ended`, `external-tasks.fetching`, ...) this module reacts to. */
  readonly listeners?: Readonly<Record<string, (...args: any[]) => void>>;
  /** When the app starts listening: timers, registrations. */
  start?(): Promise<void> | void;
  /** When the app closes, in reverse order of the modules. */
  stop?(): Promise<void> | void;
}

/**
 * A product module, declared once in its `index.ts` (as bpmn-js declares a module with
 * `__init__` and named providers, but typed): its name, the tables it owns, the modules
 * whose service it uses, and `init`, which builds its parts from the core.
 */
export interface ProductModule<Service = unknown> {
  /** dot.case, unique. */
  readonly name: string;
  /** Tables the module owns (created by the migrations in `migrations/`). */
  readonly tables: readonly string[];
  /** Modules this one calls through `use`; they must be listed before it. */
  readonly depends?: readonly ProductModule<any>[];
  init(core: ModuleCore, use: <S>(module: ProductModule<S>) => S): ModuleParts<Service>;
}

/** Declares a module with its service type inferred from `init`. */
export function defineModule<Service>(module: ProductModule<Service>): ProductModule<Service> {
  return module;
}

/** The modules as composed: their services by module, their routes, topics and hooks in order. */
export interface ComposedModules {
  /** The service a module's `init` returned. */
  get<S>(module: ProductModule<S>): S;
  readonly routes: ModuleRoute[];
  /** Every module's gauges, in module order. */
  readonly gauges: ScrapedGauge[];
  topics(): ServiceTaskDefinition[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Builds each module in order: a module may `use` only modules listed before it (and
 * declared in its `depends`), so the order is the dependency order and no cycle can form.
 */
export function composeModules(core: ModuleCore, modules: readonly ProductModule<any>[]): ComposedModules {
  const built = new Map<ProductModule<any>, ModuleParts<unknown>>();
  const names = new Set<string>();
  for (const module of modules) {
    if (names.has(module.name)) throw new Error(`product module ${module.name} is listed twice`);
    names.add(module.name);
    const use = <S>(wanted: ProductModule<S>): S => {
      if (!module.depends?.includes(wanted)) throw new Error(`product module ${module.name} uses ${wanted.name} without declaring it in depends`);
      const parts = built.get(wanted);
      if (!parts) throw new Error(`product module ${module.name} needs ${wanted.name}, which must be listed before it`);
      return parts.service as S;
    };
    const parts = module.init(core, use);
    for (const [event, listener] of Object.entries(parts.listeners ?? {})) core.engine.on(event, listener);
    built.set(module, parts);
  }
  const all = [...built.values()];
  return {
    get<S>(module: ProductModule<S>): S {
      const parts = built.get(module);
      if (!parts) throw new Error(`product module ${module.name} is not composed`);
      return parts.service as S;
    },
    routes: all.flatMap((parts) => parts.routes ?? []),
    gauges: all.flatMap((parts) => parts.gauges ?? []),
    topics: () => all.flatMap((parts) => parts.topics?.() ?? []),
    async start() {
      for (const parts of all) await parts.start?.();
    },
    async stop() {
      for (const parts of [...all].reverse()) await parts.stop?.();
    },
  };
}

/** A loader run at most once at a time and kept once it succeeded (a failure is retried on the next call). */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () =>
    (loaded ??= load().catch((error) => {
      loaded = undefined;
      throw error;
    }));
}
