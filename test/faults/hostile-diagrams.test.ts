import { analyseDefinition, closeAnalyser, MAX_FINDINGS } from '../../src/engine/definitions/analyse-definition.js';
import { bpmn, sequence } from '../support/bpmn.js';

/** Diagrams are uploaded data: what could run code, stall or flood is refused at deploy, element named. */
describe('hostile diagrams at deploy', () => {
  afterAll(async () => {
    await closeAnalyser();
  });
  const errorsOf = async (xml: string) => (await analyseDefinition(xml)).errors;

  it.each([
    ['an assignee', '<bpmn:userTask id="t" camunda:assignee="${environment.constructor.name}" />'],
    ['an input parameter', '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="x">${a.constructor.prototype}</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>'],
    ['an output parameter', '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:inputOutput><camunda:outputParameter name="x">${a["__proto__"]}</camunda:outputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>'],
    ['a FEEL input', '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="x">=a.constructor</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>'],
    ['a candidate group', '<bpmn:userTask id="t" camunda:candidateGroups="${x.constructor}" />'],
  ])('when %s names constructor, then the deploy is refused naming the element', async (_position, task) => {
    const errors = await errorsOf(sequence('p', [{ id: 't', xml: task }]));
    expect(errors).toEqual(expect.arrayContaining([expect.objectContaining({ elementId: 't', rule: 'expression', message: expect.stringMatching(/constructor, __proto__ or prototype/) })]));
  });

  it.each([
    ['an input parameter', '<camunda:inputOutput><camunda:inputParameter name="x"><camunda:script scriptFormat="javascript">process.exit(1)</camunda:script></camunda:inputParameter></camunda:inputOutput>'],
    ['an execution listener', '<camunda:executionListener event="start"><camunda:script scriptFormat="javascript">process.exit(1)</camunda:script></camunda:executionListener>'],
  ])('when a camunda:script sits in %s, then the deploy is refused naming the element', async (_position, extension) => {
    const errors = await errorsOf(sequence('p', [{ id: 't', xml: `<bpmn:userTask id="t"><bpmn:extensionElements>${extension}</bpmn:extensionElements></bpmn:userTask>` }]));
    expect(errors).toEqual(expect.arrayContaining([expect.objectContaining({ elementId: 't', rule: 'scripts-disabled' })]));
  });

  it.each([
    ['an execution listener with an expression', '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:executionListener event="start" expression="${audit.log(x)}" /></bpmn:extensionElements></bpmn:userTask>'],
    ['an execution listener with a delegate expression', '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:executionListener event="end" delegateExpression="${auditListener}" /></bpmn:extensionElements></bpmn:userTask>'],
    ['an execution listener with a class', '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:executionListener event="start" class="org.example.Audit" /></bpmn:extensionElements></bpmn:userTask>'],
    ['a task listener with an expression', '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:taskListener event="create" expression="${mailer.send(task)}" /></bpmn:extensionElements></bpmn:userTask>'],
    ['a task listener with a class', '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:taskListener event="complete" class="org.example.Notify" /></bpmn:extensionElements></bpmn:userTask>'],
    ['a service task with a Java class', '<bpmn:serviceTask id="t" camunda:class="org.example.Charge" />'],
    ['a service task with a delegate expression', '<bpmn:serviceTask id="t" camunda:delegateExpression="${charge}" />'],
    ['a send task with an expression', '<bpmn:sendTask id="t" camunda:expression="${mailer.send()}" />'],
    ['a service task with a connector', '<bpmn:serviceTask id="t"><bpmn:extensionElements><camunda:connector><camunda:connectorId>http-connector</camunda:connectorId></camunda:connector></bpmn:extensionElements></bpmn:serviceTask>'],
    ['a message throw event with a class', '<bpmn:intermediateThrowEvent id="t"><bpmn:messageEventDefinition camunda:class="org.example.Send" /></bpmn:intermediateThrowEvent>'],
  ])('when %s would never run, then the deploy is refused naming the element instead of ignoring it', async (_what, task) => {
    const errors = await errorsOf(sequence('p', [{ id: 't', xml: task }]));
    expect(errors).toEqual(expect.arrayContaining([expect.objectContaining({ elementId: 't', rule: 'unsupported-extension' })]));
  });

  it('when a diagram carries Camunda 7 settings that have no effect here, then it deploys with a warning naming each', async () => {
    const analysis = await analyseDefinition(
      sequence('p', [
        { id: 'a', xml: '<bpmn:userTask id="a" camunda:asyncBefore="true" camunda:followUpDate="${later}"><bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R3/PT1M</camunda:failedJobRetryTimeCycle></bpmn:extensionElements></bpmn:userTask>' },
        { id: 'c', xml: '<bpmn:callActivity id="c" calledElement="other"><bpmn:extensionElements><camunda:in variables="all" /></bpmn:extensionElements></bpmn:callActivity>' },
      ]),
    );
    expect(analysis.errors).toEqual([]);
    const warned = analysis.warnings.filter((finding) => finding.rule === 'unsupported-extension');
    expect(warned.map((finding) => [finding.elementId, finding.message.match(/camunda:\w+/)![0]])).toEqual(
      expect.arrayContaining([['a', 'camunda:failedJobRetryTimeCycle'], ['a', 'camunda:asyncBefore'], ['a', 'camunda:followUpDate'], ['c', 'camunda:in']]),
    );
  });

  it('when an element has a plain expression listener beside an external task, then only the listener is named', async () => {
    const errors = await errorsOf(
      sequence('p', [{ id: 't', xml: '<bpmn:serviceTask id="t" camunda:type="external" camunda:topic="pay"><bpmn:extensionElements><camunda:executionListener event="start" expression="${x}" /></bpmn:extensionElements></bpmn:serviceTask>' }]),
    );
    expect(errors.filter((finding) => finding.rule === 'unsupported-extension')).toEqual([expect.objectContaining({ elementId: 't', message: expect.stringMatching(/camunda:executionListener \(event start\) with expression/) })]);
  });

  it('when an entity is declared without a DOCTYPE, then the diagram is refused', async () => {
    const xml = sequence('p', []).replace('<bpmn:definitions', '<!ENTITY x "boom">\n<bpmn:definitions');
    const analysis = await analyseDefinition(xml);
    expect(analysis.ok).toBe(false);
    expect(analysis.errors[0]).toMatchObject({ rule: 'no-doctype' });
  });

  it('when a diagram has thousands of findings, then the list is capped', async () => {
    const tasks = Array.from({ length: 3000 }, (_, index) => `<bpmn:userTask id="t${index}" camunda:assignee="\${x.constructor}" />`).join('');
    const analysis = await analyseDefinition(bpmn('p', `<bpmn:startEvent id="s" />${tasks}`));
    expect(analysis.errors.length).toBe(MAX_FINDINGS + 1);
    expect(analysis.errors.at(-1)).toMatchObject({ rule: 'too-many-findings' });
  });

  it('when a diagram has an error, then its finding says the line and column of the element', async () => {
    const xml = sequence('p', [{ id: 't', xml: '<bpmn:userTask id="t" camunda:assignee="${a.constructor}" />' }]);
    const finding = (await errorsOf(xml)).find((candidate) => candidate.elementId === 't')!;
    const lines = xml.split('\n');
    const line = lines.findIndex((text) => text.includes('id="t"')) + 1;
    expect(finding.line).toBe(line);
    expect(finding.column).toBe(lines[line - 1]!.indexOf('<bpmn:userTask') + 1);
  });

  it('when the XML does not parse, then the finding carries the parser position', async () => {
    const analysis = await analyseDefinition(sequence('p', []).replace('<bpmn:endEvent id="end" />', '<bpmn:endEvent id="end" <oops'));
    expect(analysis.ok).toBe(false);
    expect(analysis.errors[0]!.line).toBeGreaterThan(1);
  });

  it('when expressions are ordinary, then they still deploy', async () => {
    const analysis = await analyseDefinition(sequence('p', [{ id: 't', xml: '<bpmn:userTask id="t" camunda:assignee="${owner}" />' }]));
    expect(analysis.errors).toEqual([]);
  });
});
