import type { CompiledDefinition } from '../definition-cache.js';
import type { ExternalTaskWait, HandlerFailure, Variables } from '../types.js';
import type { InstanceContext } from './process-runtime.js';
import { readInputOutput, type InputOutput } from './camunda-properties.js';
import { idempotencyKeyOf } from './execution-ids.js';

/** What a completed external task (or retried handler) brings into a transition. */
export type ServiceCompletion =
  | { kind: 'complete'; variables: Variables }
  | { kind: 'bpmn-error'; variables: Variables; errorCode: string; errorMessage: string }
  | { kind: 'retry' };

export interface InlineHandlerContext {
  instanceId: string;
  processKey: string;
  businessKey?: string | null;
  activityId: string;
  executionId: string;
  /** `<instance>/<activity>/<visit>[/<iteration>]`: the same on every re-run of one activity instance (handlers run at least once). */
  idempotencyKey: string;
}

/** Runs a topic's in-process handler; throws a BpmnErrorSignal for a BPMN error. */
export type InlineHandler = (input: Variables, context: InlineHandlerContext) => Promise<Variables | void>;
export type InlineHandlerLookup = (topic: string) => InlineHandler | undefined;

/** Thrown by a handler to raise a BPMN error that boundary events catch by `code`. */
export class BpmnErrorSignal extends Error {
  constructor(
    readonly code: string,
    message = code,
    /** Variables set with the error (Camunda 7 handleBpmnError variables). */
    readonly variables: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'BpmnError';
  }
}

const SERVICE_TYPES = new Set(['bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:BusinessRuleTask']);

/** A business rule task's call of a decision (`camunda:decisionRef` and its companions). */
export interface DecisionTaskRequest {
  decisionRef: string;
  /** `camunda:decisionRefBinding`. @default 'latest' */
  binding?: string;
  /** `camunda:decisionRefVersion`, for binding `version`. */
  version?: string;
  resultVariable?: string;
  /** `camunda:mapDecisionResult`. @default 'resultList' */
  mapDecisionResult?: string;
  /** The variables the decision sees: the process variables and the task's input parameters. */
  variables: Variables;
  scope: { instanceId: string; processDefinitionId: string; processKey: string; activityId: string; executionId: string };
}

/**
 * Evaluates decisions for business rule tasks (src/decisions, injected at the composition
 * root). Throws when the decision cannot decide: the task then gets an incident.
 */
export interface DecisionTaskEvaluator {
  evaluate(request: DecisionTaskRequest): Promise<{ variables: Variables; records: unknown[] }>;
}

interface BindingOptions {
  instance: InstanceContext;
  definition: CompiledDefinition;
  inlineHandlers: InlineHandlerLookup;
  completions: Map<string, ServiceCompletion>;
  track(promise: Promise<unknown>): void;
  /** A handler's own work: tracked like any pending work, and its time is not the run's (see maxRunMs). */
  trackHandler(promise: Promise<unknown>): void;
  setVariables(activityEnvironment: any, variables: Variables): void;
  onHandlerFailure(failure: HandlerFailure): void;
  /** Hands a BPMN error to the error event sub-process that catches it; false: raise it at the task. */
  raiseToEventSubProcess(activity: any, executeMessage: any, code: string, message: string): boolean;
  /** The run failed or was stopped: start no more handlers (their work would be thrown away). */
  halted(): boolean;
  /** Business rule tasks with a `camunda:decisionRef` evaluate through it; absent: they are service tasks. */
  decisions?: DecisionTaskEvaluator;
  /** Keeps a decision's evaluation records for the transition's commit. */
  recordDecisions?(records: unknown[]): void;
}

/**
 * Binds every service, send and business-rule task to one service: its topic is
 * `camunda:topic`, or the activity id when the diagram names none (deploy warns about that).
 * bpmn-engine calls a service
 * again, with the same execution id, when it resumes a saved state in which the task was
 * running: that is how a completed external task re-enters the engine. A service that has
 * neither a completion nor an inline handler simply does not call back: the task waits.
 */
