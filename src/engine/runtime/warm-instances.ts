import type { WarmInstance } from './process-runtime.js';

/**
 * Warm instances: the live bpmn-engine of instances this node moved last, parked between two
 * transitions, so the next transition of an unchanged instance resumes it instead of parsing
 * and recovering the saved state (recover builds every element of the definition again).
 *
 * An entry is keyed by the instance's row version that its engine matches: the transition that
 * parked it committed exactly that version. Any other writer (another node, a cancel, an
 * instance migration) moves the version on, and the entry no longer matches: the transition
 * recovers from the row as before. `take` hands an entry out once; the transition puts its
 * engine back only after its commit succeeded, so a lost race, a failed commit, an incident or
 * any error leaves nothing behind. Bounded (least recently kept goes first): a parked engine
 * costs heap (hundreds of KB for a large definition), a waiting instance in the database none.
 */
export class WarmInstances {
  private readonly entries = new Map<string, { version: number; warm: WarmInstance }>();

  constructor(readonly capacity: number) {}

  /** The instance's parked engine when it matches the committed row (version and definition); removed either way. */
  take(instanceId: string, version: number, definitionId: string): WarmInstance | undefined {
    const entry = this.entries.get(instanceId);
    if (!entry) return undefined;
    this.entries.delete(instanceId);
    if (entry.version !== version || entry.warm.definitionId !== definitionId) return undefined;
    return entry.warm;
  }

  /** Keeps an engine parked after its transition committed `version`. */
  keep(instanceId: string, version: number, warm: WarmInstance): void {
    if (this.capacity <= 0) return;
    this.entries.delete(instanceId);
    this.entries.set(instanceId, { version, warm });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  forget(instanceId: string): void {
    this.entries.delete(instanceId);
  }

  get size(): number {
    return this.entries.size;
  }
}
