import { sequence } from '../support/bpmn.js';
import { httpClient } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

describe('a timer text from a variable that is no timer', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let call: ReturnType<typeof httpClient>;
  beforeAll(async () => {
    app = await createTestApp();
    call = httpClient(`http://127.0.0.1:${await app.listen()}`);
  }, 60_000);
  afterAll(async () => {
    await app.dispose();
  });
  it.each([
    ['timeDuration', 'soon'],
    ['timeCycle', 'R/PT0S'],
    ['timeDate', 'tomorrow-ish'],
  ])('when a %s resolves to %j at start, then the answer is not a 500 and the node is not stuck', async (timerType, text) => {
    {
      const key = `bad_timer_${timerType}`;
      await app.engine.deploy([
        { name: 't.bpmn', xml: sequence(key, [{ id: 'wait', xml: `<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:${timerType}>\${when}</bpmn:${timerType}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` }]) },
      ]);
      const started = await call('POST', '/api/process-instances', { processKey: key, variables: { when: text } });
      expect(started.status).not.toBe(500);
      if (started.status === 201) {
        const incidents = await app.database.knex('incidents').where({ instance_id: started.body.id });
        const row = await app.database.knex('process_instances').where({ id: started.body.id }).first();
        expect(incidents.length > 0 || row.status === 'failed').toBe(true);
      } else {
        expect(started.status).toBe(400);
        expect(started.body.code).toBe('TIMER_INVALID');
      }
    }
  });
});
