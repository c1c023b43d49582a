import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { migrationSource } from '../../migrations/index.js';
import { AppError } from '../errors.js';
import { PGliteThread } from './pglite-thread.js';

export interface DatabaseOptions {
  /** A PostgreSQL server; when absent the embedded PGlite database in `dataDir` is used. */
  databaseUrl?: string;
  /** Folder for the PGlite files (and its lock). */
  dataDir: string;
  /** Connections to a PostgreSQL server. @default 10 */
  poolSize?: number;
  /** `memory` keeps PGlite in memory: for tests that need no files. */
  inMemory?: boolean;
  /**
   * The file of a data-folder dump (`Database.dumpDataDir`): an in-memory PGlite starts as
   * it instead of as an empty database. Taken right after the migrations, it saves each new
   * database its initdb (seconds), which is what tests that open hundreds of databases need.
   * A path, not bytes: only PGlite's own thread reads it, and that memory goes with the thread.
   */
  template?: string;
  /** Bounds on waiting for a PostgreSQL server; on PGlite in its thread, statementMs (+2 s) bounds a query. */
  timeouts?: Partial<typeof DEFAULT_TIMEOUTS>;
  /** Run PGlite in a worker thread (off the engine's event loop). @default true */
  pgliteThread?: boolean;
}

/** @default connect 5 s, pool acquire 8 s, statement 20 s */
const DEFAULT_TIMEOUTS = { connectMs: 5000, acquireMs: 8000, statementMs: 20_000 };

export interface Database {
  readonly knex: Knex;
  readonly kind: 'postgres' | 'pglite';
  /** Human-readable description for the startup line. */
  readonly description: string;
  /** On PGlite: the whole data folder as an uncompressed tar, a `template` for another database. */
  dumpDataDir?(): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Opens the database, takes the data-folder lock for PGlite and runs the migrations. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    const knex = knexFactory({
      client: 'pg',
      connection: {
        connectionString: options.databaseUrl,
        // A server that is down or frozen must not hold a request for minutes: bounded
        // connect, statement (server side) and query (client side, for a frozen server) waits.
        connectionTimeoutMillis: timeouts.connectMs,
        statement_timeout: timeouts.statementMs,
        query_timeout: timeouts.statementMs + 2000,
      } as Knex.PgConnectionConfig,
      acquireConnectionTimeout: timeouts.acquireMs,
      pool: { min: 0, max: options.poolSize ?? 10, acquireTimeoutMillis: timeouts.acquireMs, createTimeoutMillis: timeouts.connectMs },
    });
    try {
      await migrateAlone(options.databaseUrl, knex);
    } catch (error) {
      await knex.destroy();
      throw error;
    }
    const url = new URL(options.databaseUrl);
    return {
      knex,
      kind: 'postgres',
      description: `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`,
      close: () => knex.destroy(),
    };
  }

  let releaseLock = () => {};
  let folder: string | undefined;
  let description = 'embedded PGlite in memory';
  if (!options.inMemory) {
    folder = resolve(options.dataDir, 'pglite');
    mkdirSync(folder, { recursive: true });
    releaseLock = lockDataFolder(folder);
    description = `embedded PGlite in ${folder}`;
  }
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const threaded = options.pgliteThread ?? true;
  // A data folder keeps its own files: only an in-memory database starts as a template.
  const template = folder ? undefined : options.template;
  // In its thread PGlite's WASM runs beside the engine instead of on its event loop, and a
  // frozen query is bounded (as query_timeout bounds one on a PostgreSQL server).
  let connection: object = folder ? { filename: folder } : {};
  let pglite: PGliteThread | undefined;
  if (threaded) {
    // Unbounded while the migrations run (a first boot on a loaded machine is slow); bounded after.
    pglite = new PGliteThread(folder, 0, template);
    // A first start creates the database (initdb), which takes 5-40 s on a loaded machine: on
    // the engine thread it blocked the event loop, so the pool's 30 s create bound never fired;
    // off it, it would. Opened before knex asks for its connection, there is no such bound.
    try {
      await pglite.waitReady;
    } catch (error) {
      await pglite.close().catch(() => {});
      releaseLock();
      throw error;
    }
    connection = { pglite };
    description += ' (in a worker thread)';
  } else if (template) {
    connection = { pglite: new PGlite({ loadDataDir: new Blob([readFileSync(template)]) }) };
  }
  // knex-pglite pins its pool to one connection: PGlite is single-user. A request that would
  // wait longer than the acquire bound for it is shed (503 with Retry-After, see databaseFault in src/errors.ts)
  // instead of queueing for a minute behind a burst.
  // The migrations' own steps queue for that one connection too, and on a loaded machine a first
  // boot can take longer than a request may wait: the bound is applied once they are done.
  const acquireMs = timeouts.acquireMs;
  const knex = knexFactory({ client: ClientPgLite, dialect: 'postgres', connection, acquireConnectionTimeout: Math.max(acquireMs, MIGRATION_ACQUIRE_MS) });
  try {
    await migrate(knex);
    boundAcquire(knex, acquireMs);
    // A query answered by the thread settles as a message (a macrotask): the loop turns anyway.
    if (!pglite) (knex.client as { config: { yieldBetweenQueries?: boolean } }).config.yieldBetweenQueries = true;
    pglite?.bound(timeouts.statementMs + 2000);
  } catch (error) {
    await knex.destroy();
    releaseLock();
    throw error;
  }
  return {
    knex,
    kind: 'pglite',
    description,
    dumpDataDir: async () => {
      if (pglite) return pglite.dumpDataDir();
      const onThisThread = (knex.client as { pglite: PGlite }).pglite;
      return new Uint8Array(await (await onThisThread.dumpDataDir('none')).arrayBuffer());
    },
    close: async () => {
      await knex.destroy();
      releaseLock();
    },
  };
}

