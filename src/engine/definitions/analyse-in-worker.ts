import { createRequire } from 'node:module';
import { BpmnModdle } from 'bpmn-moddle';
import serializer from 'moddle-context-serializer';
import { hasExpression, safeConditionLanguage, validateExpressionSyntax } from '../expressions.js';
import { timerTextProblem } from '../timer-schedule.js';
import type { DefinitionAnalysis, Finding, ProcessInfo } from './analysis-types.js';
import { normalizeNamespaces } from './namespaces.js';
import { describeEndEvents, describeStartEvents, formFieldFindings } from './start-forms.js';
import { typeResolver } from './type-resolver.js';

const require = createRequire(import.meta.url);
const camundaSchema = require('camunda-bpmn-moddle/resources/camunda.json');
const { Linter } = require('bpmnlint');
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver');

/**
 * bpmnlint rules and what they mean for an executable process. Errors make execution
 * wrong or impossible; warnings are style. Documentation-only processes get warnings only.
 */
export const LINT_RULES: Record<string, 'error' | 'warn'> = {
  'start-event-required': 'error', // nothing to start
  'no-disconnected': 'error', // unreachable or dead-end element
  'conditional-flows': 'error', // an unconditioned split out of a conditional gateway
  'fake-join': 'error', // a task "joining" concurrent flows runs once per token (see concurrentJoin)
  'no-complex-gateway': 'error', // not executable here
  'no-duplicate-sequence-flows': 'error', // tokens doubled
  'single-blank-start-event': 'error', // which blank start runs is undefined
  'single-event-definition': 'error', // multiple event definitions are not executable here
  'event-sub-process-typed-start-event': 'error',
  'sub-process-blank-start-event': 'error',
  'link-event': 'error', // unmatched link throw/catch
  'event-based-gateway': 'error',
  'end-event-required': 'warn', // implicit end is legal BPMN
  'no-implicit-split': 'warn', // implicit parallel split is legal BPMN
  'no-implicit-end': 'warn',
  'no-implicit-start': 'warn',
  'no-gateway-join-fork': 'warn',
  'label-required': 'warn',
  'no-bpmndi': 'warn',
  'no-overlapping-elements': 'warn',
  'superfluous-gateway': 'warn',
  'superfluous-label': 'warn',
  'superfluous-termination': 'warn',
  'ad-hoc-sub-process': 'warn',
  global: 'warn',
};

const lintResolver = new NodeResolver();
/** moddle warnings that do not make a document wrong. */
const HARMLESS_WARNINGS = [
  /unsupported document encoding/,
  // references into a vendor's namespace (e.g. itemSubjectRef="triso:unspecified")
  /unresolved reference <(?!bpmn:)[\w-]+:[^>]*>/,
];

