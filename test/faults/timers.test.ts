import { bpmn, sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';
import { nextStartTimerDue } from '../../src/engine/timer-schedule.js';

const TIMER_POSITIONS: Record<string, (cycle: string) => string> = {
  start: (cycle) =>
    bpmn('floor_start', `<bpmn:startEvent id="tick"><bpmn:timerEventDefinition><bpmn:timeCycle>${cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
      <bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f1" sourceRef="tick" targetRef="end" />`),
  boundary: (cycle) =>
    bpmn('floor_boundary', `<bpmn:startEvent id="start" /><bpmn:userTask id="work" />
      <bpmn:boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>${cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
      <bpmn:endEvent id="end" /><bpmn:endEvent id="nagged" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" /><bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="nag" targetRef="nagged" />`),
  intermediate: (cycle) =>
    sequence('floor_catch', [{ id: 'wait', xml: `<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeCycle>${cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` }]),
  eventSubProcess: (cycle) =>
    bpmn('floor_esp', `<bpmn:startEvent id="start" /><bpmn:userTask id="work" /><bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" /><bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
      <bpmn:subProcess id="esp" triggeredByEvent="true">
        <bpmn:startEvent id="espTick" isInterrupting="false"><bpmn:timerEventDefinition><bpmn:timeCycle>${cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
        <bpmn:endEvent id="espEnd" /><bpmn:sequenceFlow id="f3" sourceRef="espTick" targetRef="espEnd" />
      </bpmn:subProcess>`),
};
const ELEMENT_OF: Record<string, string> = { start: 'tick', boundary: 'nag', intermediate: 'wait', eventSubProcess: 'espTick' };

describe('timer cycles below the floor', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });
  const deploy = (xml: string) =>
    fetch(`${base}/api/deployments?name=floor.bpmn`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/xml' }, body: xml });

  for (const position of Object.keys(TIMER_POSITIONS)) {
    for (const cycle of ['R/PT0S', 'R/PT0.001S', 'R5/PT0.5S']) {
      it(`when a ${position} timer cycles every ${cycle}, then the deploy is a 400 naming the element`, async () => {
        const response = await deploy(TIMER_POSITIONS[position]!(cycle));
        expect(response.status).toBe(400);
        const problem = (await response.json()) as { detail: string; details?: unknown };
        expect(problem.detail).toContain(ELEMENT_OF[position]);
        expect(problem.detail).toMatch(/shortest cycle is 1 s/);
      });
    }
  }

  it('when a cycle of one second or more is deployed, then it is accepted', async () => {
    expect((await deploy(TIMER_POSITIONS.boundary!('R/PT1S'))).status).toBe(201);
  });

  it('when a boundary cycle resolves from a variable to R/PT0S at run time, then the activity gets an incident and the node keeps answering', async () => {
    await app.engine.deploy([{ name: 'runtime.bpmn', xml: TIMER_POSITIONS.boundary!('${cycle}').replace(/floor_boundary/g, 'floor_runtime') }]);
    let outcome: unknown;
    try {
      outcome = await app.engine.start({ processKey: 'floor_runtime', variables: { cycle: 'R/PT0S' } });
    } catch (error) {
      outcome = error;
    }
    expect(outcome).toBeDefined();
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    // Either the start is refused with a 4xx-class error, or the instance carries an incident / failed.
    if (outcome instanceof Error) {
      expect(outcome.message).toMatch(/shortest cycle/);
    } else {
      const id = (outcome as { id: string }).id;
      await eventually(async () => {
        const incidents = await app.database.knex('incidents').where({ instance_id: id });
        const row = await app.database.knex('process_instances').where({ id }).first();
        return incidents.some((incident: any) => /shortest cycle/.test(incident.message)) || (row.status === 'failed' && /shortest cycle/.test(row.error_message));
      });
    }
  });
});

describe('a timer-start cycle that missed ticks', () => {
  it('when the node was down for many ticks, then it fires once and keeps its rhythm from now', () => {
    const firedAt = new Date('2026-01-01T00:00:00Z'); // the missed due time being fired now
    const now = new Date('2026-01-01T00:00:30Z'); // 30 s later: 15 ticks of R/PT2S were missed
    const next = nextStartTimerDue('timeCycle', 'R/PT2S', { firedAt, remaining: -1 }, now)!;
    expect(next.dueAt.getTime()).toBeGreaterThan(now.getTime());
    expect(next.dueAt.getTime() - now.getTime()).toBeLessThanOrEqual(2000);
  });

  it('when it fires on time, then the next tick keeps the rhythm of the schedule', () => {
    const firedAt = new Date('2026-01-01T00:00:00Z');
    const now = new Date('2026-01-01T00:00:00.150Z'); // the poller took 150 ms
    const next = nextStartTimerDue('timeCycle', 'R/PT2S', { firedAt, remaining: -1 }, now)!;
    expect(next.dueAt.toISOString()).toBe('2026-01-01T00:00:02.000Z');
  });
});
