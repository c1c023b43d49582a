import type { EventEmitter } from 'node:events';
import { Engine } from 'bpmn-engine';
import type { Variables } from '../types.js';
import { safeCopy } from './variables.js';

/**
 * The adapter over bpmn-engine: the one place that creates, recovers, signals and saves its
 * engine and reads its executions, processes and environments. bpmn-engine's typings are
 * narrower than what it accepts and returns, so its objects are `any` here and nowhere else in
 * the runtime; the transition's listeners and orchestration see the typed shapes below.
 *
 * Its extensions (stack-yield.ts, parallel-join.ts, service-binding.ts) and the event
 * sub-process starts (event-sub-process-starts.ts) are plugins into bpmn-elements and reach
 * its activities from inside.
 */

/** What bpmn-elements' activity events (and its `wait`, `activity.call` events) carry. */
export interface ActivityEvent {
  id: string;
  type: string;
  executionId: string;
  content: ActivityEventContent;
  /** The activity's environment: its `variables` are the scope's. */
  environment: { variables?: Variables };
}

export interface ActivityEventContent {
  name?: string;
  /** false for an event fired inside an activity's own execution (an iteration, an event definition). */
  isRootScope?: boolean;
  parent?: { id?: string; type?: string; executionId?: string; path?: Array<{ executionId?: string }> };
  /** What a catch caught from: its thrower. */
  source?: { id?: string };
  /** An error event's error (code, message, description, its source's content). */
  error?: any;
  /** A throw's or catch's message: a bpmn:Error, or bpmn-elements' anonymous throw. */
  message?: any;
  signal?: any;
  calledElement?: unknown;
  isMultiInstance?: boolean;
  index?: unknown;
  [field: string]: unknown;
}

export interface BpmnEngineOptions {
  name: string;
  sourceContext: unknown;
  expressions: object;
  scripts: object;
  timers: object;
  extensions: Record<string, unknown>;
  settings: Record<string, unknown>;
}

/** The no-op logger: bpmn-engine's debug logger costs ~15 % of throughput. */
const silentLogger = () => ({ debug() {}, error() {}, warn() {} });

/**
 * One instance's bpmn-engine: built for a transition, and kept warm between two transitions of
 * the same instance (see warm-instances.ts). Its listener and error handler are this object's,
 * so a warm engine's next transition brings its own; `park` stops it between transitions.
 */
export class BpmnInstance {
  private readonly engine: any;
  private listener: EventEmitter | null = null;
  private errorHandler: (error: unknown) => void = () => {};
  /** What bpmn-engine holds as its listener: forwards to this transition's, or nowhere while parked. */
  private readonly relay = { emit: (event: string, ...args: unknown[]) => this.listener?.emit(event, ...args) ?? false };

  constructor(options: BpmnEngineOptions) {
    this.engine = new Engine({
      name: options.name,
      sourceContext: options.sourceContext,
      Logger: silentLogger,
      expressions: options.expressions,
      scripts: options.scripts,
      timers: options.timers,
      services: {},
      extensions: options.extensions,
      settings: { ...options.settings, enableDummyService: false, strict: false },
    } as any);
    this.engine.on('error', (error: unknown) => this.errorHandler(error));
  }

  /** The engine itself, for the event sub-process starts (a plugin that walks its executions). */
  get raw(): unknown {
    return this.engine;
  }

  /** An unhandled `error` event would kill the Node process: the engine always has this handler (one per transition). */
  onError(handler: (error: unknown) => void): void {
    this.errorHandler = handler;
  }

  async start(listener: EventEmitter, variables: Variables): Promise<void> {
    this.listener = listener;
    await this.engine.execute({ listener: this.relay, variables });
  }

  /** Recovers a fresh copy of the saved state (loaded from the row for this transition) and resumes it. */
  async resume(state: unknown, listener: EventEmitter): Promise<void> {
    this.listener = listener;
    this.engine.recover(state as any);
    await this.engine.resume({ listener: this.relay });
  }

  /**
   * Resumes a parked engine (one stopped by `park` after its last committed transition) as a
   * recovered one resumes: waits, running services and timers announce themselves again.
   */
  async resumeParked(listener: EventEmitter): Promise<void> {
    this.listener = listener;
    await this.engine.resume({ listener: this.relay });
  }

