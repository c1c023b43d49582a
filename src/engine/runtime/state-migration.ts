/**
 * What migration needs from bpmn-engine: the elements of a deployed version (kind, scope,
 * topic) and a saved state moved from one version's ids to another's. It works on the state
 * shape bpmn-engine's `getState()` gives and `recover()` takes (as the adapter hands it), not
 * on how a row stores it.
 *
 * bpmn-elements recovers a process by walking the saved children and looking each one up by
 * id in the definition it runs (ProcessExecution.recover skips ids it does not know), and the
 * engine matches a saved definition to its source by the `bpmn:definitions` id. So moving a
 * state to another version is renaming: the definitions id, every mapped activity id that
 * changes, and the execution ids made from them (`<activity id>_<10 hex>`), wherever they
 * appear (activity states, broker queue names and messages, the visit counters).
 */

import { VISITS_KEY } from './execution-ids.js';
import { STATE_KEY } from './event-sub-process-starts.js';

/** Element kinds that may be mapped onto each other (Camunda 7's migration validators, simplified). */
export interface ElementInfo {
  id: string;
  type: string;
  name?: string;
  /** What a mapping must preserve: user task, message catch, timer catch, external service topic, ... */
  kind: string;
  /** The enclosing sub-process (null: the process). */
  parentId: string | null;
  /** A boundary event's activity. */
  attachedTo?: string;
  /** A service-like task's camunda:topic (or its id when none). */
  topic?: string;
  isEvent: boolean;
}

const SERVICE_TYPES = new Set(['bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:BusinessRuleTask']);
const EVENT_TYPES = new Set(['bpmn:IntermediateCatchEvent', 'bpmn:BoundaryEvent', 'bpmn:ReceiveTask', 'bpmn:StartEvent']);

/** The elements of one compiled definition (its moddle-context-serializer context), by id. */
export function describeElements(sourceContext: unknown, processId: string): Map<string, ElementInfo> {
  const context = sourceContext as { getActivities(scopeId?: string): any[] };
  const elements = new Map<string, ElementInfo>();
  for (const activity of context.getActivities() ?? []) {
    const behaviour = activity.behaviour ?? {};
    const parentId = activity.parent?.id && activity.parent.id !== processId && activity.parent.type !== 'bpmn:Process' ? String(activity.parent.id) : null;
    const eventKinds = ((behaviour.eventDefinitions ?? []) as Array<{ type: string }>)
      .map((definition) => definition.type.replace(/^bpmn:/, '').replace(/EventDefinition$/, '').toLowerCase())
      .sort()
      .join('+');
    const type = String(activity.type);
    let kind = type.replace(/^bpmn:/, '');
    let topic: string | undefined;
    if (SERVICE_TYPES.has(type)) {
      topic = String(behaviour.topic ?? activity.id);
      kind = 'service';
    } else if (type === 'bpmn:UserTask' || type === 'bpmn:ManualTask') kind = 'user-task';
    else if (type === 'bpmn:ReceiveTask') kind = 'receive-task';
    else if (type === 'bpmn:IntermediateCatchEvent') kind = `catch:${eventKinds || 'none'}`;
    else if (type === 'bpmn:BoundaryEvent') kind = `boundary:${eventKinds || 'none'}${behaviour.cancelActivity === false ? ':non-interrupting' : ''}`;
    else if (type === 'bpmn:SubProcess' && behaviour.triggeredByEvent) kind = 'event-sub-process';
    else if (type === 'bpmn:CallActivity') kind = 'call-activity';
    elements.set(String(activity.id), {
      id: String(activity.id),
      type,
      ...(activity.name && { name: String(activity.name) }),
      kind,
      parentId,
      ...(behaviour.attachedTo?.id && { attachedTo: String(behaviour.attachedTo.id) }),
      ...(topic !== undefined && { topic }),
      isEvent: EVENT_TYPES.has(type) || Boolean(eventKinds),
    });
  }
  return elements;
}

