import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { openDatabase, type Database } from '../../src/store/database.js';
import { killServerProcess, startServerProcess } from '../support/server-process.js';

/** The embedded default: one process per data folder, and a clear word when it is taken. */
describe('embedded PGlite data folder', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-lock-'));
  let server: ChildProcess | undefined;

  afterAll(async () => {
    if (server) await killServerProcess(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when a second server starts on a folder in use, then it refuses with a clear message', async () => {
    const env = { REGENFLOW_DATA_DIR: dataDir, DATABASE_URL: '', REGENFLOW_PROCESSES_DIR: join(dataDir, 'none') };
    const port = 5900 + Math.floor(Math.random() * 90);
    server = await startServerProcess(env, port);
    await expect(startServerProcess(env, port + 1)).rejects.toThrow(/data folder .* is in use by process \d+/);
  }, 60_000);

  it('when the same process opens a folder twice, then the second open is refused', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'regenflow-lock-same-'));
    const first = await openDatabase({ dataDir: folder });
    await expect(openDatabase({ dataDir: folder })).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' });
    await first.close();
    const again = await openDatabase({ dataDir: folder });
    await again.close();
    rmSync(folder, { recursive: true, force: true });
    // Two opens of a folder on disk, the first migrating it: over 30 s on a loaded machine.
  }, 90_000);

  it('when the lock was left by a process that died, then it is taken over', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'regenflow-lock-stale-'));
    mkdirSync(join(folder, 'pglite'), { recursive: true });
    writeFileSync(join(folder, 'regenflow.lock'), '999999'); // no such process
    const database = await openDatabase({ dataDir: folder });
    await database.close();
    rmSync(folder, { recursive: true, force: true });
  });

  /** Row counts on a knex over PGlite, as knex answers them on PostgreSQL. */
  async function expectCounts(knex: Knex): Promise<void> {
    await knex.schema.createTable('counted', (table) => {
      table.integer('id').primary();
      table.integer('hits').notNullable().defaultTo(0);
    });
    await knex('counted').insert([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(await knex('counted').where('id', '>', 1).update({ hits: 5 })).toBe(2);
    expect(await knex('counted').where({ id: 1 }).increment('hits', 1)).toBe(1);
    expect(await knex('counted').where({ id: 1 }).delete()).toBe(1);
    expect(await knex('counted').where({ id: 1 }).del()).toBe(0);
    expect(await knex.transaction((trx) => trx('counted').whereIn('id', [2, 3]).delete())).toBe(2);
  }

  it('when a query deletes, updates or increments rows on the embedded database, then knex answers how many, as on PostgreSQL', async () => {
    const database = await openDatabase({ dataDir: tmpdir(), inMemory: true });
    try {
      await expectCounts(database.knex);
    } finally {
      await database.close();
    }
    // Opening runs every migration: slow on a loaded CI machine.
  }, 120_000);

  it('when PGlite runs on the engine thread (REGENFLOW_PGLITE_THREAD=false), then the counts are the same', async () => {
    // The same client class without the migrations (they take a minute on the engine thread of a loaded machine).
    const knex = knexFactory({ client: ClientPgLite, dialect: 'postgres', connection: {} });
    try {
      await expectCounts(knex);
    } finally {
      await knex.destroy();
    }
  });

  describe('an in-memory database from a template (a dump of another)', () => {
    let source: Database;
    const template = join(dataDir, 'template.tar');
    beforeAll(async () => {
      source = await openDatabase({ dataDir: tmpdir(), inMemory: true });
      await source.knex.schema.createTable('templated', (table) => table.integer('id').primary());
      await source.knex('templated').insert({ id: 1 });
      writeFileSync(template, await source.dumpDataDir!());
    }, 120_000);
    afterAll(() => source?.close());

    for (const pgliteThread of [true, false]) {
      it(`when it is opened ${pgliteThread ? 'in its thread' : 'on the engine thread'}, then it holds the template's rows and migrations, and its writes stay its own`, async () => {
        const copy = await openDatabase({ dataDir: tmpdir(), inMemory: true, template, pgliteThread });
        try {
          expect(await copy.knex('templated').pluck('id')).toEqual([1]);
          expect(await copy.knex('knex_migrations').orderBy('id').pluck('name')).toEqual(await source.knex('knex_migrations').orderBy('id').pluck('name'));
          await copy.knex('templated').insert({ id: 2 });
          expect(await source.knex('templated').pluck('id')).toEqual([1]);
        } finally {
          await copy.close();
        }
      }, 60_000);
    }

    it('when a data folder is opened with a template, then the template is ignored: a folder keeps its own files', async () => {
      const folder = mkdtempSync(join(tmpdir(), 'regenflow-template-'));
      const opened = await openDatabase({ dataDir: folder, template });
      try {
        expect(await opened.knex.schema.hasTable('templated')).toBe(false);
      } finally {
        await opened.close();
        rmSync(folder, { recursive: true, force: true });
      }
    }, 120_000);
  });
});
