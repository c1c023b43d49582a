import pg from 'pg';
import type { Knex } from 'knex';

/** What one node tells the others: jobs to poll, external tasks on these topics to fetch, or new definition versions. */
export interface ChangeNotice {
  node: string;
  kind: 'jobs' | 'external-tasks' | 'definitions';
  topics?: string[];
}

const CHANNEL = 'regenflow_changes';

/** Sends a notice to every listening node (PostgreSQL NOTIFY; delivered to listeners at once). */
export async function sendChangeNotice(knex: Knex, notice: ChangeNotice): Promise<void> {
  await knex.raw('select pg_notify(?, ?)', [CHANNEL, JSON.stringify(notice)]);
}

/**
 * Listens for notices on a connection of its own (LISTEN holds its session). A dropped
 * connection is re-opened after a pause; polling covers the gap, so nothing is lost.
 */
export function listenForChangeNotices(
  databaseUrl: string,
  onNotice: (notice: ChangeNotice) => void,
  onError: (error: unknown) => void,
): { close(): Promise<void> } {
  let client: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  const connect = async () => {
    const next = new pg.Client({ connectionString: databaseUrl });
    next.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        onNotice(JSON.parse(message.payload) as ChangeNotice);
      } catch (error) {
        onError(error);
      }
    });
    next.on('error', (error) => {
      onError(error);
      void next.end().catch(() => {});
      if (client === next) client = null;
      if (!closed) retry = setTimeout(() => void connect(), 1000).unref();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANNEL}`);
      if (closed) await next.end();
      else client = next;
    } catch (error) {
      onError(error);
      await next.end().catch(() => {});
      if (!closed) retry = setTimeout(() => void connect(), 1000).unref();
    }
  };
  const ready = connect();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await ready;
      await client?.end().catch(() => {});
      client = null;
    },
  };
}
