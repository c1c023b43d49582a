import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CORE_TABLES, productModules } from '../../src/modules/index.js';
import { composeModules, defineModule, type ModuleCore, type ProductModule } from '../../src/modules/product-module.js';

const root = resolve(import.meta.dirname, '../..');

/** A core good enough for modules that only record what happens to them. */
function fakeCore(): ModuleCore & { engine: EventEmitter } {
  return { engine: new EventEmitter() } as unknown as ModuleCore & { engine: EventEmitter };
}

describe('product modules', () => {
  it('when the migrations create a table, then exactly one owner declares it: the core or one product module', () => {
    const created = readdirSync(join(root, 'migrations'))
      .filter((file) => /^\d{4}.*\.ts$/.test(file))
      .flatMap((file) => [...readFileSync(join(root, 'migrations', file), 'utf8').matchAll(/createTable(?:IfNotExists)?\('([a-z_]+)'/g)].map((match) => match[1]!));
    expect(created.length).toBeGreaterThan(30);
    const owners = new Map<string, string[]>();
    for (const table of CORE_TABLES) owners.set(table, [...(owners.get(table) ?? []), 'core']);
    for (const module of productModules) for (const table of module.tables) owners.set(table, [...(owners.get(table) ?? []), module.name]);
    expect([...new Set(created)].filter((table) => owners.get(table)?.length !== 1).map((table) => `${table}: ${owners.get(table)?.join(', ') ?? 'no owner'}`)).toEqual([]);
    // A declared table that no migration creates is a typo or a leftover.
    expect([...owners.keys()].filter((table) => !created.includes(table))).toEqual([]);
  });

  it('when modules are listed, then each uses only modules listed before it and declared in depends', () => {
    const seen = new Set<ProductModule<any>>();
    for (const module of productModules) {
      for (const dependency of module.depends ?? []) expect(seen.has(dependency) ? dependency.name : `${dependency.name} (after ${module.name})`).toBe(dependency.name);
      seen.add(module);
    }
    expect(new Set(productModules.map((module) => module.name)).size).toBe(productModules.length);
  });

  it('when a module uses one it did not declare, or one listed after it, then composing fails and names both', () => {
    const store = defineModule({ name: 'store.thing', tables: [], init: () => ({ service: { answer: 42 } }) });
    const careless = defineModule({ name: 'careless', tables: [], init: (_core, use) => ({ service: use(store) }) });
    expect(() => composeModules(fakeCore(), [store, careless])).toThrow('product module careless uses store.thing without declaring it in depends');
    const early = defineModule({ name: 'early', tables: [], depends: [store], init: (_core, use) => ({ service: use(store) }) });
    expect(() => composeModules(fakeCore(), [early, store])).toThrow('product module early needs store.thing, which must be listed before it');
    expect(() => composeModules(fakeCore(), [store, store])).toThrow('product module store.thing is listed twice');
  });

  it('when modules are composed, then services, routes and topics come in list order, listeners hear engine events, and stop runs in reverse', async () => {
    const calls: string[] = [];
    const first = defineModule({
      name: 'first',
      tables: [],
      init: () => ({
        service: { name: 'first service' },
        topics: () => [{ topic: 'first.topic' } as never],
        listeners: { 'instance.ended': (ended: { id: string }) => calls.push(`ended ${ended.id}`) },
        start: () => void calls.push('start first'),
        stop: () => void calls.push('stop first'),
      }),
    });
    const second = defineModule({
      name: 'second',
      tables: [],
      depends: [first],
      init: (_core, use) => ({
        service: `second uses ${use(first).name}`,
        topics: () => [{ topic: 'second.topic' } as never],
        routes: [{ path: '/api/second', router: (() => {}) as never, docs: [] }],
        start: () => void calls.push('start second'),
        stop: () => void calls.push('stop second'),
      }),
    });
    const core = fakeCore();
    const composed = composeModules(core, [first, second]);
    expect(composed.get(second)).toBe('second uses first service');
    expect(composed.topics().map((topic) => topic.topic)).toEqual(['first.topic', 'second.topic']);
    expect(composed.routes.map((route) => route.path)).toEqual(['/api/second']);
    await composed.start();
    core.engine.emit('instance.ended', { id: 'i-1' });
    await composed.stop();
    expect(calls).toEqual(['start first', 'start second', 'ended i-1', 'stop second', 'stop first']);
  });
});
