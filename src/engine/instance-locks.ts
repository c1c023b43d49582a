/**
 * Serialises transitions of one instance inside this process. Across processes the
 * optimistic lock on `process_instances.version` decides; this only avoids losing races
 * against ourselves.
 */
export class InstanceLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(instanceId) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => undefined);
    this.tails.set(instanceId, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(instanceId) === tail) this.tails.delete(instanceId);
    }
  }
}