/** Parses, lints and checks one diagram. Runs inside the analyser worker thread. */
export async function analyseXml(xml: string, options: { allowScripts: boolean }): Promise<DefinitionAnalysis> {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  const moddle = new BpmnModdle({ camunda: camundaSchema });
  let parsed: any;
  try {
    parsed = await moddle.fromXML(normalizeNamespaces(xml), 'bpmn:Definitions');
  } catch (error) {
    const message = (error as Error).message;
    return failed([{ severity: 'error', rule: 'parse', message: `not a BPMN 2.0 document: ${message}`, ...positionIn(message) }]);
  }
  // bpmn-moddle only warns about duplicate ids, unknown elements and dangling references.
  for (const warning of parsed.warnings ?? []) {
    if (HARMLESS_WARNINGS.some((pattern) => pattern.test(String(warning.message)))) {
      warnings.push({ severity: 'warning', rule: 'parse', message: String(warning.message).split('\n')[0] ?? '' });
      continue;
    }
    // "unparsable content <x> detected\n\tline: …\n\tnested error: duplicate ID <y>": keep the cause.
    const lines = String(warning.message).split('\n').map((line) => line.trim());
    const nested = lines.find((line) => line.startsWith('nested error:'))?.replace('nested error: ', '');
    const where = lines.find((line) => line.startsWith('line:'));
    errors.push({
      severity: 'error',
      rule: 'parse',
      elementId: warning.element?.id,
      message: [lines[0], nested, where].filter(Boolean).join('; '),
      ...positionIn(String(warning.message)),
    });
  }
  const definitions = parsed.rootElement;
  if (!definitions || definitions.$type !== 'bpmn:Definitions') {
    return failed([{ severity: 'error', rule: 'parse', message: 'the root element is not bpmn:definitions' }]);
  }

  // Serialize before linting: bpmnlint touches lazy collections (eventDefinitions, incoming),
  // and an empty `eventDefinitions` makes bpmn-elements treat a blank start event as typed.
  let serializedContext: string | undefined;
  let serializeProblem: string | undefined;
  try {
    serializedContext = serializer(prepareForSerializer(parsed), typeResolver).serialize();
  } catch (error) {
    serializeProblem = (error as Error).message;
  }

  const processes: any[] = (definitions.rootElements ?? []).filter((element: any) => element.$type === 'bpmn:Process');
  const owner = new Map<string, any>(); // element id -> process
  for (const process of processes) walk(process, (element) => owner.set(element.id, process));
  for (const collaboration of (definitions.rootElements ?? []).filter((element: any) => element.$type === 'bpmn:Collaboration')) {
    for (const participant of collaboration.participants ?? []) if (participant.processRef) owner.set(participant.id, participant.processRef);
  }
  const executable = processes.filter((process) => process.isExecutable);
  const severityFor = (elementId: string | undefined, severity: 'error' | 'warning'): 'error' | 'warning' => {
    if (severity === 'warning') return 'warning';
    const process = elementId ? owner.get(elementId) : undefined;
    if (process) return process.isExecutable ? 'error' : 'warning';
    return executable.length ? 'error' : 'warning';
  };
  const report = (finding: Finding) => (finding.severity === 'error' ? errors : warnings).push(finding);

  for (const process of processes) linkFlows(process);
  // A fresh linter each time: bpmnlint rule instances keep state between lint() calls.
  const linter = new Linter({ config: { rules: LINT_RULES }, resolver: lintResolver });
  const lintResults: Record<string, Array<{ id?: string; message: string; category: string }>> = await linter.lint(definitions);
  for (const [rule, findings] of Object.entries(lintResults)) {
    for (const finding of findings) {
      let configured: 'error' | 'warning' = finding.category === 'error' ? 'error' : 'warning';
      // Merging alternatives (a loop back, two exclusive branches) into a task is plain BPMN;
      // only tokens that can arrive together make a task run twice.
      if (rule === 'fake-join' && finding.id && !receivesConcurrentTokens(elementsById(definitions).get(finding.id))) {
        configured = 'warning';
      }
      report({ severity: severityFor(finding.id, configured), rule, elementId: finding.id, message: finding.message });
    }
  }

  for (const process of executable) checkExecutable(process, options, report);
  if (serializeProblem && executable.length) {
    report({ severity: 'error', rule: 'unsupported', message: `the engine cannot load this diagram: ${serializeProblem}` });
  }

  const info = processes.map(describeProcess);
  if (!processes.length) report({ severity: 'error', rule: 'parse', message: 'the document has no bpmn:process' });
  const ok = errors.length === 0;
  locateFindings(xml, errors);
  locateFindings(xml, warnings);
  return {
    ok,
    definitionsId: definitions.id,
    name: definitions.name,
    errors,
    warnings,
    processes: info,
    executableProcessIds: executable.map((process) => process.id),
    serializedContext: ok && executable.length ? serializedContext : undefined,
  };

  function failed(findings: Finding[]): DefinitionAnalysis {
    return { ok: false, errors: findings, warnings: [], processes: [], executableProcessIds: [] };
  }
}

/**
 * `<bpmn:incoming>`/`<bpmn:outgoing>` are optional in the XML (bpmn-js writes them, other
 * tools often do not) while bpmnlint reads connectivity from them: derive them from the flows.
 */
function linkFlows(container: any): void {
  for (const element of container.flowElements ?? []) {
    if (element.$type === 'bpmn:SequenceFlow') {
      for (const [end, list] of [
        [element.sourceRef, 'outgoing'],
        [element.targetRef, 'incoming'],
      ] as const) {
        if (!end) continue;
        end[list] ??= [];
        if (!end[list].includes(element)) end[list].push(element);
      }
    }
    if (element.flowElements) linkFlows(element);
  }
}

/**
 * moddle-context-serializer crashes on two legal, purely descriptive constructs: performers
 * without an assignment expression, and message flows to a black-box pool (a participant
 * without a process). Neither affects execution, so the copy it serializes leaves them out.
 */