/** The definitions id of a compiled definition's context. */
export function definitionsIdOf(sourceContext: unknown): string {
  return String((sourceContext as { id?: string }).id ?? '');
}

/** Why `target` cannot take what runs in `source`, or null when it can. */
export function incompatibility(source: ElementInfo, target: ElementInfo): string | null {
  if (source.kind !== target.kind) return `${source.id} is ${describeKind(source)}, ${target.id} is ${describeKind(target)}`;
  if (source.kind === 'service' && source.topic !== target.topic) {
    return `${source.id} has topic '${source.topic}', ${target.id} has topic '${target.topic}' (an external task keeps its topic)`;
  }
  return null;
}

function describeKind(element: ElementInfo): string {
  return element.kind === 'service' ? `a service task (topic '${element.topic}')` : `a ${element.kind}`;
}

/** An activity that runs in a saved state (a wait state, a sub-process around one, a boundary event armed on one). */
export interface ActiveActivity {
  id: string;
  type: string;
  executionId: string;
}

const ENDED_STATUSES = new Set([undefined, null, 'completed', 'discarded', 'end']);

/** The activities running in a saved bpmn-engine state, at any depth. */
export function activeActivities(state: unknown): ActiveActivity[] {
  const found = new Map<string, ActiveActivity>();
  const visit = (node: unknown, depth: number) => {
    if (!node || typeof node !== 'object' || depth > 60) return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, depth + 1);
      return;
    }
    const record = node as Record<string, unknown>;
    const children = (record.execution as { children?: unknown[] } | undefined)?.children;
    if (Array.isArray(children)) {
      for (const child of children as Array<Record<string, unknown>>) {
        if (child && typeof child === 'object' && !ENDED_STATUSES.has(child.status as string) && typeof child.executionId === 'string') {
          found.set(`${child.id}`, { id: String(child.id), type: String(child.type), executionId: child.executionId });
        }
      }
    }
    for (const [key, value] of Object.entries(record)) {
      if (key === 'broker' || key === 'environment') continue;
      if (value && typeof value === 'object') visit(value, depth + 1);
    }
  };
  visit(state, 0);
  return [...found.values()];
}

const EXECUTION_SUFFIX = /_[0-9a-f]{10}(?:_\d+)?$/;

/**
 * Renames ids (exact strings, and execution ids `<id>_<10 hex>` inside any string, such as
 * queue names `execute-<execution id>-q`) through `renames`.
 */
export class IdRenamer {
  private readonly pattern: RegExp | null;

  constructor(private readonly renames: ReadonlyMap<string, string>) {
    const ids = [...renames.keys()].filter((id) => renames.get(id) !== id).sort((a, b) => b.length - a.length);
    this.pattern = ids.length
      ? new RegExp(`(?<![A-Za-z0-9_.])(${ids.map(escapeRegExp).join('|')})(?=_[0-9a-f]{10}(?![0-9a-f]))`, 'g')
      : null;
  }

  get empty(): boolean {
    return this.pattern === null;
  }

  /** An id, or a string that embeds execution ids (a queue name). */
  text(value: string): string {
    const exact = this.renames.get(value);
    if (exact !== undefined) return exact;
    return this.embedded(value);
  }

  /** Only the execution ids inside a string: an exact match may be anyone's text. */
  embedded(value: string): string {
    if (!this.pattern || !value.includes('_')) return value;
    return value.replace(this.pattern, (id: string) => this.renames.get(id) ?? id);
  }

  /** An execution id; unchanged when its activity is not renamed. */
  executionId(value: string): string {
    return EXECUTION_SUFFIX.test(value) ? this.embedded(value) : value;
  }

  /** A key made of `/`-separated ids (`<scope execution>/<start event>`). */
  key(value: string): string {
    return value.includes('/') ? value.split('/').map((part) => this.text(part)).join('/') : this.text(value);
  }

