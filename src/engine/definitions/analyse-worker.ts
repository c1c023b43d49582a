import { parentPort } from 'node:worker_threads';
import { analyseXml } from './analyse-in-worker.js';

/** Worker-thread entry: parsing a large diagram is synchronous and must not block the server. */
parentPort?.on('message', async (request: { id: number; xml: string; allowScripts: boolean }) => {
  try {
    const analysis = await analyseXml(request.xml, { allowScripts: request.allowScripts });
    parentPort?.postMessage({ id: request.id, analysis });
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: (error as Error)?.message ?? String(error) });
  }
});
