import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

/** A document with many processes is stored once, not once per process. */
describe('a deploy of one document with many processes', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  beforeAll(async () => {
    app = await createTestApp();
  }, 60_000);
  afterAll(async () => {
    await app.dispose();
  });

  it('when a document holds several processes, then its XML and context are stored once and every version reads them', async () => {
    {
      const base = `http://127.0.0.1:${await app.listen()}`;
      const call = httpClient(base);
      const processes = Array.from(
        { length: 5 },
        (_, index) => `<bpmn:process id="many_${index}" isExecutable="true"><bpmn:startEvent id="s${index}" /><bpmn:userTask id="t${index}" /><bpmn:endEvent id="e${index}" />
          <bpmn:sequenceFlow id="a${index}" sourceRef="s${index}" targetRef="t${index}" /><bpmn:sequenceFlow id="b${index}" sourceRef="t${index}" targetRef="e${index}" /></bpmn:process>`,
      );
      const xml = `<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="many" targetNamespace="http://t">${processes.join('')}<bpmn:process id="doc_only" isExecutable="false"><bpmn:startEvent id="x" /></bpmn:process></bpmn:definitions>`;
      const deployed = await call('POST', '/api/deployments', { name: 'many.bpmn', xml });
      expect(deployed.status).toBe(201);
      const knex = app.database.knex;
      expect(await knex('definition_resources').count({ n: '*' }).then((rows) => Number(rows[0]!.n))).toBe(1);
      const stored = await knex('process_definitions').whereLike('key', 'many_%').select('xml', 'source_context');
      expect(stored).toHaveLength(5);
      expect(stored.every((row: { xml: string | null; source_context: string | null }) => row.xml === null && row.source_context === null)).toBe(true);
      for (let index = 0; index < 5; index++) {
        const started = await call('POST', '/api/process-instances', { processKey: `many_${index}` });
        expect(started.status).toBe(201);
      }
      const id = deployed.body.definitions[0].id;
      const text = await fetch(`${base}/api/process-definitions/${id}/xml`, { headers: { authorization: `Bearer ${TEST_TOKENS.admin}` } }).then((response) => response.text());
      expect(text).toBe(xml);
      // Redeploying the same content keeps every version and stores nothing new.
      const again = await call('POST', '/api/deployments', { name: 'many.bpmn', xml });
      expect(again.body.definitions.every((definition: { created: boolean }) => !definition.created)).toBe(true);
      expect(await knex('definition_resources').count({ n: '*' }).then((rows) => Number(rows[0]!.n))).toBe(1);
    }
  });
});