  /**
   * A deep copy of engine state with ids renamed: exact strings under id fields, execution ids
   * inside any string, keys of the maps keyed by activity. Environments (variables, settings,
   * outputs) are data, copied as they are.
   */
  deep<T>(value: T, field = ''): T {
    if (typeof value === 'string') return (ID_FIELDS.has(field) ? this.text(value) : this.embedded(value)) as T;
    if (!value || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((item) => this.deep(item, field)) as T;
    const copy: Record<string, unknown> = {};
    const keyedByActivity = KEYED_BY_ACTIVITY.has(field);
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (DATA_FIELDS.has(key)) copy[key] = item;
      else copy[keyedByActivity ? this.key(key) : key] = this.deep(item, key);
    }
    return copy as T;
  }
}

/** Fields whose string value is an element's or execution's id. */
const ID_FIELDS = new Set(['id', 'executionId', 'targetId', 'sourceId', 'attachedTo', 'activityId', 'startId', 'eventSubProcessId', 'scopeExecutionId']);
/** Fields holding process data, never renamed. */
const DATA_FIELDS = new Set(['environment', 'variables', 'output', 'settings']);
/** Maps keyed by activity id (or `<scope>/<start>`): the visit counters and the event sub-process timers. */
const KEYED_BY_ACTIVITY = new Set<string>([VISITS_KEY, STATE_KEY]);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The saved state moved onto the target version: the definitions id and the renamed
 * activities (with their executions) take the target's names. The source's embedded
 * definition is never part of it (the adapter strips it), so recover uses the target's.
 */
export function migrateState(state: unknown, renamer: IdRenamer): unknown {
  if (!state || typeof state !== 'object') return state;
  const copy = renamer.deep(state) as Record<string, unknown>;
  for (const definition of (copy.definitions ?? []) as Array<Record<string, unknown>>) delete definition.source;
  return copy;
}

const TIMER_FIELDS = ['expireAt', 'timeout', 'timeDuration', 'timeDate', 'timeCycle', 'timerType', 'repeat', 'startedAt'];

/**
 * Camunda 7's updateEventTrigger for a timer: the saved timer of each given activity forgets its
 * resolved duration, date or cycle and its due time, so on resume it is resolved again from the
 * target's definition, from now (a kept timer keeps the source's text and due time).
 */
export function resetTimers(state: unknown, activityIds: ReadonlySet<string>): void {
  if (!activityIds.size) return;
  const strip = (node: unknown, depth: number): void => {
    if (!node || typeof node !== 'object' || depth > 60) return;
    if (Array.isArray(node)) {
      for (const item of node) strip(item, depth + 1);
      return;
    }
    const record = node as Record<string, unknown>;
    if ('expireAt' in record || 'timerType' in record) for (const field of TIMER_FIELDS) delete record[field];
    for (const [key, value] of Object.entries(record)) if (!DATA_FIELDS.has(key)) strip(value, depth + 1);
  };
  const visit = (node: unknown, depth: number): void => {
    if (!node || typeof node !== 'object' || depth > 60) return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, depth + 1);
      return;
    }
    const record = node as Record<string, unknown>;
    const children = (record.execution as { children?: unknown[] } | undefined)?.children;
    if (Array.isArray(children)) for (const child of children as Array<Record<string, unknown>>) if (child && activityIds.has(String(child.id))) strip(child, 0);
    for (const [key, value] of Object.entries(record)) if (!DATA_FIELDS.has(key)) visit(value, depth + 1);
  };
  visit(state, 0);
  // The process's own queue holds the timer's wait message too.
  const strayMessages = (node: unknown, depth: number): void => {
    if (!node || typeof node !== 'object' || depth > 60) return;
    if (Array.isArray(node)) {
      for (const item of node) strayMessages(item, depth + 1);
      return;
    }
    const record = node as Record<string, unknown>;
    const content = record.content as Record<string, unknown> | undefined;
    if (content && typeof content === 'object' && activityIds.has(String(content.id)) && ('expireAt' in content || 'timerType' in content)) strip(content, 0);
    for (const [key, value] of Object.entries(record)) if (!DATA_FIELDS.has(key)) strayMessages(value, depth + 1);
  };
  strayMessages(state, 0);
}
