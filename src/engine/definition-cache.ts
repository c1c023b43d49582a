import { deserialize } from 'moddle-context-serializer';
import type { Knex } from 'knex';
import { AppError } from '../errors.js';
import { typeResolver } from './definitions/type-resolver.js';

/** A deployed process version, ready to run: parsed once, reused by every transition. */
export interface CompiledDefinition {
  id: string;
  key: string;
  version: number;
  /** moddle-context-serializer context limited to this process. */
  sourceContext: unknown;
}

export interface DefinitionSource {
  id: string;
  key: string;
  version: number;
  source_context: string | null;
}

/** What a start by key needs of the latest version: its id, key, version, executable flag and info. */
export interface LatestDefinition {
  id: string;
  key: string;
  version: number;
  executable: boolean;
  info?: unknown;
}

/**
 * How long a cached "latest version of key" is trusted without a deploy notice. A deploy on this
 * node forgets it at once and one on another node through the cluster's notice
 * (`definitions.deployed`, LISTEN/NOTIFY); this bound only covers a notice lost while a
 * node's listening connection was down.
 */
export const LATEST_TRUST_MS = 5_000;

/**
 * Parsed definitions by id. A definition id names one immutable version, so entries never
 * go stale; the bound only keeps memory flat when many versions exist. Beside them, the
 * latest version per key, which a deploy changes: see `latest` and `forgetLatest`.
 */
export class DefinitionCache {
  private readonly entries = new Map<string, CompiledDefinition>();
  private readonly latestByKey = new Map<string, { definition: LatestDefinition | undefined; at: number }>();
  /** Bumped by every `forgetLatest`: a lookup that began before it does not store what it read. */
  private generation = 0;

  constructor(
    private readonly load: (id: string, via?: Knex) => Promise<DefinitionSource | undefined>,
    private readonly capacity = 500,
    private readonly loadLatest?: (key: string) => Promise<LatestDefinition | undefined>,
  ) {}

  /**
   * The latest version of `key` (undefined when none is deployed), without a query while no
   * deploy was announced since it was read. A deploy's notice from another node arrives
   * after its commit, so a start there within that moment (milliseconds) may still get the
   * version before, as if it had come just before the deploy.
   */
  async latest(key: string): Promise<LatestDefinition | undefined> {
    if (!this.loadLatest) throw new Error('DefinitionCache was built without a latest-version loader');
    const cached = this.latestByKey.get(key);
    if (cached && Date.now() - cached.at < LATEST_TRUST_MS) return cached.definition;
    const generation = this.generation;
    const definition = await this.loadLatest(key);
    if (generation === this.generation) {
      this.latestByKey.set(key, { definition, at: Date.now() });
      if (this.latestByKey.size > this.capacity) this.latestByKey.delete(this.latestByKey.keys().next().value as string);
    }
    return definition;
  }

  /** A deploy committed (here or on another node): the latest versions must be read again. */
  forgetLatest(): void {
    this.generation++;
    this.latestByKey.clear();
  }

  /** @param via the open transaction to read through, when there is one */
  async get(id: string, via?: Knex): Promise<CompiledDefinition> {
    const cached = this.entries.get(id);
    if (cached) {
      this.entries.delete(id);
      this.entries.set(id, cached); // most recently used last
      return cached;
    }
    const row = await this.load(id, via);
    if (!row) throw new AppError('NOT_FOUND', `process definition ${id} not found`);
    if (!row.source_context) throw new AppError('NOT_EXECUTABLE', `process definition ${id} is not executable`);
    const compiled = compileDefinition(row);
    this.entries.set(id, compiled);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return compiled;
  }
}

export function compileDefinition(row: DefinitionSource): CompiledDefinition {
  const context = deserialize(JSON.parse(row.source_context as string), typeResolver) as any;
  // A file may hold several executable processes (a collaboration); bpmn-engine would start
  // them all, while an instance of `key` must run only its own process.
  const restricted = Object.create(context, {
    getExecutableProcesses: {
      value: () => context.getExecutableProcesses().filter((process: { id: string }) => process.id === row.key),
    },
    // bpmn-engine serializes the whole definition into every saved state; we strip it and
    // hand the context back on recover, so skip the cost of serializing it.
    serialize: { value: () => '' },
  });
  return { id: row.id, key: row.key, version: row.version, sourceContext: restricted };
}
