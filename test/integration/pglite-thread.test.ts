import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseFault } from '../../src/errors.js';
import { openDatabase, type Database } from '../../src/store/database.js';

/**
 * The embedded PGlite runs in a worker thread: the engine's event loop stays free while a
 * query runs, and a query that freezes is bounded (statement bound + 2 s) and its thread
 * replaced on the same folder, which keeps every committed row and none of the rest.
 */
describe('PGlite in its own thread', () => {
  const folder = mkdtempSync(join(tmpdir(), 'regenflow-pglite-thread-'));
  let database: Database;

  beforeAll(async () => {
    // statementMs 100: a query is bounded at 2.1 s.
    database = await openDatabase({ dataDir: folder, timeouts: { statementMs: 100 } });
    await database.knex.schema.createTable('probe', (table) => {
      table.integer('n').primary();
    });
  }, 120_000);

  afterAll(async () => {
    await database?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('when a query runs, then the event loop is not blocked by it', async () => {
    const order: string[] = [];
    const query = database.knex.raw('select pg_sleep(0.5)').then(() => order.push('query'));
    await new Promise((resolve) => setImmediate(resolve));
    order.push('event loop');
    await query;
    expect(order).toEqual(['event loop', 'query']);
    expect(database.description).toContain('worker thread');
  });

  it('when a query freezes inside a transaction, then it fails as a database timeout, the thread is replaced, and only committed rows remain', async () => {
    await database.knex('probe').insert({ n: 1 });
    const frozen = database.knex.transaction(async (trx) => {
      await trx('probe').insert({ n: 2 });
      await trx.raw('select pg_sleep(60)');
    });
    const error = await frozen.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(databaseFault(error)).toMatchObject({ status: 503, code: 'DATABASE_TIMEOUT' });
    // The new thread recovered the folder: row 1 was committed, row 2 never was.
    expect((await database.knex('probe').orderBy('n')).map((row) => row.n)).toEqual([1]);
    await database.knex('probe').insert({ n: 3 });
    expect((await database.knex('probe').orderBy('n')).map((row) => row.n)).toEqual([1, 3]);
  }, 120_000);

  it('when a query fails, then PostgreSQL\'s error fields survive the thread hop', async () => {
    await database.knex('probe').insert({ n: 10 });
    const error = await database.knex('probe').insert({ n: 10 }).then(
      () => undefined,
      (caught: unknown) => caught as { code?: string; constraint?: string },
    );
    expect(error).toMatchObject({ code: '23505', constraint: 'probe_pkey' });
  });
});