/** How long a migration step may wait for PGlite's one connection (knex's own default). */
const MIGRATION_ACQUIRE_MS = 60_000;

/**
 * On the engine thread (REGENFLOW_PGLITE_THREAD=false), PGlite runs each query there and settles it as a microtask, so a chain of
 * awaited queries (a batch insert, a worker's loop, alert intake under load) never returned
 * to the event loop: timers and other requests waited for the whole chain (/healthz once
 * 110 s during 1,000 alerts). Once the migrations ran, every PGlite query first yields one
 * turn of the loop. On the prototype, keyed by the config: knex builds a transaction's
 * client from the prototype and copies the config.
 */
const pgliteClient = ClientPgLite.prototype as unknown as { _query: (...args: unknown[]) => Promise<unknown> };
const pgliteQuery = pgliteClient._query;
pgliteClient._query = async function (this: { config?: { yieldBetweenQueries?: boolean } }, ...args: unknown[]) {
  if (this.config?.yieldBetweenQueries) await yieldToEventLoop();
  return pgliteQuery.apply(this, args);
};

/**
 * knex-pglite names a query's command after knex's method, so a delete ('del') or an
 * increment ('counter') reaches knex's PostgreSQL response handling as an unknown command and
 * answers the raw result instead of the count of rows it touched: `delete() > 0` was false on
 * PGlite for a row that was deleted. They are told apart here as the pg client does.
 */
type PgliteResponse = { method?: string; response: { affectedRows?: number } };
const KNEX_METHOD_COMMAND: Record<string, string> = { del: 'DELETE', counter: 'UPDATE' };
const pgliteProcessResponse = (ClientPgLite.prototype as unknown as { processResponse: (obj: PgliteResponse, runner: unknown) => unknown }).processResponse;
(ClientPgLite.prototype as unknown as { processResponse: typeof pgliteProcessResponse }).processResponse = function (this: unknown, obj: PgliteResponse, runner: unknown) {
  const command = obj.method ? KNEX_METHOD_COMMAND[obj.method] : undefined;
  if (!command) return pgliteProcessResponse.call(this, obj, runner);
  // the parent of knex-pglite's client: knex's own PostgreSQL client
  const pgProcessResponse = Object.getPrototypeOf(ClientPgLite.prototype).processResponse as (obj: unknown, runner: unknown) => unknown;
  return pgProcessResponse.call(this, { ...obj, response: { ...obj.response, rowCount: obj.response.affectedRows, command } }, runner);
};

/** Sets the pool's acquire bound of a running knex (tarn reads it on every acquire). */
function boundAcquire(knex: Knex, ms: number): void {
  const client = knex.client as { config: { acquireConnectionTimeout?: number }; pool?: { acquireTimeoutMillis: number } };
  client.config.acquireConnectionTimeout = ms;
  if (client.pool) client.pool.acquireTimeoutMillis = ms;
}

async function migrate(knex: Knex): Promise<void> {
  await knex.migrate.latest({ migrationSource, tableName: 'knex_migrations' });
}

/** Any fixed number, the same on every node: the advisory lock that one migration run holds. */
const MIGRATION_LOCK = 0x7265_6766; // "regf"

/**
 * Nodes started together on an empty server would race to create knex's own tables (knex's
 * lock lives in one of them) and the loser dies on "relation already exists". A session
 * advisory lock, held on a connection of its own while the migrations run on the pool, makes
 * the second node wait and then find nothing left to do.
 */
async function migrateAlone(databaseUrl: string, knex: Knex): Promise<void> {
  const holder = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 1, max: 1 } });
  try {
    await holder.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
      await migrate(knex);
    });
  } finally {
    await holder.destroy();
  }
}

/** Folders this process has locked: a second open in the same process is refused too. */
const lockedHere = new Set<string>();

/**
 * PGlite takes no lock of its own: two processes on one folder silently lose writes.
 * A lock file holding our pid refuses a second process; a lock left by a dead process
 * (kill -9) is taken over.
 */
function lockDataFolder(folder: string): () => void {
  const lockPath = join(folder, '..', 'regenflow.lock');
  if (lockedHere.has(lockPath)) {
    throw new AppError('DATA_DIR_LOCKED', `the data folder ${resolve(folder, '..')} is already open in this process`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      lockedHere.add(lockPath);
      return () => {
        lockedHere.delete(lockPath);
        rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lockPath, 'utf8'));
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new AppError(
          'DATA_DIR_LOCKED',
          `the data folder ${resolve(folder, '..')} is in use by process ${holder}; ` +
            'stop it, use another REGENFLOW_DATA_DIR, or set DATABASE_URL to share a PostgreSQL server',
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new AppError('DATA_DIR_LOCKED', `could not lock the data folder ${folder}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
