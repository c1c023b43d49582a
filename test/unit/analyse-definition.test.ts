import { analyseDefinition, closeAnalyser } from '../../src/engine/definitions/analyse-definition.js';
import { bpmn, sequence } from '../support/bpmn.js';

afterAll(() => closeAnalyser());

const rules = (findings: Array<{ rule: string; elementId?: string }>) => findings.map((finding) => `${finding.rule}@${finding.elementId ?? ''}`);

describe('analyseDefinition', () => {
  it('when a diagram is valid, then it is ok with its processes described and a runnable context', async () => {
    const xml = bpmn(
      'valid',
      `<bpmn:startEvent id="start"><bpmn:messageEventDefinition messageRef="Go" /></bpmn:startEvent>
      <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="entropy.measure" />
      <bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
      <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />`,
      '<bpmn:message id="Go" name="go.now" />',
    );
    const analysis = await analyseDefinition(xml);
    expect(analysis.errors).toEqual([]);
    expect(analysis.ok).toBe(true);
    expect(analysis.executableProcessIds).toEqual(['valid']);
    expect(analysis.processes[0]).toMatchObject({
      id: 'valid',
      isExecutable: true,
      messageStartEvents: [{ activityId: 'start', messageName: 'go.now', messageRefId: 'Go' }],
      externalTopics: ['entropy.measure'],
    });
    expect(JSON.parse(analysis.serializedContext!)).toMatchObject({ id: 'defs_valid' });
  });

  it('when a diagram has a DOCTYPE, then it is rejected before parsing', async () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa">]>${bpmn('x', '<bpmn:startEvent id="s" />').replace(/^<\?xml[^>]*>/, '')}`;
    expect(rules((await analyseDefinition(xml)).errors)).toEqual(['no-doctype@']);
  });

  it('when a diagram is larger than the limit, then it is rejected', async () => {
    const analysis = await analyseDefinition(sequence('big', [{ id: 't', xml: '<bpmn:task id="t" />' }]), { maxBytes: 100 });
    expect(rules(analysis.errors)).toEqual(['size-limit@']);
  });

  it('when the text is not BPMN, then the parse error says so', async () => {
    expect((await analyseDefinition('hello')).errors[0]).toMatchObject({ rule: 'parse' });
    expect((await analyseDefinition('<definitions><oops></definitions>')).ok).toBe(false);
  });

  it('when two elements share an id, then the moddle warning is an error naming it', async () => {
    const xml = sequence('dupes', [{ id: 'same', xml: '<bpmn:task id="same" /><bpmn:task id="same" />' }]);
    const analysis = await analyseDefinition(xml);
    expect(analysis.ok).toBe(false);
    expect(analysis.errors).toContainEqual(expect.objectContaining({ rule: 'parse', message: expect.stringContaining('duplicate ID <same>') }));
  });

  it('when execution would go wrong, then lint findings are errors naming the element and rule', async () => {
    const noStart = bpmn('no_start', '<bpmn:task id="alone" /><bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f" sourceRef="alone" targetRef="end" />');
    expect(rules((await analyseDefinition(noStart)).errors)).toContain('start-event-required@no_start');

    const disconnected = bpmn(
      'disconnected',
      '<bpmn:startEvent id="start" /><bpmn:endEvent id="end" /><bpmn:task id="island" /><bpmn:sequenceFlow id="f" sourceRef="start" targetRef="end" />',
    );
    expect(rules((await analyseDefinition(disconnected)).errors)).toContain('no-disconnected@island');

    const unconditioned = bpmn(
      'split',
      `<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="gw" /><bpmn:endEvent id="a" /><bpmn:endEvent id="b" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw" />
      <bpmn:sequenceFlow id="fa" sourceRef="gw" targetRef="a" /><bpmn:sequenceFlow id="fb" sourceRef="gw" targetRef="b" />`,
    );
    expect(rules((await analyseDefinition(unconditioned)).errors)).toEqual(expect.arrayContaining(['unconditioned-split@fa', 'unconditioned-split@fb']));

    const fakeJoin = bpmn(
      'fake_join',
      `<bpmn:startEvent id="start" /><bpmn:parallelGateway id="fork" /><bpmn:task id="joiner" /><bpmn:endEvent id="end" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="fork" />
      <bpmn:sequenceFlow id="f1" sourceRef="fork" targetRef="joiner" /><bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="joiner" />
      <bpmn:sequenceFlow id="f3" sourceRef="joiner" targetRef="end" />`,
    );
    expect(rules((await analyseDefinition(fakeJoin)).errors)).toContain('fake-join@joiner');
  });

  it('when a process has a script task, then it is refused unless scripts are allowed', async () => {
    const xml = sequence('scripted', [{ id: 'run', xml: '<bpmn:scriptTask id="run" scriptFormat="javascript"><bpmn:script>next()</bpmn:script></bpmn:scriptTask>' }]);
    const refused = await analyseDefinition(xml);
    expect(refused.errors).toContainEqual(expect.objectContaining({ rule: 'scripts-disabled', elementId: 'run' }));
    expect((await analyseDefinition(xml, { allowScripts: true })).ok).toBe(true);
  });

  it('when an external task has no topic or a condition does not parse, then the element is named', async () => {
    const noTopic = sequence('no_topic', [{ id: 'ext', xml: '<bpmn:serviceTask id="ext" camunda:type="external" />' }]);
    expect((await analyseDefinition(noTopic)).errors).toContainEqual(expect.objectContaining({ rule: 'external-topic', elementId: 'ext' }));
    const badCondition = bpmn(
      'bad_condition',
      `<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="gw" default="fb" /><bpmn:endEvent id="a" /><bpmn:endEvent id="b" />
      <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw" />
      <bpmn:sequenceFlow id="fa" sourceRef="gw" targetRef="a"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${a.b(}</bpmn:conditionExpression></bpmn:sequenceFlow>
      <bpmn:sequenceFlow id="fb" sourceRef="gw" targetRef="b" />`,
    );
    expect((await analyseDefinition(badCondition)).errors).toContainEqual(expect.objectContaining({ rule: 'expression', elementId: 'fa' }));
  });

  it('when no process is executable, then findings are warnings and the definition is stored as documentation', async () => {
    const xml = bpmn('doc', '<bpmn:task id="loose" />').replace('isExecutable="true"', 'isExecutable="false"');
    const analysis = await analyseDefinition(xml);
    expect(analysis.ok).toBe(true);
    expect(analysis.executableProcessIds).toEqual([]);
    expect(analysis.warnings.length).toBeGreaterThan(0);
    expect(analysis.serializedContext).toBeUndefined();
  });

  it('when a very large diagram is analysed, then the main thread keeps running meanwhile', async () => {
    const steps = Array.from({ length: 15_000 }, (_, index) => ({ id: `t${index}`, xml: `<bpmn:task id="t${index}" name="step ${index}" />` }));
    const xml = sequence('huge', steps);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const started = Date.now();
    const analysis = await analyseDefinition(xml, { maxBytes: 50 * 1024 * 1024, timeoutMs: 60_000 });
    clearInterval(ticker);
    expect(analysis.ok).toBe(true);
    // The event loop ticked through the analysis: at least half the ticks a free loop would give.
    expect(ticks).toBeGreaterThan((Date.now() - started) / 10 / 2);
  }, 60_000);
});
