import { z } from 'zod';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { bpmn, sequence } from '../support/bpmn.js';
import { createTestApp, eventually } from '../support/test-app.js';

/** BPMN constructs beyond the basics, each run durably through the real engine. */
describe('BPMN semantics', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  const seen: string[] = [];

  beforeAll(async () => {
    const registry = new ServiceTaskRegistry().register({
      topic: 'semantics.record',
      description: 'records the item it is given',
      mode: 'inline',
      input: z.object({ item: z.string().optional() }).passthrough(),
      output: z.object({}).passthrough(),
      handler: async ({ item }) => {
        seen.push(String(item));
        return {};
      },
    });
    app = await createTestApp({ registry });
    app.poller.start();
  });
  afterAll(async () => {
    await app.dispose();
  });

  const ended = async (instanceId: string) =>
    app.database.knex('history').where({ instance_id: instanceId, event: 'end' }).orderBy('id').pluck('activity_id');
  const userTasks = (instanceId: string) =>
    app.database.knex('user_tasks').where({ instance_id: instanceId }).orderBy('activity_id');

  it('when a call activity calls a process with a user task, then the parent waits for the child and gets its variables', async () => {
    const child = sequence('child_review', [{ id: 'check', xml: '<bpmn:userTask id="check" />' }]);
    const parent = sequence('parent_flow', [
      { id: 'call', xml: '<bpmn:callActivity id="call" calledElement="child_review" />' },
      { id: 'after', xml: '<bpmn:userTask id="after" />' },
    ]);
    await app.engine.deploy([
      { name: 'child.bpmn', xml: child },
      { name: 'parent.bpmn', xml: parent },
    ]);
    const started = await app.engine.start({ processKey: 'parent_flow', variables: { ticket: 7 } });
    const childRow = await app.database.knex('process_instances').where({ parent_instance_id: started.id }).first();
    expect(childRow).toMatchObject({ process_key: 'child_review', status: 'active', variables: { ticket: 7 } });

    const [check] = await userTasks(childRow.id);
    await app.engine.completeUserTask(check.id, { verdict: 'fine' });
    await eventually(async () => (await userTasks(started.id)).length === 1);
    const parentRow = await app.engine.getInstance(started.id);
    expect(parentRow.variables).toMatchObject({ ticket: 7, verdict: 'fine' });
    expect(await ended(started.id)).toContain('call');
  });

  it('when an inclusive gateway splits on two true conditions, then its join waits for both', async () => {
    const xml = bpmn(
      'inclusive',
      `<bpmn:startEvent id="start" />
      <bpmn:inclusiveGateway id="split" />
      <bpmn:userTask id="a" /><bpmn:userTask id="b" /><bpmn:userTask id="c" />
      <bpmn:inclusiveGateway id="join" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split" />
      <bpmn:sequenceFlow id="fa" sourceRef="split" targetRef="a"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${x &gt; 1}</bpmn:conditionExpression></bpmn:sequenceFlow>
      <bpmn:sequenceFlow id="fb" sourceRef="split" targetRef="b"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${x &gt; 2}</bpmn:conditionExpression></bpmn:sequenceFlow>
      <bpmn:sequenceFlow id="fc" sourceRef="split" targetRef="c"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${x &gt; 100}</bpmn:conditionExpression></bpmn:sequenceFlow>
      <bpmn:sequenceFlow id="fa2" sourceRef="a" targetRef="join" />
      <bpmn:sequenceFlow id="fb2" sourceRef="b" targetRef="join" />
      <bpmn:sequenceFlow id="fc2" sourceRef="c" targetRef="join" />
      <bpmn:sequenceFlow id="f9" sourceRef="join" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'inclusive.bpmn', xml }]);
    const instance = await app.engine.start({ processKey: 'inclusive', variables: { x: 5 } });
    const tasks = await userTasks(instance.id);
    expect(tasks.map((task) => task.activity_id)).toEqual(['a', 'b']);
    await app.engine.completeUserTask(tasks[0].id);
    expect((await app.engine.getInstance(instance.id)).status).toBe('active');
    await app.engine.completeUserTask(tasks[1].id);
    expect((await app.engine.getInstance(instance.id)).status).toBe('completed');
  });

  it('when an event-based gateway gets its message before the timer, then the timer job is withdrawn', async () => {
    const xml = bpmn(
      'race',
      `<bpmn:startEvent id="start" />
      <bpmn:eventBasedGateway id="gate" />
      <bpmn:intermediateCatchEvent id="answer"><bpmn:messageEventDefinition messageRef="Answer" /></bpmn:intermediateCatchEvent>
      <bpmn:intermediateCatchEvent id="timeout"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
      <bpmn:endEvent id="answered" /><bpmn:endEvent id="timed_out" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gate" />
      <bpmn:sequenceFlow id="f1" sourceRef="gate" targetRef="answer" />
      <bpmn:sequenceFlow id="f2" sourceRef="gate" targetRef="timeout" />
      <bpmn:sequenceFlow id="f3" sourceRef="answer" targetRef="answered" />
      <bpmn:sequenceFlow id="f4" sourceRef="timeout" targetRef="timed_out" />`,
      '<bpmn:message id="Answer" name="race.answer" />',
    );
    await app.engine.deploy([{ name: 'race.bpmn', xml }]);
    const instance = await app.engine.start({ processKey: 'race', businessKey: 'r1' });
    expect(await app.database.knex('jobs').where({ instance_id: instance.id })).toHaveLength(1);
    expect(await app.database.knex('subscriptions').where({ instance_id: instance.id })).toHaveLength(1);
    await app.engine.correlateMessage({ messageName: 'race.answer', businessKey: 'r1' });
    expect((await app.engine.getInstance(instance.id)).status).toBe('completed');
    expect(await app.database.knex('jobs').where({ instance_id: instance.id })).toHaveLength(0);
    expect(await ended(instance.id)).toContain('answered');
  });

  it('when an embedded subprocess waits on a user task, then the task completes it and the outer flow continues', async () => {
    const xml = bpmn(
      'outer',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="sub">
        <bpmn:startEvent id="sub_start" /><bpmn:userTask id="inner" /><bpmn:endEvent id="sub_end" />
        <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner" />
        <bpmn:sequenceFlow id="s2" sourceRef="inner" targetRef="sub_end" />
      </bpmn:subProcess>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub" />
      <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'outer.bpmn', xml }]);
    const instance = await app.engine.start({ processKey: 'outer' });
    const [inner] = await userTasks(instance.id);
    expect(inner.activity_id).toBe('inner');
    const done = await app.engine.completeUserTask(inner.id, { innerResult: 1 });
    expect(done).toMatchObject({ status: 'completed', variables: { innerResult: 1 } });
  });

  it('when a service task is multi-instance over a collection, then it runs once per item, in parallel or in sequence', async () => {
    for (const sequential of [false, true]) {
      const key = sequential ? 'each_sequential' : 'each_parallel';
      const xml = sequence(key, [
        {
          id: 'each',
          xml: `<bpmn:serviceTask id="each" camunda:type="external" camunda:topic="semantics.record">
            <bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="item">\${content.item}</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>
            <bpmn:multiInstanceLoopCharacteristics isSequential="${sequential}"><bpmn:loopDataInputRef>items</bpmn:loopDataInputRef></bpmn:multiInstanceLoopCharacteristics>
          </bpmn:serviceTask>`,
        },
      ]).replace('<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>', '');
      const withCollection = xml.replace(
        '<bpmn:multiInstanceLoopCharacteristics',
        '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}"',
      );
      await app.engine.deploy([{ name: `${key}.bpmn`, xml: withCollection }]);
      seen.length = 0;
      const instance = await app.engine.start({ processKey: key, variables: { items: ['x', 'y', 'z'] } });
      expect(instance.status).toBe('completed');
      expect([...seen].sort()).toEqual(['x', 'y', 'z']);
    }
  });

  it('when a non-interrupting cycle timer fires on a waiting task, then each fire runs its path and the task stays', async () => {
    const xml = bpmn(
      'reminders',
      `<bpmn:startEvent id="start" />
      <bpmn:userTask id="work" />
      <bpmn:boundaryEvent id="remind" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
      <bpmn:serviceTask id="nudge" camunda:type="external" camunda:topic="semantics.record" />
      <bpmn:endEvent id="end" /><bpmn:endEvent id="nudged" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
      <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="nudge" />
      <bpmn:sequenceFlow id="f4" sourceRef="nudge" targetRef="nudged" />`,
    );
    await app.engine.deploy([{ name: 'reminders.bpmn', xml }]);
    const instance = await app.engine.start({ processKey: 'reminders' });
    await eventually(async () => (await ended(instance.id)).filter((id: string) => id === 'nudged').length === 2);
    expect(await userTasks(instance.id)).toHaveLength(1);
    expect(await app.database.knex('jobs').where({ instance_id: instance.id })).toHaveLength(0);
  });

  it('when an escalation is thrown in a subprocess, then the boundary escalation event catches it', async () => {
    const xml = bpmn(
      'escalating',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="sub">
        <bpmn:startEvent id="sub_start" />
        <bpmn:intermediateThrowEvent id="raise"><bpmn:escalationEventDefinition escalationRef="Esc" /></bpmn:intermediateThrowEvent>
        <bpmn:endEvent id="sub_end" />
        <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="raise" />
        <bpmn:sequenceFlow id="s2" sourceRef="raise" targetRef="sub_end" />
      </bpmn:subProcess>
      <bpmn:boundaryEvent id="caught" attachedToRef="sub" cancelActivity="false"><bpmn:escalationEventDefinition escalationRef="Esc" /></bpmn:boundaryEvent>
      <bpmn:endEvent id="end" /><bpmn:endEvent id="escalated" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub" />
      <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="caught" targetRef="escalated" />`,
      '<bpmn:escalation id="Esc" escalationCode="LATE" />',
    );
    await app.engine.deploy([{ name: 'escalating.bpmn', xml }]);
    const instance = await app.engine.start({ processKey: 'escalating' });
    expect(instance.status).toBe('completed');
    expect(await ended(instance.id)).toEqual(expect.arrayContaining(['escalated', 'end']));
  });

  it('when a receive task and a message boundary event wait, then correlated messages move each', async () => {
    const xml = bpmn(
      'receiving',
      `<bpmn:startEvent id="start" />
      <bpmn:receiveTask id="receipt" messageRef="Receipt" />
      <bpmn:userTask id="work" />
      <bpmn:boundaryEvent id="stop_work" attachedToRef="work"><bpmn:messageEventDefinition messageRef="Stop" /></bpmn:boundaryEvent>
      <bpmn:endEvent id="end" /><bpmn:endEvent id="stopped" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="receipt" />
      <bpmn:sequenceFlow id="f2" sourceRef="receipt" targetRef="work" />
      <bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="end" />
      <bpmn:sequenceFlow id="f4" sourceRef="stop_work" targetRef="stopped" />`,
      '<bpmn:message id="Receipt" name="receipt.arrived" /><bpmn:message id="Stop" name="work.stop" />',
    );
    await app.engine.deploy([{ name: 'receiving.bpmn', xml }]);
    const instance = await app.engine.start({ processKey: 'receiving', businessKey: 'rcv-1' });
    await app.engine.correlateMessage({ messageName: 'receipt.arrived', businessKey: 'rcv-1', variables: { receiptNo: 5 } });
    expect(await userTasks(instance.id)).toHaveLength(1);
    await app.engine.correlateMessage({ messageName: 'work.stop', businessKey: 'rcv-1' });
    const done = await app.engine.getInstance(instance.id);
    expect(done).toMatchObject({ status: 'completed', variables: { receiptNo: 5 } });
    expect(await userTasks(instance.id)).toHaveLength(0);
    expect(await ended(instance.id)).toContain('stopped');
  });

  it('when compensation is thrown after a task completed, then its compensation handler runs', async () => {
    const record = (id: string, item: string, extra = '') =>
      `<bpmn:serviceTask id="${id}" camunda:type="external" camunda:topic="semantics.record" ${extra}>
        <bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="item">${item}</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>
      </bpmn:serviceTask>`;
    const xml = bpmn(
      'saga',
      `<bpmn:startEvent id="start" />
      ${record('book', 'booked')}
      <bpmn:boundaryEvent id="on_compensate" attachedToRef="book"><bpmn:compensateEventDefinition /></bpmn:boundaryEvent>
      ${record('cancel_booking', 'cancelled', 'isForCompensation="true"')}
      <bpmn:intermediateThrowEvent id="compensate"><bpmn:compensateEventDefinition /></bpmn:intermediateThrowEvent>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="book" />
      <bpmn:sequenceFlow id="f2" sourceRef="book" targetRef="compensate" />
      <bpmn:sequenceFlow id="f3" sourceRef="compensate" targetRef="end" />
      <bpmn:association id="a1" associationDirection="One" sourceRef="on_compensate" targetRef="cancel_booking" />`,
    );
    await app.engine.deploy([{ name: 'saga.bpmn', xml }]);
    seen.length = 0;
    const instance = await app.engine.start({ processKey: 'saga' });
    expect(instance.status).toBe('completed');
    expect(seen).toEqual(['booked', 'cancelled']);
  });

  it('when a timer start event is deployed, then the job poller starts instances on its schedule', async () => {
    const xml = bpmn(
      'ticking',
      `<bpmn:startEvent id="tick"><bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
      <bpmn:userTask id="look" /><bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="tick" targetRef="look" />
      <bpmn:sequenceFlow id="f2" sourceRef="look" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'ticking.bpmn', xml }]);
    await eventually(async () => (await app.database.knex('process_instances').where({ process_key: 'ticking' })).length === 2);
    // Longer than one cycle (1 s, the shortest a deploy accepts): a third tick would show.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const instances = await app.database.knex('process_instances').where({ process_key: 'ticking' });
    expect(instances).toHaveLength(2);
    for (const instance of instances) expect(await userTasks(instance.id)).toHaveLength(1);
    expect(await app.database.knex('jobs').where({ kind: 'timer-start' })).toHaveLength(0);
  });
});
