import { z } from 'zod';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { BpmnErrorSignal } from '../../src/engine/runtime/service-binding.js';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { bpmn, sequence } from '../support/bpmn.js';
import { TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

const serviceTask = (id: string, topic: string) => `<bpmn:serviceTask id="${id}" camunda:type="external" camunda:topic="${topic}" />`;

function registry() {
  return new ServiceTaskRegistry()
    .register({
      topic: 'tel.add',
      description: 'adds one to n',
      mode: 'inline',
      input: z.object({ n: z.number().default(0) }).passthrough(),
      output: z.object({ n: z.number() }),
      handler: async ({ n }) => ({ n: n + 1 }),
    })
    .register({
      topic: 'tel.reject',
      description: 'raises a BPMN error',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}),
      handler: async () => {
        throw new BpmnErrorSignal('REJECTED', 'rejected by policy');
      },
    })
    .register({
      topic: 'tel.broken',
      description: 'fails (not a BPMN error)',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}),
      handler: async () => {
        throw new Error('downstream unavailable');
      },
    });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('telemetry: engine spans', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let second: App;

  beforeAll(async () => {
    app = await createTestApp({ registry: registry() });
    app.poller.start(); // timers and a child's completion reach their instances through jobs
    // A second engine node on the same database (its own engine, caches and span pipeline).
    second = await createApp(
      loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-unused', REGENFLOW_TOKENS: TEST_TOKENS_SETTING, REGENFLOW_NODE_ID: 'node-2' }),
      { database: app.database, registry: registry(), log: () => {} },
    );
  });
  afterAll(async () => {
    await second.close();
    await app.dispose();
  });

  const spansOf = async (instanceId: string) => {
    await app.telemetry.flush();
    await second.telemetry.flush();
    return app.telemetry.spans.listByInstance(instanceId);
  };

  it('when an instance waits at a user task and another node completes it, then its spans are one trace under the instance span, with the true start times', async () => {
    // Given a process start -> service task -> user task -> end
    const xml = sequence('tel_review', [
      { id: 'prepare', xml: serviceTask('prepare', 'tel.add') },
      { id: 'review', xml: '<bpmn:userTask id="review" name="Review" />' },
    ]);
    await app.engine.deploy([{ name: 'tel_review.bpmn', xml }]);

    // When node 1 starts it and node 2 completes the task 150 ms later
    const started = await app.engine.start({ processKey: 'tel_review', businessKey: 'order-7' });
    await sleep(150);
    const task = await app.database.knex('user_tasks').where({ instance_id: started.id }).first();
    await second.engine.completeUserTask(task.id, { approved: true });

    // Then every span is in the trace stored with the instance
    const instance = await app.engine.getInstance(started.id);
    expect(instance.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(instance.root_span_id).toMatch(/^[0-9a-f]{16}$/);
    const spans = await spansOf(started.id);
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([instance.trace_id]));
    expect(spans.map((span) => span.name).sort()).toEqual(['end', 'prepare', 'review', 'start', 'tel_review']);

    // and the instance span is the root, the parent of every activity span, and encloses them
    const root = spans.find((span) => span.spanId === instance.root_span_id)!;
    expect(root).toMatchObject({ parentSpanId: null, name: 'tel_review', serviceName: 'regenflow', source: 'engine', statusCode: 0 });
    expect(root.attributes).toMatchObject({ 'bpmn.process.key': 'tel_review', 'bpmn.process.version': 1, 'bpmn.instance.id': started.id, status: 'completed' });
    for (const span of spans.filter((item) => item !== root)) {
      expect(span.parentSpanId).toBe(instance.root_span_id);
      expect(span.startTime.getTime()).toBeGreaterThanOrEqual(root.startTime.getTime());
      expect(span.endTime.getTime()).toBeLessThanOrEqual(root.endTime.getTime());
    }

    // and the user task span starts when the task started (first transition), not when it ended
    const history = await app.database.knex('history').where({ instance_id: started.id, activity_id: 'review' }).orderBy('id');
    const review = spans.find((span) => span.name === 'review')!;
    expect(review.startTime.getTime()).toBe(new Date(history.find((row) => row.event === 'start').at).getTime());
    expect(review.endTime.getTime()).toBe(new Date(history.find((row) => row.event === 'end').at).getTime());
    expect(review.durationMs).toBeGreaterThanOrEqual(150);
    expect(review.attributes).toMatchObject({
      'bpmn.process.key': 'tel_review',
      'bpmn.process.version': 1,
      'bpmn.instance.id': started.id,
      'bpmn.activity.id': 'review',
      'bpmn.activity.type': 'bpmn:UserTask',
      'bpmn.activity.name': 'Review',
      'bpmn.business.key': 'order-7',
      status: 'completed',
    });
    expect(review).toMatchObject({ instanceId: started.id, processKey: 'tel_review', processVersion: 1, activityId: 'review' });

    // and span ids are unique
    expect(new Set(spans.map((span) => span.spanId)).size).toBe(spans.length);
  });

  it('when activities run inside a sub-process, then their spans are children of the sub-process span', async () => {
    const xml = bpmn(
      'tel_sub',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="sub">
        <bpmn:startEvent id="s_start" /><bpmn:task id="inner" /><bpmn:endEvent id="s_end" />
        <bpmn:sequenceFlow id="sf1" sourceRef="s_start" targetRef="inner" />
        <bpmn:sequenceFlow id="sf2" sourceRef="inner" targetRef="s_end" />
      </bpmn:subProcess>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub" />
      <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'tel_sub.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'tel_sub' });
    const spans = await spansOf(started.id);
    const byName = Object.fromEntries(spans.map((span) => [span.name, span]));
    expect(byName.sub!.parentSpanId).toBe(started.root_span_id);
    for (const name of ['s_start', 'inner', 's_end']) expect(byName[name]!.parentSpanId).toBe(byName.sub!.spanId);
    expect(byName.inner!.startTime.getTime()).toBeGreaterThanOrEqual(byName.sub!.startTime.getTime());
  });

  it('when a multi-instance sub-process runs twice, then the spans of both iterations are children of the sub-process span', async () => {
    const xml = bpmn(
      'tel_multi',
      `<bpmn:startEvent id="start" />
      <bpmn:subProcess id="sub">
        <bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:loopCardinality>2</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
        <bpmn:startEvent id="s_start" /><bpmn:task id="inner" /><bpmn:endEvent id="s_end" />
        <bpmn:sequenceFlow id="sf1" sourceRef="s_start" targetRef="inner" />
        <bpmn:sequenceFlow id="sf2" sourceRef="inner" targetRef="s_end" />
      </bpmn:subProcess>
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sub" />
      <bpmn:sequenceFlow id="f2" sourceRef="sub" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'tel_multi.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'tel_multi' });
    const spans = await spansOf(started.id);
    const sub = spans.find((span) => span.name === 'sub')!;
    const inner = spans.filter((span) => span.name === 'inner');
    expect(inner).toHaveLength(2);
    for (const span of inner) expect(span.parentSpanId).toBe(sub.spanId);
    const ids = new Set(spans.map((span) => span.spanId));
    for (const span of spans) if (span.parentSpanId) expect(ids.has(span.parentSpanId)).toBe(true);
  });

  it('when a timer boundary event interrupts a waiting user task, then the task span ends then, as interrupted, from its true start', async () => {
    const xml = bpmn(
      'tel_interrupt',
      `<bpmn:startEvent id="start" />
      <bpmn:userTask id="approve" />
      <bpmn:boundaryEvent id="too_late" attachedToRef="approve"><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
      <bpmn:endEvent id="end" /><bpmn:endEvent id="end_late" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
      <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="too_late" targetRef="end_late" />`,
    );
    await app.engine.deploy([{ name: 'tel_interrupt.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'tel_interrupt' });
    await eventually(async () => (await app.engine.getInstance(started.id)).status === 'completed');
    const spans = await spansOf(started.id);
    expect(spans.map((span) => span.name).sort()).toEqual(['approve', 'end_late', 'start', 'tel_interrupt', 'too_late']);
    const approve = spans.find((span) => span.name === 'approve')!;
    expect(approve.attributes).toMatchObject({ status: 'interrupted' });
    expect(approve.durationMs).toBeGreaterThanOrEqual(200);
    expect(approve.parentSpanId).toBe(started.root_span_id);
    expect(approve.endTime.getTime()).toBeLessThanOrEqual(spans.find((span) => span.name === 'tel_interrupt')!.endTime.getTime());
  });

  it('when a BPMN error is caught by a boundary event, then the failing task has an error span and the path taken has normal spans', async () => {
    const xml = bpmn(
      'tel_error',
      `<bpmn:startEvent id="start" />
      ${serviceTask('check', 'tel.reject')}
      <bpmn:boundaryEvent id="rejected" attachedToRef="check"><bpmn:errorEventDefinition errorRef="E" /></bpmn:boundaryEvent>
      <bpmn:endEvent id="end" /><bpmn:endEvent id="end_rejected" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
      <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end" />
      <bpmn:sequenceFlow id="f3" sourceRef="rejected" targetRef="end_rejected" />`,
      '<bpmn:error id="E" errorCode="REJECTED" />',
    );
    await app.engine.deploy([{ name: 'tel_error.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'tel_error' });
    const spans = await spansOf(started.id);
    const check = spans.find((span) => span.name === 'check')!;
    expect(check.statusCode).toBe(2);
    expect(check.attributes).toMatchObject({ status: 'error', error: expect.stringContaining('rejected by policy') });
    expect(spans.find((span) => span.name === 'end_rejected')).toMatchObject({ statusCode: 0 });
    // The end event that never ran has no span.
    expect(spans.find((span) => span.name === 'end')).toBeUndefined();
  });

  it('when an inline handler fails, then the failed attempt is an error span, and cancelling the instance ends its trace', async () => {
    const xml = sequence('tel_broken', [{ id: 'call', xml: serviceTask('call', 'tel.broken') }]);
    await app.engine.deploy([{ name: 'tel_broken.bpmn', xml }]);
    const started = await app.engine.start({ processKey: 'tel_broken' });
    await app.engine.cancel(started.id, 'given up');
    const spans = await spansOf(started.id);
    const attempt = spans.find((span) => span.name === 'call' && span.attributes.status === 'failed')!;
    expect(attempt).toMatchObject({ statusCode: 2, parentSpanId: started.root_span_id });
    expect(attempt.attributes).toMatchObject({ status: 'failed', 'bpmn.incident': true, error: 'tel.broken: downstream unavailable' });
    const root = spans.find((span) => span.spanId === started.root_span_id)!;
    expect(root.attributes).toMatchObject({ status: 'cancelled', 'bpmn.cancel.reason': 'given up' });
    // the parked task was still open: it ends with the instance, as cancelled, from its true start
    const open = spans.find((span) => span.name === 'call' && span.attributes.status === 'cancelled')!;
    expect(open).toMatchObject({ parentSpanId: started.root_span_id, statusCode: 0 });
    expect(open.startTime.getTime()).toBe(attempt.startTime.getTime());
    expect(open.endTime.getTime()).toBe(root.endTime.getTime());
  });

  it('when a call activity runs a child instance, then the child has its own trace that names its parent, and the call span covers the child', async () => {
    const child = sequence('tel_child', [{ id: 'check', xml: '<bpmn:userTask id="check" />' }]);
    const parent = sequence('tel_parent', [{ id: 'call', xml: '<bpmn:callActivity id="call" calledElement="tel_child" />' }]);
    await app.engine.deploy([
      { name: 'tel_child.bpmn', xml: child },
      { name: 'tel_parent.bpmn', xml: parent },
    ]);
    const started = await app.engine.start({ processKey: 'tel_parent' });
    const childRow = await app.database.knex('process_instances').where({ parent_instance_id: started.id }).first();
    expect(childRow.trace_id).not.toBe(started.trace_id);
    const task = await app.database.knex('user_tasks').where({ instance_id: childRow.id }).first();
    await app.engine.completeUserTask(task.id);
    await eventually(async () => (await app.engine.getInstance(started.id)).status === 'completed');

    const childSpans = await spansOf(childRow.id);
    expect(new Set(childSpans.map((span) => span.traceId))).toEqual(new Set([childRow.trace_id]));
    const childRoot = childSpans.find((span) => span.parentSpanId === null)!;
    expect(childRoot).toMatchObject({ name: 'tel_child', spanId: childRow.root_span_id });
    expect(childRoot.attributes).toMatchObject({ 'bpmn.parent.instance.id': started.id, 'bpmn.process.key': 'tel_child' });
    const call = (await spansOf(started.id)).find((span) => span.name === 'call')!;
    expect(childRoot.links).toEqual([{ traceId: started.trace_id, spanId: call.spanId, attributes: { 'bpmn.link': 'called-by' } }]);
    expect(call.attributes).toMatchObject({ 'bpmn.activity.type': 'bpmn:CallActivity', status: 'completed' });
    expect(call.startTime.getTime()).toBeLessThanOrEqual(childRoot.startTime.getTime());
    expect(call.endTime.getTime()).toBeGreaterThanOrEqual(childRoot.endTime.getTime());
  });

  it('when more spans arrive than the queue holds, then the excess is dropped and counted at once, and the rest is written', async () => {
    const lines: string[] = [];
    const config = loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-unused', REGENFLOW_TOKENS: TEST_TOKENS_SETTING, REGENFLOW_SPAN_QUEUE: '100' });
    const small = await createApp(config, { database: app.database, registry: registry(), log: (line) => lines.push(line) });
    try {
      const traceId = 'ab'.repeat(16);
      const spans = Array.from({ length: 150 }, (_, index) => ({
        traceId,
        spanId: (index + 1).toString(16).padStart(16, '0'),
        parentSpanId: null,
        name: `burst ${index}`,
        start: new Date(Date.now() - 5),
        end: new Date(),
        statusCode: 0 as const,
        statusMessage: null,
        attributes: {},
        instanceId: '00000000-0000-4000-8000-000000000001',
        processKey: 'burst',
        processVersion: 1,
        activityId: null,
        activityType: null,
      }));
      small.telemetry.pipeline.enqueue(spans);
      expect(small.telemetry.pipeline.stats).toMatchObject({ queued: 100, dropped: 50 });
      expect(lines.some((line) => line.includes('span queue full (100)'))).toBe(true);
      await small.telemetry.flush();
      expect(await small.telemetry.spans.listByTrace(traceId)).toHaveLength(100);
    } finally {
      await small.close();
    }
  });

  it('when the span store cannot be written, then transitions still commit and the failure is logged', async () => {
    const lines: string[] = [];
    const config = loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-unused', REGENFLOW_TOKENS: TEST_TOKENS_SETTING });
    const third = await createApp(config, { database: app.database, registry: registry(), log: (line) => lines.push(line) });
    try {
      await app.database.knex.schema.renameTable('spans', 'spans_away');
      const xml = sequence('tel_no_store', [{ id: 'add', xml: serviceTask('add', 'tel.add') }]);
      await third.engine.deploy([{ name: 'tel_no_store.bpmn', xml }]);
      const started = await third.engine.start({ processKey: 'tel_no_store', variables: { n: 1 } });
      expect(started.status).toBe('completed');
      await third.telemetry.flush();
      expect(lines.some((line) => line.includes('span store write failed'))).toBe(true);
      expect(third.telemetry.pipeline.stats.failed).toBeGreaterThan(0);
    } finally {
      await app.database.knex.schema.renameTable('spans_away', 'spans');
      await third.close();
    }
  });
});
