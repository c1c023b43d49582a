import { EventEmitter } from 'node:events';
import { Engine } from 'bpmn-engine';
import * as elements from 'bpmn-elements';
import { BpmnModdle } from 'bpmn-moddle';
import serializer, { TypeResolver } from 'moddle-context-serializer';
import { bpmn } from '../support/bpmn.js';
import { LEAN_STATE_FORMAT, leanState, serializeState, stateFormatOf, STATE_FORMAT_KEY } from '../../src/store/instances-state.js';

/** start -> a -> (fork: wait1 | sub-process with an inner wait) -> join -> `extra` plain tasks -> end */
function definition(extra: number): string {
  const tasks = Array.from({ length: extra }, (_, index) => `<bpmn:task id="t${index}" />`).join('');
  const chain = ['join', ...Array.from({ length: extra }, (_, index) => `t${index}`), 'end'];
  const chainFlows = chain
    .slice(1)
    .map((target, index) => `<bpmn:sequenceFlow id="c${index}" sourceRef="${chain[index]}" targetRef="${target}" />`)
    .join('');
  return bpmn(
    'lean',
    `<bpmn:startEvent id="start" />
    <bpmn:task id="a" />
    <bpmn:parallelGateway id="fork" />
    <bpmn:userTask id="wait1" />
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="subStart" />
      <bpmn:userTask id="innerWait" />
      <bpmn:task id="innerUnvisited" />
      <bpmn:endEvent id="subEnd" />
      <bpmn:sequenceFlow id="s1" sourceRef="subStart" targetRef="innerWait" />
      <bpmn:sequenceFlow id="s2" sourceRef="innerWait" targetRef="innerUnvisited" />
      <bpmn:sequenceFlow id="s3" sourceRef="innerUnvisited" targetRef="subEnd" />
    </bpmn:subProcess>
    <bpmn:parallelGateway id="join" />
    ${tasks}
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a" />
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="fork" />
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="wait1" />
    <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="sub" />
    <bpmn:sequenceFlow id="f5" sourceRef="wait1" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="sub" targetRef="join" />
    ${chainFlows}`,
  );
}

/** Parsed once, as regenflow's definition cache hands it to every engine. */
async function compiled(xml: string) {
  const moddleContext = await new BpmnModdle().fromXML(xml);
  return serializer(moddleContext as any, TypeResolver({ ...elements } as any));
}

async function waitingState(xml: string) {
  const engine = new Engine({ name: 'lean', sourceContext: await compiled(xml) } as any);
  await engine.execute({ variables: { order: { id: 7, lines: [1, 2] } } });
  const state = await engine.getState();
  for (const definitionState of state.definitions) delete (definitionState as any).source;
  // As the engine gives it: fields without a value are there as `undefined` (a JSON round trip would hide them).
  return state as unknown as Record<string, unknown>;
}

async function recovered(xml: string, saved: unknown) {
  const engine = new Engine({ name: 'lean', sourceContext: await compiled(xml) } as any);
  engine.recover(JSON.parse(JSON.stringify(saved)));
  return engine;
}

describe('lean instance state', () => {
  it('when a waiting state is stored lean and recovered, then the engine gives back the full state, element for element', async () => {
    const source = definition(20);
    const full = await waitingState(source);
    const lean = leanState(full);
    expect(lean[STATE_FORMAT_KEY]).toBe(LEAN_STATE_FORMAT);
    const text = JSON.stringify(lean);
    // Unvisited elements are gone, at the top and inside the sub-process; visited and waiting ones stay.
    expect(text).not.toContain('"t5"');
    expect(text).not.toContain('"innerUnvisited"');
    expect(text).toContain('"innerWait"');
    expect(text).toContain('"wait1"');
    expect(text).toContain('"lines"');

    // Recovered from the lean state or from the full one, the engine is the same, element for element.
    const stateOf = async (saved: unknown) => {
      const again = await (await recovered(source, saved)).getState();
      for (const definitionState of again.definitions) delete (definitionState as any).source;
      return JSON.parse(JSON.stringify(again));
    };
    const fromLean = await stateOf(lean);
    expect(fromLean).toEqual(await stateOf(full));
    expect(JSON.stringify(fromLean)).toContain('"innerUnvisited"');
  });

  it('when a lean state is resumed, then the instance runs on from its waits to the end as the full one does', async () => {
    const source = definition(5);
    const lean = leanState(await waitingState(source));
    const engine = await recovered(source, lean);
    const ended = new Promise<void>((resolve) => engine.once('end', () => resolve()));
    const listener = new EventEmitter();
    const waiting: string[] = [];
    listener.on('wait', (api: { id: string }) => waiting.push(api.id));
    await engine.resume({ listener });
    expect(waiting.sort()).toEqual(['innerWait', 'wait1']);
    const execution = engine.execution!;
    execution.signal({ id: 'wait1' });
    execution.signal({ id: 'innerWait' });
    await ended;
    const visited = execution.definitions[0]!.getProcesses()[0]!.getActivityById('t4') as unknown as { counters: { taken: number } };
    expect(visited.counters.taken).toBe(1);
  });

  it('when the definition grows from 4 to 1,000 plain activities, then the stored state does not grow with it', async () => {
    const small = serializeState(await waitingState(definition(4)));
    const large = serializeState(await waitingState(definition(1_000)));
    // Only the execution ids and timestamps differ in length: a few bytes, not ~180 per activity.
    expect(Math.abs(large.length - small.length)).toBeLessThan(64);
  });

  it('when a row was written before the lean format, then it reads as format 1; lean rows as 2', async () => {
    const full = await waitingState(definition(2));
    expect(stateFormatOf(full)).toBe(1);
    expect(stateFormatOf(JSON.parse(serializeState(full)))).toBe(2);
    expect(serializeState(null)).toBe('null');
  });
});