function prepareForSerializer(parsed: any): any {
  const definitions = parsed.rootElement;
  const visit = (container: any) => {
    for (const element of container.flowElements ?? []) {
      if (Array.isArray(element.resources)) {
        element.resources = element.resources.filter((resource: any) => resource.resourceAssignmentExpression);
      }
      if (element.flowElements) visit(element);
    }
  };
  for (const root of definitions.rootElements ?? []) {
    if (root.$type === 'bpmn:Process') visit(root);
    if (root.$type === 'bpmn:Collaboration' && root.messageFlows) {
      const blackBoxes = new Set(
        (root.participants ?? []).filter((participant: any) => !participant.processRef).map((participant: any) => participant.id),
      );
      root.messageFlows = root.messageFlows.filter(
        (flow: any) => !blackBoxes.has(flow.sourceRef?.id) && !blackBoxes.has(flow.targetRef?.id),
      );
    }
  }
  return parsed;
}

/** Tasks whose work is done by a worker (in-process or remote) on a topic. */
const SERVICE_TYPES = new Set(['bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:BusinessRuleTask']);
/** A business rule task with `camunda:decisionRef` evaluates a decision in the engine: no topic, no worker. */
const callsDecision = (element: any) => element.$type === 'bpmn:BusinessRuleTask' && Boolean(element.decisionRef);

const byIdCache = new WeakMap<object, Map<string, any>>();
function elementsById(definitions: any): Map<string, any> {
  let map = byIdCache.get(definitions);
  if (!map) {
    const built = new Map<string, any>();
    for (const root of definitions.rootElements ?? []) if (root.flowElements) walk(root, (element) => built.set(element.id, element));
    byIdCache.set(definitions, built);
    map = built;
  }
  return map;
}

const FORKING = new Set(['bpmn:ParallelGateway', 'bpmn:InclusiveGateway', 'bpmn:ComplexGateway']);

/**
 * Whether two incoming flows of an element can carry tokens of one fork at the same time:
 * walking back from each incoming flow (through anything but a joining gateway), two of
 * them reach the same parallel or inclusive fork, or an activity with an implicit split.
 */
function receivesConcurrentTokens(element: any): boolean {
  if (!element || (element.incoming?.length ?? 0) < 2) return false;
  const forksPerFlow = element.incoming.map((flow: any) => {
    const forks = new Set<string>();
    const seen = new Set<any>();
    const queue = [flow.sourceRef];
    while (queue.length) {
      const node = queue.shift();
      if (!node || seen.has(node) || node === element) continue;
      seen.add(node);
      const outgoing = node.outgoing?.length ?? 0;
      const isGateway = String(node.$type).endsWith('Gateway');
      if (outgoing > 1 && (FORKING.has(node.$type) || !isGateway)) forks.add(node.id);
      if (FORKING.has(node.$type) && (node.incoming?.length ?? 0) > 1) continue; // a join ends concurrency
      for (const incoming of node.incoming ?? []) queue.push(incoming.sourceRef);
    }
    return forks;
  });
  for (let i = 0; i < forksPerFlow.length; i++) {
    for (let j = i + 1; j < forksPerFlow.length; j++) {
      for (const fork of forksPerFlow[i]) if (forksPerFlow[j].has(fork)) return true;
    }
  }
  return false;
}

function walk(container: any, visit: (element: any) => void): void {
  for (const element of [...(container.flowElements ?? []), ...(container.artifacts ?? [])]) {
    visit(element);
    if (element.flowElements) walk(element, visit);
  }
  for (const lane of container.laneSets?.flatMap((set: any) => set.lanes ?? []) ?? []) visit(lane);
}

/** Names an expression may never reach: the evaluator reads none of them, and a diagram that tries is hostile. */
const PROTOTYPE_NAMES = /\b(constructor|__proto__|prototype)\b/;
/** Moddle properties that point at other elements (walked from their owners, not through the reference). */
const REFERENCES = new Set(['$parent', 'sourceRef', 'targetRef', 'attachedToRef', 'default', 'messageRef', 'signalRef', 'errorRef', 'escalationRef', 'incoming', 'outgoing', 'flowElements', 'artifacts', 'laneSets', 'calledElementRef', 'dataObjectRef', 'categoryValueRef', 'processRef']);

/**
 * Every text of one element, its extension elements included (camunda:inputOutput, listeners,
 * properties, fields): expressions must parse and may not name constructor, __proto__ or
 * prototype, and scripts in places the engine never runs them are refused, element named.
 */
