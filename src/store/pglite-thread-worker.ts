import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

/**
 * Worker-thread entry: the embedded PGlite database, so that its WASM runs beside the engine
 * thread instead of on it. One query at a time (PGlite is a single session); see
 * pglite-thread.ts for the other side.
 */
type Request = { id: number; sql: string; params?: unknown[]; options?: Record<string, unknown> } | { id: number; close: true } | { id: number; dump: true };

const { folder, templateFile } = workerData as { folder?: string; templateFile?: string };
const database = new PGlite({ dataDir: folder, ...(templateFile && { loadDataDir: new Blob([readFileSync(templateFile)]) }) });

/** An error as plain data: PostgreSQL's fields (code, detail, constraint, ...) survive the thread hop. */
function plain(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields: Record<string, unknown> = { name: error.name, message: error.message, stack: error.stack };
  for (const [key, value] of Object.entries(error)) {
    if (value === undefined || typeof value === 'function') continue;
    fields[key] = typeof value === 'object' && value !== null ? JSON.parse(JSON.stringify(value)) : value;
  }
  return fields;
}

database.waitReady.then(
  () => parentPort!.postMessage({ ready: true }),
  (error: unknown) => parentPort!.postMessage({ ready: false, error: plain(error) }),
);

parentPort!.on('message', (request: Request) => {
  void (async () => {
    try {
      if ('close' in request) {
        await database.close();
        parentPort!.postMessage({ id: request.id, result: null });
        return;
      }
      if ('dump' in request) {
        const dump = new Uint8Array(await (await database.dumpDataDir('none')).arrayBuffer());
        parentPort!.postMessage({ id: request.id, result: dump }, [dump.buffer]);
        return;
      }
      const result = await database.query(request.sql, request.params, request.options);
      parentPort!.postMessage({ id: request.id, result });
    } catch (error) {
      parentPort!.postMessage({ id: request.id, error: plain(error) });
    }
  })();
});
