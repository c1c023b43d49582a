import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { sequence } from '../support/bpmn.js';
import { TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestDatabase } from '../support/test-app.js';

/** A stopped and restarted server on the same database (PGlite files, or the PostgreSQL test database). */
describe('telemetry: across a restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'regenflow-telemetry-'));
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const open = (): Promise<App> =>
    createApp(
      loadConfig({
        PORT: '0',
        REGENFLOW_DATA_DIR: dataDir,
        REGENFLOW_TOKENS: TEST_TOKENS_SETTING,
        ...(database.url && { DATABASE_URL: database.url }),
      }),
      { registry: new ServiceTaskRegistry(), log: () => {} },
    );

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('when the server restarts while an instance waits, then the spans after the restart join the same trace', async () => {
    // Given an instance waiting at a user task on a server that then stops
    let app = await open();
    await app.engine.deploy([{ name: 'restart.bpmn', xml: sequence('tel_restart', [{ id: 'wait', xml: '<bpmn:userTask id="wait" />' }]) }]);
    const started = await app.engine.start({ processKey: 'tel_restart' });
    await app.close();

    // When a new server process (nothing in memory) completes the task
    app = await open();
    try {
      const task = await app.database.knex('user_tasks').where({ instance_id: started.id }).first();
      await app.engine.completeUserTask(task.id);
      await app.telemetry.flush();

      // Then the spans written before and after the restart form one trace under the instance span
      const spans = await app.telemetry.spans.listByInstance(started.id);
      expect(spans.map((span) => span.name).sort()).toEqual(['end', 'start', 'tel_restart', 'wait']);
      expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([started.trace_id]));
      const wait = spans.find((span) => span.name === 'wait')!;
      expect(wait.parentSpanId).toBe(started.root_span_id);
      const firstStart = await app.database.knex('history').where({ instance_id: started.id, activity_id: 'wait', event: 'start' }).first();
      expect(wait.startTime.getTime()).toBe(new Date(firstStart.at).getTime());
    } finally {
      await app.close();
    }
  });
});
