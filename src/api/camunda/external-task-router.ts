import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import { AppError } from '../../errors.js';
import type { LockedExternalTask } from '../../store/external-tasks.js';
import { topicAllowed } from '../auth.js';
import { toTyped, fromTyped, TypedVariablesSchema } from './typed-variables.js';

const Id = z.string().regex(/^[0-9a-f-]{36}$/i, 'must be a task id');

const FetchAndLockSchema = z.object({
  workerId: z.string().min(1).max(200),
  maxTasks: z.number().int().min(0).max(1000).default(1),
  usePriority: z.boolean().default(false),
  asyncResponseTimeout: z.number().int().min(0).max(1_800_000).optional(),
  topics: z
    .array(
      z.object({
        topicName: z.string().min(1),
        lockDuration: z.number().int().positive(),
        variables: z.array(z.string()).nullish(),
        localVariables: z.boolean().optional(),
        processDefinitionKey: z.string().optional(),
        businessKey: z.string().optional(),
      }).passthrough(),
    )
    .default([]),
}).passthrough();

const CompleteSchema = z.object({
  workerId: z.string().min(1),
  variables: TypedVariablesSchema.optional(),
  localVariables: TypedVariablesSchema.optional(),
});
const FailureSchema = z.object({
  workerId: z.string().min(1),
  errorMessage: z.string().max(10_000).nullish(),
  errorDetails: z.string().max(1_000_000).nullish(),
  retries: z.number().int().min(0).default(0),
  retryTimeout: z.number().int().min(0).default(0),
});
const BpmnErrorSchema = z.object({
  workerId: z.string().min(1),
  errorCode: z.string().min(1),
  errorMessage: z.string().nullish(),
  variables: TypedVariablesSchema.optional(),
});
const ExtendLockSchema = z.object({ workerId: z.string().min(1), newDuration: z.number().int().positive() });
const LockSchema = z.object({ workerId: z.string().min(1), lockDuration: z.number().int().positive() });

/**
 * The Camunda 7 external-task API. Responses carry `Content-Type: application/json`
 * exactly: camunda-external-task-client-js ignores any other (even `; charset=utf-8`).
 */
/** @param draining true once the server shuts down: a long poll then answers with what it has. */
export function externalTaskRouter(engine: WorkflowEngine, draining: () => boolean = () => false): Router {
  const router = Router();

  // A worker token limited to some topics may neither fetch nor touch tasks of others.
  const refuse = (req: Request, topic: string) =>
    new AppError('FORBIDDEN', `this worker token may not serve topic '${topic}' (it is limited to ${req.topics?.join(', ')})`);
  router.param('id', async (req, _res, next, id) => {
    if (!req.topics) return next();
    try {
      const topic = await engine.externalTaskTopic(Id.parse(id));
      next(topicAllowed(req.topics, topic) ? undefined : refuse(req, topic));
    } catch (error) {
      next(error);
    }
  });

  router.post('/fetchAndLock', async (req, res) => {
    const request = FetchAndLockSchema.parse(req.body);
    const forbidden = request.topics.find((topic) => !topicAllowed(req.topics, topic.topicName));
    if (forbidden) throw refuse(req, forbidden.topicName);
    const deadline = Date.now() + (request.asyncResponseTimeout ?? 0);
    let tasks: LockedExternalTask[] = [];
    for (;;) {
      tasks = await engine.fetchAndLock({
        workerId: request.workerId,
        maxTasks: request.maxTasks,
        usePriority: request.usePriority,
        topics: request.topics,
      });
      const remaining = deadline - Date.now();
      if (tasks.length || remaining <= 0 || req.socket.destroyed || draining()) break;
      await waitForTasks(engine, request.topics.map((topic) => topic.topicName), Math.min(remaining, 1000));
    }
    const byTopic = new Map(request.topics.map((topic) => [topic.topicName, topic]));
    sendJson(
      res,
      200,
      tasks.map((task) => describeTask(task, byTopic.get(task.topic)?.variables ?? undefined)),
    );
  });

  router.post('/:id/complete', async (req, res) => {
    const body = CompleteSchema.parse(req.body);
    await engine.completeExternalTask(Id.parse(req.params.id), body.workerId, {
      ...fromTyped(body.localVariables),
      ...fromTyped(body.variables),
    });
    res.status(204).end();
  });

  router.post('/:id/failure', async (req, res) => {
    const body = FailureSchema.parse(req.body);
    await engine.externalTaskFailure(Id.parse(req.params.id), body.workerId, {
      errorMessage: body.errorMessage ?? undefined,
      errorDetails: body.errorDetails ?? undefined,
      retries: body.retries,
      retryTimeout: body.retryTimeout,
    });
    res.status(204).end();
  });

  router.post('/:id/bpmnError', async (req, res) => {
    const body = BpmnErrorSchema.parse(req.body);
    await engine.externalTaskBpmnError(Id.parse(req.params.id), body.workerId, {
      errorCode: body.errorCode,
      errorMessage: body.errorMessage ?? undefined,
      variables: fromTyped(body.variables),
    });
    res.status(204).end();
  });

  router.post('/:id/extendLock', async (req, res) => {
    const body = ExtendLockSchema.parse(req.body);
    await engine.extendExternalTaskLock(Id.parse(req.params.id), body.workerId, body.newDuration);
    res.status(204).end();
  });

  router.post('/:id/unlock', async (req, res) => {
    await engine.unlockExternalTask(Id.parse(req.params.id));
    res.status(204).end();
  });

  router.post('/:id/lock', async (req, res) => {
    const body = LockSchema.parse(req.body);
    await engine.lockExternalTask(Id.parse(req.params.id), body.workerId, body.lockDuration);
    res.status(204).end();
  });

  return router;
}

function describeTask(task: LockedExternalTask, variableNames?: string[]) {
  return {
    id: task.id,
    topicName: task.topic,
    workerId: task.worker_id,
    lockExpirationTime: task.lock_expires_at ? new Date(task.lock_expires_at).toISOString() : null,
    activityId: task.activity_id,
    activityInstanceId: task.execution_id,
    executionId: task.execution_id,
    processInstanceId: task.instance_id,
    processDefinitionId: task.definition_id,
    processDefinitionKey: task.process_key,
    businessKey: task.business_key,
    retries: task.retries,
    errorMessage: task.error_message,
    errorDetails: task.error_details,
    priority: task.priority,
    tenantId: null,
    variables: toTyped(task.variables, variableNames),
  };
}

/** express's `res.set`/`res.json` append `; charset=utf-8`; the raw header stays exact. */
export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status);
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

/** Resolves when this node creates a task on one of the topics, or after `ms`. */
function waitForTasks(engine: WorkflowEngine, topics: string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const onCreated = (created: string[]) => {
      if (!created.length || created.some((topic) => topics.includes(topic))) done();
    };
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      engine.off('external-tasks.created', onCreated);
      resolve();
    }
    engine.on('external-tasks.created', onCreated);
  });
}