  /**
   * Stops the engine between two transitions, heard by nobody: what it holds stays as the
   * committed state says. False when stopping raised an error (then it must not be reused).
   */
  async park(): Promise<boolean> {
    this.listener = null;
    let failed = false;
    this.errorHandler = () => {
      failed = true;
    };
    // bpmn-engine's stop waits for a `stop` event that only running definitions send: an engine
    // with none running would wait forever. Such an engine, or one slow to stop, is not kept.
    if (!this.engine.execution?.isRunning) return false;
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      Promise.resolve(this.engine.stop()).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 1_000);
      }),
    ]);
    clearTimeout(timer);
    return stopped && !failed && this.engine.execution?.stopped === true;
  }

  stop(): void {
    this.engine.stop();
  }

  /** Idle with nothing postponed: the instance ended. */
  get ended(): boolean {
    return this.engine.state === 'idle' && !(this.engine.execution?.getPostponed?.() ?? []).length;
  }

  /** The state to save, without the embedded definition (the deployment holds it). */
  async saveState(): Promise<Record<string, unknown>> {
    const state = await this.engine.getState();
    for (const definitionState of state?.definitions ?? []) delete definitionState.source;
    return state;
  }

  /** The environment of the instance's process: where process variables live. */
  rootEnvironment(): { variables: Variables } | null {
    for (const definition of this.engine.execution?.definitions ?? []) {
      for (const process of definition.getProcesses?.() ?? []) {
        if (process.environment?.variables) return process.environment;
      }
    }
    return null;
  }

  /**
   * The process variables. bpmn-elements copies the process run message (`fields`, `content`,
   * `properties`) into them; those are engine internals, not variables anyone set.
   */
  rootVariables(): Variables | null {
    const variables = this.rootEnvironment()?.variables;
    if (!variables) return null;
    const copy = { ...variables };
    const content = copy.content as { type?: string } | undefined;
    if (content && typeof content === 'object' && content.type === 'bpmn:Process' && 'fields' in copy) {
      delete copy.content;
      delete copy.fields;
      delete copy.properties;
    }
    return copy;
  }

  /** Signals a waiting activity (by id and execution id) or a message/signal reference. */
  signal(message: { id: string; executionId?: string; message: Variables }): void {
    this.engine.execution.signal(message);
  }
}

/** Fails a waiting call activity with its called instance's BPMN error: its boundary events may catch it. */
export function failCallActivity(api: ActivityEvent, code: string, message: string): void {
  (api as any).sendApiMessage('error', { message, code, calledInstanceError: true });
}

/** Sets process variables as Camunda does: on the root scope, visible to the local scope too. */
export function setVariables(activityEnvironment: { variables?: Variables } | undefined, variables: Variables, root?: { variables: Variables } | null): void {
  const copy = safeCopy(variables);
  if (activityEnvironment?.variables) Object.assign(activityEnvironment.variables, copy);
  if (root && root !== activityEnvironment) Object.assign(root.variables, copy);
}

/** Resolves an expression of an activity (a user task's assignee, ...) in its scope. */
export function resolveInScope(expressions: any, text: string, api: ActivityEvent): unknown {
  if (!expressions.hasExpression(text)) return text;
  return expressions.resolveExpression(text, { environment: api.environment, content: api.content });
}

export type WaitKind = 'user-task' | 'message' | 'signal' | 'other';

export function classifyWait(api: ActivityEvent): WaitKind {
  switch (api.type) {
    case 'bpmn:UserTask':
    case 'bpmn:ManualTask':
      return 'user-task';
    case 'bpmn:MessageEventDefinition':
    case 'bpmn:ReceiveTask':
      return 'message';
    case 'bpmn:SignalEventDefinition':
      return 'signal';
    default:
      return 'other';
  }
}

/** Whether an activity's parent chain (bpmn-elements' `parent` with its `path`) runs in the scope execution (or one of its iterations). */
export function insideScope(parent: ActivityEventContent['parent'], scopeExecutionId: string): boolean {
  if (!parent) return false;
  const within = (executionId?: string) => Boolean(executionId) && (executionId === scopeExecutionId || executionId!.startsWith(`${scopeExecutionId}_`));
  return within(parent.executionId) || (parent.path ?? []).some((ancestor) => within(ancestor.executionId));
}