function checkTexts(element: any, error: (elementId: string, rule: string, message: string) => void): void {
  const seen = new Set<any>();
  const visit = (node: any, where: string) => {
    if (!node || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (node.$type === 'camunda:Script') {
      error(element.id, 'scripts-disabled', `${where}: a camunda:script is not supported here (it would never run); use an expression`);
      return;
    }
    if ((node.$type === 'camunda:ExecutionListener' || node.$type === 'camunda:TaskListener') && node.script) {
      error(element.id, 'scripts-disabled', `${where}: script listeners are not supported (they would never run)`);
      return;
    }
    // Script conditions are judged with script tasks (--allow-scripts), not as expressions.
    if (node.$type === 'bpmn:FormalExpression' && node.language && !safeConditionLanguage(node.language)) return;
    for (const [key, value] of Object.entries(node)) {
      if (REFERENCES.has(key) || key === '$type' || key === 'documentation') continue;
      const path = `${where}.${key}`;
      if (typeof value === 'string') {
        if (!hasExpression(value)) continue;
        if (PROTOTYPE_NAMES.test(value)) {
          error(element.id, 'expression', `${path}: an expression may not refer to constructor, __proto__ or prototype`);
          continue;
        }
        // Conditions' syntax is checked with their language below; every other text here.
        const problem = node.$type === 'bpmn:FormalExpression' && where.endsWith('.conditionExpression') ? null : validateExpressionSyntax(value);
        if (problem) error(element.id, 'expression', `${path}: ${problem}`);
      } else if (Array.isArray(value)) {
        value.forEach((item, index) => visit(item, `${path}[${index}]`));
      } else if (value && typeof value === 'object' && key !== 'di') {
        visit(value, path);
      }
    }
  };
  visit(element, element.id);
}

function checkExecutable(process: any, options: { allowScripts: boolean }, report: (finding: Finding) => void): void {
  const error = (elementId: string, rule: string, message: string) => report({ severity: 'error', rule, elementId, message });
  walk(process, (element) => {
    const type: string = element.$type;
    // A script task's own script is judged below (--allow-scripts); its body is no expression.
    if (type !== 'bpmn:ScriptTask') checkTexts(element, error);
    if (type === 'bpmn:ScriptTask' && !options.allowScripts) {
      error(element.id, 'scripts-disabled', 'script tasks are disabled; start the server with --allow-scripts');
    }
    if (type === 'bpmn:SequenceFlow' && element.conditionExpression) {
      const condition = element.conditionExpression;
      const safeLanguage = condition.language ? safeConditionLanguage(condition.language) : 'juel';
      if (!safeLanguage && !options.allowScripts) {
        error(element.id, 'scripts-disabled', `script conditions (${condition.language}) are disabled; use an expression`);
      } else if (safeLanguage && typeof condition.body === 'string') {
        const body = condition.body.trim();
        const problem = validateExpressionSyntax(safeLanguage === 'feel' && !body.startsWith('=') ? `=${body}` : body);
        if (problem) error(element.id, 'expression', problem);
      }
    }
    // bpmnlint's conditional-flows only looks at gateways that already have a condition or a
    // default; an exclusive split with no condition at all would silently take the first flow.
    if (type === 'bpmn:ExclusiveGateway' && (element.outgoing?.length ?? 0) > 1) {
      for (const flow of element.outgoing) {
        if (!flow.conditionExpression && element.default !== flow) {
          error(flow.id, 'unconditioned-split', `${flow.id} leaves the split ${element.id} without a condition and is not its default flow`);
        }
      }
    }
    if (SERVICE_TYPES.has(type) && !callsDecision(element)) {
      if (element.type === 'external' && !element.topic) error(element.id, 'external-topic', 'an external task needs camunda:topic');
      if (element.type !== 'external' && !element.topic) {
        report({
          severity: 'warning',
          rule: 'service-binding',
          elementId: element.id,
          message: `${type.slice(5)} has no camunda:topic: it waits as an external task on topic '${element.id}'`,
        });
      }
    }
    if (type === 'bpmn:CallActivity' && !element.calledElement) {
      error(element.id, 'call-activity', 'a call activity needs calledElement (the process key to call)');
    }
    for (const definition of element.eventDefinitions ?? []) {
      switch (definition.$type) {
        case 'bpmn:TimerEventDefinition':
          if (!definition.timeDate && !definition.timeDuration && !definition.timeCycle) {
            error(element.id, 'timer', 'a timer needs timeDate, timeDuration or timeCycle');
          }
          // Every position (start, boundary, intermediate, event sub-process): a text that is
          // no timer, or a cycle under the floor, would fail or stall the node when it runs.
          for (const timerType of ['timeDate', 'timeDuration', 'timeCycle'] as const) {
            const body = definition[timerType]?.body;
            if (typeof body !== 'string' || hasExpression(body)) continue;
            const problem = timerTextProblem(timerType, body);
            if (problem) error(element.id, 'timer', `${element.id}: ${problem}`);
          }
          break;
        case 'bpmn:MessageEventDefinition':
          // A throw event may send an unnamed message; a catch must know what it waits for.
          if (!definition.messageRef) {
            if (!['bpmn:IntermediateThrowEvent', 'bpmn:EndEvent'].includes(type)) {
              error(element.id, 'message', 'a message event needs messageRef');
            }
          }
          else if (!definition.messageRef.name) error(definition.messageRef.id, 'message', 'a message needs a name to be correlated');
          break;
        case 'bpmn:SignalEventDefinition':
          if (!definition.signalRef) error(element.id, 'signal', 'a signal event needs signalRef');
          else if (!definition.signalRef.name) error(definition.signalRef.id, 'signal', 'a signal needs a name to be broadcast');
          break;
      }
    }
    for (const finding of formFieldFindings(element)) report(finding);
    unrunExtensions(element, report);
    if (type === 'bpmn:ReceiveTask' && element.messageRef && !element.messageRef.name) {
      error(element.messageRef.id, 'message', 'a message needs a name to be correlated');
    }
  });
}

/** Java-side implementations a Camunda 7 diagram may name: regenflow has no Java, so none of them can run. */
const JAVA_BINDINGS = ['class', 'delegateExpression', 'expression'] as const;

/**
 * Camunda 7 extensions that deploy in Camunda Modeler but that this engine would not run.
 * What changes behaviour is refused, element named (a listener or a delegate that never runs
 * would skip work silently); what only tunes C7's job executor or variable passing is a
 * warning, so the modeller knows it has no effect here.
 */
function unrunExtensions(element: any, report: (finding: Finding) => void): void {
  const type: string = element.$type;
  const error = (message: string) => report({ severity: 'error', rule: 'unsupported-extension', elementId: element.id, message });
  const warning = (message: string) => report({ severity: 'warning', rule: 'unsupported-extension', elementId: element.id, message });
  for (const value of element.extensionElements?.values ?? []) {
    if (value.$type === 'camunda:ExecutionListener' || value.$type === 'camunda:TaskListener') {
      const listener = value.$type === 'camunda:ExecutionListener' ? 'camunda:executionListener' : 'camunda:taskListener';
      const binding = JAVA_BINDINGS.find((name) => value[name]);
      if (binding) {
        error(`${element.id}: the ${listener} (event ${value.event ?? 'unset'}) with ${binding} '${String(value[binding]).slice(0, 100)}' would never run: regenflow runs no listeners; model the work as a task`);
      }
    } else if (value.$type === 'camunda:Connector') {
      error(`${element.id}: camunda:connector would never run; use camunda:type="external" with a topic`);
    } else if (value.$type === 'camunda:FailedJobRetryTimeCycle') {
      warning(`${element.id}: camunda:failedJobRetryTimeCycle has no effect here; retries and their timeout come from the worker's failure call`);
    } else if (value.$type === 'camunda:In' || value.$type === 'camunda:Out') {
      warning(`${element.id}: camunda:in/camunda:out have no effect here; a call activity passes every variable both ways`);
    } else if (value.$type === 'camunda:ErrorEventDefinition') {
      warning(`${element.id}: camunda:errorEventDefinition has no effect here; a worker raises a BPMN error with handleBpmnError`);
    }
  }
  // A task (or a message throw event) bound to a Java delegate would wait as an external task
  // on its id for a worker nobody runs.
  const javaBound = (owner: any) => JAVA_BINDINGS.find((name) => typeof owner?.[name] === 'string' && owner[name]);
  const delegates = [element, ...(element.eventDefinitions ?? []).filter((definition: any) => definition.$type === 'bpmn:MessageEventDefinition')];
  for (const owner of delegates) {
    const binding = javaBound(owner);
    if (binding && (owner !== element || SERVICE_TYPES.has(type))) {
      error(`${element.id}: camunda:${binding} '${String(owner[binding]).slice(0, 100)}' names Java code, which regenflow cannot run; use camunda:type="external" with camunda:topic`);
    }
  }
  if (element.asyncBefore || element.asyncAfter || element.async) {
    warning(`${element.id}: camunda:asyncBefore/asyncAfter have no effect here; every wait state is already a committed transition`);
  }
  if (type === 'bpmn:StartEvent' && element.initiator) warning(`${element.id}: camunda:initiator has no effect here; no variable names who started the instance`);
  if (type === 'bpmn:UserTask' && element.followUpDate) warning(`${element.id}: camunda:followUpDate has no effect here`);
}

function describeProcess(process: any): ProcessInfo {
  const info: ProcessInfo = {
    id: process.id,
    name: process.name,
    isExecutable: Boolean(process.isExecutable),
    messageStartEvents: [],
    signalStartEvents: [],
    timerStartEvents: [],
    eventSubProcessTimerStarts: [],
    externalTopics: [],
  };
  for (const element of process.flowElements ?? []) {
    if (element.$type !== 'bpmn:StartEvent') continue;
    for (const definition of element.eventDefinitions ?? []) {
      if (definition.$type === 'bpmn:MessageEventDefinition' && definition.messageRef?.name) {
        info.messageStartEvents.push({ activityId: element.id, messageName: definition.messageRef.name, messageRefId: definition.messageRef.id });
      }
      if (definition.$type === 'bpmn:SignalEventDefinition' && definition.signalRef?.name) {
        info.signalStartEvents.push({ activityId: element.id, signalName: definition.signalRef.name, signalRefId: definition.signalRef.id });
      }
      if (definition.$type === 'bpmn:TimerEventDefinition') {
        for (const timerType of ['timeDate', 'timeDuration', 'timeCycle'] as const) {
          const body = definition[timerType]?.body;
          if (body) info.timerStartEvents.push({ activityId: element.id, timerType, expression: String(body).trim() });
        }
      }
    }
  }
  const topics = new Set<string>();
  walk(process, (element) => {
    if (SERVICE_TYPES.has(element.$type) && !callsDecision(element)) topics.add(element.topic ?? element.id);
    if (element.$type !== 'bpmn:SubProcess' || !element.triggeredByEvent) return;
    for (const start of element.flowElements ?? []) {
      if (start.$type !== 'bpmn:StartEvent') continue;
      for (const definition of start.eventDefinitions ?? []) {
        if (definition.$type !== 'bpmn:TimerEventDefinition') continue;
        for (const timerType of ['timeDate', 'timeDuration', 'timeCycle'] as const) {
          const body = definition[timerType]?.body;
          if (body) info.eventSubProcessTimerStarts!.push({ activityId: start.id, timerType, expression: String(body).trim() });
        }
      }
    }
  });
  info.externalTopics = [...topics];
  info.startEvents = describeStartEvents(process);
  info.endEvents = describeEndEvents(process);
  return info;
}

/** saxen/moddle messages carry `line: N` and `column: M` (0-based): 1-based here, as editors count. */
function positionIn(message: string): { line?: number; column?: number } {
  const line = /line: (\d+)/.exec(message);
  const column = /column: (\d+)/.exec(message);
  return line ? { line: Number(line[1]) + 1, column: column ? Number(column[1]) + 1 : 1 } : {};
}

/** Where each finding's element starts in the XML (its `id="…"` attribute), for editors and C7 clients. */
function locateFindings(xml: string, findings: Finding[]): void {
  const lineStarts: number[] = [0];
  for (let index = xml.indexOf('\n'); index !== -1; index = xml.indexOf('\n', index + 1)) lineStarts.push(index + 1);
  for (const finding of findings.slice(0, 100)) {
    if (finding.line !== undefined || !finding.elementId) continue;
    let at = xml.indexOf(`id="${finding.elementId}"`);
    if (at === -1) at = xml.indexOf(`id='${finding.elementId}'`);
    if (at === -1) continue;
    const tag = xml.lastIndexOf('<', at);
    const offset = tag === -1 ? at : tag;
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (lineStarts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    finding.line = low + 1;
    finding.column = offset - lineStarts[low]! + 1;
  }
}
