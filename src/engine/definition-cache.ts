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

/**
 * Parsed definitions by id. A definition id names one immutable version, so entries never
 * go stale; the bound only keeps memory flat when many versions exist.
 */
export class DefinitionCache {
  private readonly entries = new Map<string, CompiledDefinition>();

  constructor(
    private readonly load: (id: string, via?: Knex) => Promise<DefinitionSource | undefined>,
    private readonly capacity = 500,
  ) {}

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