export function bindServiceTasks(initial: BindingOptions) {
  // The engine keeps the services bound at its construction; a warm instance's next transition
  // rebinds them to its own options (see `rebind`), so nothing below may capture one run's.
  let options = initial;
  let pending = new Map<string, ExternalTaskWait>();

  const inert = { activate() {}, deactivate() {} };

  function extension(activity: any) {
    const behaviour = activity.behaviour;
    if (!SERVICE_TYPES.has(activity.type)) return inert;
    const topic = String(behaviour?.topic ?? activity.id);
    const priority = Number(behaviour.taskPriority ?? 0) || 0;
    const io = readInputOutput(behaviour);
    behaviour.Service = function ExternalService() {
      return {
        execute(executeMessage: any, callback: (error: unknown, output?: unknown) => void) {
          const { executionId } = executeMessage.content;
          const environment = activity.environment;
          const finish = (result: Variables | void) => {
            const mapped = mapOutputs(io, result ?? {}, environment, executeMessage);
            options.setVariables(environment, mapped);
            pending.delete(executionId);
            callback(null, result ?? {});
          };
          const raise = (code: string, message: string, variables: Variables = {}) => {
            options.setVariables(environment, variables);
            pending.delete(executionId);
            if (options.raiseToEventSubProcess(activity, executeMessage, code, message)) return;
            // A BpmnErrorSignal, so an error no boundary event catches is told from a technical one.
            callback(new BpmnErrorSignal(code, message));
          };

          const { instance, completions } = options;
          const completion = completions.get(executionId);
          if (completion && completion.kind !== 'retry') {
            completions.delete(executionId);
            // Answer after the resume has redelivered every message: a parallel multi-instance
            // loop subscribes to its iterations' completions only when its own message is
            // redelivered, and an iteration completed before that would be lost (the loop never ends).
            options.track(
              new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
                completion.kind === 'complete'
                  ? finish(completion.variables)
                  : raise(completion.errorCode, completion.errorMessage, completion.variables),
              ),
            );
            return;
          }

          if (options.halted()) return;
          const handler = decisionHandler(activity, environment, executeMessage) ?? options.inlineHandlers(topic);
          const parked = instance.parkedExecutions?.has(executionId) && completion?.kind !== 'retry';
          if (!handler || parked) {
            const localVariables = io.inputs.length ? mapInputs(io, environment, executeMessage) : undefined;
            pending.set(executionId, { activityId: activity.id, executionId, topic, priority, localVariables });
            return;
          }
          completions.delete(executionId);
          const input = mapInputs(io, environment, executeMessage);
          options.trackHandler(
            handler(input, {
              instanceId: instance.instanceId,
              processKey: instance.processKey,
              businessKey: instance.businessKey,
              activityId: activity.id,
              executionId,
              idempotencyKey: idempotencyKeyOf(
                instance.instanceId,
                activity.id,
                instance.visits?.[activity.id] ?? 0,
                executeMessage.content.isMultiInstance && Number.isInteger(executeMessage.content.index) ? executeMessage.content.index : undefined,
              ),
            }).then(
              (result) => finish(result),
              (error: unknown) => {
                if (error instanceof BpmnErrorSignal) return raise(error.code, error.message);
                // Not a BPMN error: park the task with an incident until someone retries it.
                const failure = error as Error;
                options.onHandlerFailure({
                  activityId: activity.id,
                  executionId,
                  topic,
                  message: failure?.message ?? String(error),
                  stack: failure?.stack,
                });
              },
            ),
          );
        },
        discard() {
          for (const [executionId, task] of pending) if (task.activityId === activity.id) pending.delete(executionId);
        },
        stop() {},
      };
    };
    return inert;
  }

  /**
   * A business rule task with `camunda:decisionRef` evaluates its decision in the transition
   * (at least once, like inline handlers); its records commit with the transition.
   */
  function decisionHandler(activity: any, environment: any, executeMessage: any): InlineHandler | undefined {
    const behaviour = activity.behaviour;
    const decisions = options.decisions;
    if (activity.type !== 'bpmn:BusinessRuleTask' || !behaviour?.decisionRef || !decisions) return undefined;
    const scope = scopeOf(environment, executeMessage);
    const text = (value: unknown) => (value === undefined || value === null ? undefined : String(evaluate(environment, String(value), scope)));
    return async (input, context) => {
      const io = readInputOutput(behaviour);
      const { variables, records } = await decisions.evaluate({
        decisionRef: text(behaviour.decisionRef)!,
        binding: text(behaviour.decisionRefBinding),
        version: text(behaviour.decisionRefVersion),
        resultVariable: text(behaviour.resultVariable),
        mapDecisionResult: text(behaviour.mapDecisionResult),
        variables: io.inputs.length ? { ...environment.variables, ...input } : input,
        scope: {
          instanceId: context.instanceId,
          processDefinitionId: options.definition.id,
          processKey: context.processKey,
          activityId: context.activityId,
          executionId: context.executionId,
        },
      });
      options.recordDecisions?.(records);
      return variables;
    };
  }

  return {
    extension,
    pendingExternalTasks: (): ExternalTaskWait[] => [...pending.values()],
    /** Binds the services to another transition's options (a warm instance's next run). */
    rebind(next: BindingOptions): void {
      options = next;
      pending = new Map();
    },
  };
}

function scopeOf(environment: any, message: any) {
  return { environment, content: message.content, properties: message.properties, fields: message.fields };
}

function evaluate(environment: any, text: string | undefined, scope: object): unknown {
  if (text === undefined) return undefined;
  const expressions = environment.expressions;
  return expressions.hasExpression(text) ? expressions.resolveExpression(text, scope) : text;
}

/** camunda:inputParameter values, or every process variable when none is declared. */
function mapInputs(io: InputOutput, environment: any, message: any): Variables {
  if (!io.inputs.length) return { ...environment.variables };
  const scope = scopeOf(environment, message);
  return Object.fromEntries(io.inputs.map((input) => [input.name, evaluate(environment, input.value, scope)]));
}

/** camunda:outputParameter values evaluated over the result, or the whole result. */
function mapOutputs(io: InputOutput, result: Variables, environment: any, message: any): Variables {
  if (!io.outputs.length) return result;
  const scopedEnvironment = { ...environment, variables: { ...environment.variables, ...result } };
  const scope = { ...scopeOf(scopedEnvironment, message) };
  const expressions = environment.expressions;
  return Object.fromEntries(
    io.outputs.map((output) => [
      output.name,
      output.value !== undefined && expressions.hasExpression(output.value)
        ? expressions.resolveExpression(output.value, scope)
        : output.value,
    ]),
  );
}
