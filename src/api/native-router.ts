import express, { Router } from 'express';
import { z } from 'zod';
import { describeInstance } from '../engine/queries/operator-queries.js';
import { INCIDENT_TYPES } from '../engine/types.js';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import { AppError, notFound } from '../errors.js';
import { audited, auditEntry } from './audit.js';
import { correlationResults, respondIdempotently } from './idempotency.js';
import { bpmnUpload, isMultipart, uploadedResources } from './multipart.js';
import type { ProcessInfo } from '../engine/definitions/analysis-types.js';
import { mountRoutes, route, type RouteSpec } from './route-spec.js';
import { deployResources, type DecisionService } from '../decisions/index.js';
import { deployWithForms, type FormService } from '../forms/index.js';
import {
  describeAuditEntry,
  describeExternalTask,
  describeHistoryEntry,
  describeIncident,
  describeJob,
  describeProcessDefinition,
  describeSubscription,
  describeUserTask,
  ExternalTaskSchema,
  HistoryEntrySchema,
  IncidentSchema,
  JobSchema,
  ProcessDefinitionSchema,
  SubscriptionSchema,
  UserTaskSchema,
} from './resource-shapes.js';

const Id = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
const IdParams = z.object({ id: Id });
/** Definition ids are `<key>:<version>:<8 hex>`; keys are XML NCNames. */
const DefinitionId = z.string().max(300).regex(/^[A-Za-z_][\w.-]*:\d+:[0-9a-f]{8}$/, 'must be a process definition id (key:version:hash)');
const ProcessKey = z.string().min(1).max(255);
// In a path a key must be a process id (an XML NCName): a NUL or a path separator there is a
// hostile client, not a key. Filters stay plain values that simply match nothing.
const ProcessKeyParam = ProcessKey.regex(/^[\p{L}_][\p{L}\p{N}_.-]*$/u, 'must be a process id (an XML name)');

const FORBIDDEN_NAMES = ['__proto__', 'constructor', 'prototype'];
/** Process variables: a JSON object whose names cannot reach an object's prototype. */
export const Variables = z
  .record(z.string().min(1).max(255), z.unknown())
  .check(z.refine((variables) => !FORBIDDEN_NAMES.some((name) => Object.hasOwn(variables, name)), `variable names ${FORBIDDEN_NAMES.join(', ')} are not allowed`))
  .describe('process variables by name (JSON values)');
const OptionalVariables = Variables.default({});
const Limit = z.coerce.number().int().min(1).max(1000).default(100);
const Offset = z.coerce.number().int().min(0).max(10_000_000).default(0);
const BooleanText = z.enum(['true', 'false']);

const DeployJson = z
  .object({ name: z.string().min(1).max(200).default('diagram.bpmn'), xml: z.string().min(1).describe('BPMN 2.0 XML') })
  .strict();
const StartSchema = z
  .object({
    processKey: ProcessKey.optional(),
    definitionId: DefinitionId.optional(),
    variables: OptionalVariables,
    businessKey: z.string().max(255).nullish(),
    startEventId: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe('a timer, message or signal start event to fire now ("run now"); absent: the none start event, whose camunda:formData fields are checked'),
  })
  .strict()
  .refine((body) => body.processKey || body.definitionId, 'give processKey or definitionId');
const InstanceQuery = z
  .object({
    status: z.enum(['active', 'completed', 'cancelled', 'failed']).optional(),
    processKey: ProcessKey.optional(),
    businessKey: z.string().max(255).optional(),
    startedBefore: z.coerce.date().optional(),
    startedAfter: z.coerce.date().optional(),
    incidents: z.enum(['open', 'none']).optional().describe('only instances with (open) or without (none) an open incident'),
    limit: Limit,
    offset: Offset,
  })
  .strict();
const CorrelateSchema = z
  .object({
    messageName: z.string().min(1).max(255),
    businessKey: z.string().max(255).optional(),
    processInstanceId: Id.optional(),
    correlationKeys: Variables.optional(),
    variables: OptionalVariables,
    all: z.boolean().default(false),
  })
  .strict();
const SignalSchema = z.object({ name: z.string().min(1).max(255), variables: OptionalVariables }).strict();
const TaskQuery = z
  .object({
    assignee: z.string().max(255).optional(),
    candidateGroup: z.string().max(255).optional(),
    processKey: ProcessKey.optional(),
    instanceId: Id.optional(),
  })
  .strict();

const InstanceSummary = z.object({
  id: z.string(),
  definitionId: z.string(),
  processKey: z.string(),
  businessKey: z.string().nullable(),
  status: z.enum(['active', 'completed', 'cancelled', 'failed']),
  variables: z.record(z.string(), z.unknown()),
  parentInstanceId: z.string().nullable(),
  errorMessage: z.string().nullable(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
});
const InstanceListEntry = InstanceSummary.extend({
  processName: z.string().nullable(),
  openIncidents: z.number().int(),
  endActivityId: z.string().nullable().describe('the end event an ended instance reached'),
  endActivityName: z.string().nullable(),
  endOutcome: z.string().nullable().describe("that end event's declared outcome (camunda:property outcome: success, failure, ...); an error end event is failure"),
  durationMs: z.number().nullable().describe('ended - started; null while active'),
});
const Finding = z.object({ rule: z.string(), message: z.string(), elementId: z.string().optional() });
const DeploymentSchema = z.object({
  id: z.string(),
  name: z.string(),
  definitions: z.array(
    z.object({
      id: z.string(),
      key: z.string(),
      version: z.number(),
      name: z.string().nullable(),
      executable: z.boolean(),
      created: z.boolean().describe('false when the same content was already the latest version'),
      warnings: z.array(Finding),
    }),
  ),
  decisions: z
    .array(z.object({ id: z.string(), key: z.string(), version: z.number(), name: z.string().nullable(), resourceName: z.string(), created: z.boolean() }))
    .optional()
    .describe('the decisions of the .dmn resources, versioned per decision key'),
});
const InstanceDetail = InstanceSummary.extend({
  activeActivities: z.array(z.string()),
  userTasks: z.array(UserTaskSchema),
  externalTasks: z.array(ExternalTaskSchema),
  timers: z.array(JobSchema),
  subscriptions: z.array(SubscriptionSchema),
  incidents: z.array(IncidentSchema).describe('open incidents'),
});
const NoContent = { 204: { description: 'done' } };

/** The native REST API. Thin: validate, call the engine, shape the answer. */
export function nativeRoutes(engine: WorkflowEngine, limits: { bpmnBytes: number }, decisions?: DecisionService, forms?: FormService): RouteSpec[] {
  return [
    route({
      method: 'post',
      path: '/deployments',
      tag: 'deployments',
      summary: 'Deploy BPMN, DMN and forms (a resource named *.dmn is a decision, *.form a form-js schema): raw XML (?name=file.bpmn), JSON {name, xml}, or multipart/form-data (every file part is a resource). A rejected diagram is a 400 whose details list the lint and parse findings with element and rule.',
      roles: [],
      query: z.object({ name: z.string().min(1).max(200).optional() }).strict(),
      alsoAccepts: {
        'application/json': { description: 'one BPMN document with its resource name', schema: DeployJson },
        'application/xml': { description: 'one BPMN document; its name from ?name=' },
        'multipart/form-data': { description: 'file parts are BPMN resources; optional field `name` names the deployment' },
      },
      before: [express.text({ type: ['application/xml', 'text/xml', 'application/bpmn+xml'], limit: limits.bpmnBytes }), bpmnUpload(limits)],
      responses: {
        201: { description: 'deployed (unchanged resources keep their version)', schema: DeploymentSchema },
        413: { description: 'the BPMN or JSON body is larger than its limit' },
      },
      handler: async ({ query }, req, res) => {
        let resources;
        let name: string | undefined;
        if (isMultipart(req)) {
          resources = uploadedResources(req);
          name = z.object({ name: z.string().min(1).max(200).optional() }).parse(req.body ?? {}).name;
          if (!resources.length) throw new AppError('VALIDATION_FAILED', 'the multipart body has no file part');
        } else if (typeof req.body === 'string') {
          resources = [{ name: query.name ?? 'diagram.bpmn', xml: req.body }];
        } else {
          resources = [DeployJson.parse(req.body ?? {})];
        }
        name ??= query.name ?? resources[0]!.name;
        const entry = auditEntry(req, 'deployment.create', name, { resources: resources.map((resource) => resource.name) });
        const deployment = await audited(engine.auditLog, entry, (audit) =>
          decisions && forms
            ? deployWithForms(engine, decisions, forms, resources, { name, source: 'api', audit })
            : decisions
              ? deployResources(engine, decisions, resources, { name, source: 'api', audit })
              : engine.deploy(resources, { name, source: 'api', audit }),
        );
        res.status(201).json(deployment);
      },
    }),

    route({
      method: 'post',
      path: '/deployments/lint',
      tag: 'deployments',
      summary: 'Parse and lint BPMN as a deploy would, storing nothing: the report with every error and warning (element, rule, message).',
      roles: ['owner'],
      query: z.object({ name: z.string().min(1).max(200).optional() }).strict(),
      alsoAccepts: {
        'application/json': { description: 'one BPMN document with its resource name', schema: DeployJson },
        'application/xml': { description: 'one BPMN document' },
      },
      before: [express.text({ type: ['application/xml', 'text/xml', 'application/bpmn+xml'], limit: limits.bpmnBytes })],
      responses: {
        200: {
          description: 'the report; ok is false when a deploy would be refused',
          schema: z.object({ resource: z.string(), ok: z.boolean(), errors: z.array(Finding), warnings: z.array(Finding), executableProcessIds: z.array(z.string()) }),
        },
      },
      handler: async ({ query }, req, res) => {
        const resource = typeof req.body === 'string' ? { name: query.name ?? 'diagram.bpmn', xml: req.body } : DeployJson.parse(req.body ?? {});
        res.json({ resource: resource.name, ...(await engine.lint(resource)) });
      },
    }),

    route({
      method: 'get',
      path: '/process-definitions',
      tag: 'deployments',
      summary: 'List process definitions with their versions (newest first per key).',
      roles: ['owner', 'operator'],
      query: z.object({ key: ProcessKey.optional(), latest: BooleanText.optional() }).strict(),
      responses: { 200: { description: 'definitions', schema: z.array(ProcessDefinitionSchema) } },
      handler: async ({ query }, _req, res) => {
        res.json((await engine.definitionQueries.listDefinitions({ key: query.key, latestOnly: query.latest === 'true' })).map(describeProcessDefinition));
      },
    }),

    route({
      method: 'get',
      path: '/process-definitions/:id',
      tag: 'deployments',
      summary: 'One version: key, version, deployment, start events and topics, and the lint warnings it was deployed with (report).',
      roles: ['owner', 'operator'],
      params: z.object({ id: DefinitionId }),
      responses: { 200: { description: 'the version (without XML)', schema: ProcessDefinitionSchema }, 404: { description: 'no such version' } },
      handler: async ({ params }, _req, res) => {
        const row = await engine.definitionQueries.findDefinition(params.id);
        if (!row) throw notFound('process definition', params.id);
        res.json(describeProcessDefinition(row));
      },
    }),

    route({
      method: 'get',
      path: '/process-definitions/:id/xml',
      tag: 'deployments',
      summary: "A version's BPMN XML.",
      roles: ['owner', 'operator'],
      params: z.object({ id: DefinitionId }),
      responses: { 200: { description: 'the XML as deployed', contentType: 'application/xml' }, 404: { description: 'no such version' } },
      handler: async ({ params }, _req, res) => {
        const row = await engine.definitionQueries.findDefinition(params.id);
        if (!row) throw notFound('process definition', params.id);
        res.type('application/xml').send(row.xml);
      },
    }),

    route({
      method: 'post',
      path: '/process-instances',
      tag: 'instances',
      summary: 'Start an instance of the latest version of a key, or of one definition id. The start variables its start event declares (camunda:formData) are checked: a 400 names each missing or mistyped one. A process with no none start event (timer, message or signal only) is refused with START_EVENT_REQUIRED unless startEventId picks one to fire now.',
      roles: ['owner', 'operator'],
      body: StartSchema,
      responses: { 201: { description: 'started (it ran to its first wait state)', schema: InstanceSummary }, 400: { description: 'missing or mistyped start variables (details.missing, details.invalid), or no start event that could move (START_EVENT_REQUIRED)' }, 404: { description: 'no such definition' } },
      handler: async ({ body }, req, res) => {
        const entry = auditEntry(req, 'instance.start', body.processKey ?? body.definitionId ?? '', body.businessKey ? { businessKey: body.businessKey } : undefined);
        await forms?.checkStartSubmission(body, body.variables);
        await respondIdempotently(
          req,
          res,
          engine.auditLog,
          entry,
          (audit) => engine.start({ ...body, audit }),
          (row) => ({ status: 201, body: describeInstance(row) }),
          ([first]) => engine.getInstance(first!.instance_id!),
        );
      },
    }),

    route({
      method: 'post',
      path: '/process-definitions/key/:key/run-now',
      tag: 'instances',
      summary:
        "Run a timer-, message- or signal-started process now: starts an instance of the latest version as if its start event fired (the timer's schedule is left as it is). Without startEventId the first such start event; a process with a none start event is started plainly.",
      roles: ['owner', 'operator'],
      params: z.object({ key: ProcessKeyParam }),
      body: z.object({ startEventId: z.string().min(1).max(255).optional(), variables: OptionalVariables, businessKey: z.string().max(255).nullish() }).strict(),
      responses: { 201: { description: 'started', schema: InstanceSummary }, 400: { description: 'missing start variables or no such start event' }, 404: { description: 'no such process' } },
      handler: async ({ params, body }, req, res) => {
        const definition = await engine.definitionQueries.findLatestDefinition(params.key);
        if (!definition) throw notFound('process definition', params.key);
        const info = (typeof definition.info === 'string' ? JSON.parse(definition.info) : definition.info) as ProcessInfo | undefined;
        const startEventId =
          body.startEventId ?? (info?.startEvents?.some((start) => start.trigger === 'none') ? undefined : info?.startEvents?.find((start) => start.trigger !== 'other')?.activityId);
        await forms?.checkStartSubmission({ processKey: params.key, startEventId }, body.variables);
        const entry = auditEntry(req, 'instance.run-now', params.key, { startEventId: startEventId ?? null });
        const row = await audited(engine.auditLog, entry, (audit) =>
          engine.start({ processKey: params.key, variables: body.variables, businessKey: body.businessKey, startEventId, audit }),
        );
        res.status(201).json(describeInstance(row));
      },
    }),

    route({
      method: 'get',
      path: '/process-instances',
      tag: 'instances',
      summary: 'List instances, newest first; the X-Total-Count header counts all matches.',
      roles: ['owner', 'operator'],
      query: InstanceQuery,
      responses: { 200: { description: 'a page of instances', schema: z.array(InstanceListEntry) } },
      handler: async ({ query }, _req, res) => {
        const [rows, total] = await Promise.all([engine.queries.listInstances(query), engine.queries.countInstances(query)]);
        const extras = await engine.queries.instanceListExtras(rows);
        res.setHeader('X-Total-Count', String(total));
        res.json(
          rows.map((row) => {
            const extra = extras.byInstance.get(row.id)!;
            const definition = extras.definitions.get(row.definition_id);
            const ends = (definition?.info as ProcessInfo | undefined)?.endEvents;
            const endOutcome = extra.endActivityId ? (ends?.find((end) => end.activityId === extra.endActivityId)?.outcome ?? null) : null;
            const started = new Date(row.started_at).getTime();
            return {
              ...describeInstance(row),
              processName: definition?.name ?? null,
              openIncidents: extra.openIncidents,
              endActivityId: extra.endActivityId,
              endActivityName: extra.endActivityName,
              endOutcome,
              durationMs: row.ended_at ? new Date(row.ended_at).getTime() - started : null,
            };
          }),
        );
      },
    }),

    route({
      method: 'get',
      path: '/process-instances/:id',
      tag: 'instances',
      summary: 'One instance: state, active activities, variables, waits and open incidents.',
      roles: ['owner', 'operator'],
      params: IdParams,
      responses: { 200: { description: 'the instance', schema: InstanceDetail }, 404: { description: 'no such instance' } },
      handler: async ({ params }, _req, res) => {
        const detail = await engine.queries.instanceDetail(await engine.getInstance(params.id));
        res.json({
          ...detail,
          userTasks: detail.userTasks.map(describeUserTask),
          externalTasks: detail.externalTasks.map(describeExternalTask),
          timers: detail.timers.map(describeJob),
          subscriptions: detail.subscriptions.map(describeSubscription),
          incidents: detail.incidents.map(describeIncident),
        });
      },
    }),

    route({
      method: 'get',
      path: '/process-instances/:id/history',
      tag: 'instances',
      summary: "The instance's history, oldest first.",
      roles: ['owner', 'operator'],
      params: IdParams,
      responses: { 200: { description: 'history entries', schema: z.array(HistoryEntrySchema) }, 404: { description: 'no such instance' } },
      handler: async ({ params }, _req, res) => {
        await engine.getInstance(params.id);
        res.json((await engine.queries.instanceHistory(params.id)).map(describeHistoryEntry));
      },
    }),

    route({
      method: 'delete',
      path: '/process-instances/:id',
      tag: 'instances',
      summary: 'Cancel an active instance, the instances its call activities started and, for a called instance, the callers that wait on nothing else (409 CALLED_INSTANCE when a caller runs other branches).',
      roles: ['owner', 'operator'],
      params: IdParams,
      query: z.object({ reason: z.string().min(1).max(500).optional() }).strict(),
      responses: { ...NoContent, 404: { description: 'no such instance' }, 409: { description: 'already ended, or a called instance whose caller runs other branches' } },
      handler: async ({ params, query }, req, res) => {
        const reason = query.reason ?? 'cancelled by operator';
        await respondIdempotently(
          req,
          res,
          engine.auditLog,
          auditEntry(req, 'instance.cancel', params.id, { reason }),
          (audit) => engine.cancel(params.id, reason, audit),
          () => ({ status: 204 }),
          async () => undefined,
        );
      },
    }),

    route({
      method: 'put',
      path: '/process-instances/:id/variables',
      tag: 'instances',
      summary: 'Set (merge) process variables of an active instance.',
      roles: ['owner', 'operator'],
      params: IdParams,
      body: Variables,
      responses: { 200: { description: 'the instance after the change', schema: InstanceSummary }, 404: { description: 'no such instance' }, 409: { description: 'already ended' } },
      handler: async ({ params, body }, req, res) => {
        const entry = auditEntry(req, 'instance.set-variables', params.id, { names: Object.keys(body) });
        const row = await audited(engine.auditLog, entry, (audit) => engine.setVariables(params.id, body, audit));
        res.json(describeInstance(row));
      },
    }),

    route({
      method: 'post',
      path: '/messages',
      tag: 'messages',
      summary: 'Correlate a message to a waiting execution, or start an instance by message.',
      roles: ['owner', 'operator'],
      body: CorrelateSchema,
      responses: {
        200: { description: 'where the message went', schema: z.array(z.object({ resultType: z.enum(['Execution', 'ProcessDefinition']), instanceId: z.string() })) },
        400: { description: 'nothing or more than one execution matches' },
      },
      handler: async ({ body }, req, res) => {
        const entry = auditEntry(req, 'message.correlate', body.messageName, {
          ...(body.businessKey ? { businessKey: body.businessKey } : {}),
          ...(body.processInstanceId ? { processInstanceId: body.processInstanceId } : {}),
        });
        await respondIdempotently(
          req,
          res,
          engine.auditLog,
          entry,
          (audit) => engine.correlateMessage({ ...body, audit }),
          (results) => ({ status: 200, body: results }),
          (previous) => correlationResults(engine.auditLog, previous),
        );
      },
    }),

    route({
      method: 'post',
      path: '/signals',
      tag: 'messages',
      summary: 'Broadcast a signal to every waiting catch event and signal start event.',
      roles: ['owner', 'operator'],
      body: SignalSchema,
      responses: { 200: { description: 'how many executions got it', schema: z.object({ delivered: z.number(), started: z.number() }) } },
      handler: async ({ body }, req, res) => {
        await respondIdempotently(
          req,
          res,
          engine.auditLog,
          auditEntry(req, 'signal.broadcast', body.name),
          (audit) => engine.broadcastSignal(body.name, body.variables, audit),
          (counts) => ({ status: 200, body: counts }),
          // Only a broadcast interrupted before it answered has no stored answer: count what it reached.
          async (previous) => ({ delivered: previous.filter((row) => row.instance_id).length, started: 0 }),
        );
      },
    }),

    route({
      method: 'get',
      path: '/tasks',
      tag: 'tasks',
      summary: 'List open user tasks (by assignee, candidate group, process key or instance).',
      roles: ['owner', 'operator'],
      query: TaskQuery,
      responses: { 200: { description: 'user tasks, highest priority first', schema: z.array(UserTaskSchema) } },
      handler: async ({ query }, _req, res) => {
        res.json((await engine.queries.listUserTasks(query)).map(describeUserTask));
      },
    }),

    route({
      method: 'get',
      path: '/tasks/:id',
      tag: 'tasks',
      summary: 'One open user task.',
      roles: ['owner', 'operator'],
      params: IdParams,
      responses: { 200: { description: 'the task', schema: UserTaskSchema }, 404: { description: 'no such open task' } },
      handler: async ({ params }, _req, res) => {
        const task = await engine.queries.findUserTask(params.id);
        if (!task) throw notFound('task', params.id);
        res.json(describeUserTask(task));
      },
    }),

    route({
      method: 'post',
      path: '/tasks/:id/claim',
      tag: 'tasks',
      summary: 'Claim a task for a user (refused when someone else holds it).',
      roles: ['owner', 'operator'],
      params: IdParams,
      body: z.object({ userId: z.string().min(1).max(255) }).strict(),
      responses: { ...NoContent, 404: { description: 'no such task' }, 409: { description: 'claimed by someone else' } },
      handler: async ({ params, body }, req, res) => {
        await audited(engine.auditLog, auditEntry(req, 'task.claim', params.id, { userId: body.userId }), (audit) => engine.claimUserTask(params.id, body.userId, audit));
        res.status(204).end();
      },
    }),

    route({
      method: 'post',
      path: '/tasks/:id/unclaim',
      tag: 'tasks',
      summary: 'Give a task back (no assignee).',
      roles: ['owner', 'operator'],
      params: IdParams,
      responses: { ...NoContent, 404: { description: 'no such task' } },
      handler: async ({ params }, req, res) => {
        await audited(engine.auditLog, auditEntry(req, 'task.unclaim', params.id), (audit) => engine.claimUserTask(params.id, null, audit));
        res.status(204).end();
      },
    }),

    route({
      method: 'post',
      path: '/tasks/:id/complete',
      tag: 'tasks',
      summary: 'Complete a task with variables; the instance runs on to its next wait state.',
      roles: ['owner', 'operator'],
      params: IdParams,
      body: z.object({ variables: OptionalVariables }).strict(),
      responses: { 200: { description: 'the instance after the task', schema: InstanceSummary }, 404: { description: 'no such task' } },
      handler: async ({ params, body }, req, res) => {
        const entry = auditEntry(req, 'task.complete', params.id, { names: Object.keys(body.variables) });
        await forms?.checkTaskSubmission(params.id, body.variables);
        await respondIdempotently(
          req,
          res,
          engine.auditLog,
          entry,
          (audit) => engine.completeUserTask(params.id, body.variables, audit),
          (row) => ({ status: 200, body: describeInstance(row) }),
          ([first]) => engine.getInstance(first!.instance_id!),
        );
      },
    }),

    route({
      method: 'get',
      path: '/incidents',
      tag: 'incidents',
      summary: 'List incidents (open ones unless open=false).',
      roles: ['owner', 'operator'],
      query: z
        .object({
          open: BooleanText.default('true'),
          instanceId: Id.optional(),
          processKey: ProcessKey.optional(),
          type: z.enum(INCIDENT_TYPES).optional(),
        })
        .strict(),
      responses: { 200: { description: 'incidents, newest first', schema: z.array(IncidentSchema) } },
      handler: async ({ query }, _req, res) => {
        res.json((await engine.queries.listIncidents({ ...query, open: query.open === 'true' })).map(describeIncident));
      },
    }),

    route({
      method: 'post',
      path: '/incidents/:id/retry',
      tag: 'incidents',
      summary: 'Retry what the incident stopped, with new retries; resolves it.',
      roles: ['owner', 'operator'],
      params: IdParams,
      body: z.object({ retries: z.number().int().min(1).max(100).default(1) }).strict(),
      responses: { ...NoContent, 404: { description: 'no such incident' }, 409: { description: 'already resolved or not retryable' } },
      handler: async ({ params, body }, req, res) => {
        await audited(engine.auditLog, auditEntry(req, 'incident.retry', params.id, { retries: body.retries }), (audit) => engine.retryIncident(params.id, body.retries, audit));
        res.status(204).end();
      },
    }),

    route({
      method: 'post',
      path: '/incidents/:id/resolve',
      tag: 'incidents',
      summary: 'Mark an incident resolved without retrying.',
      roles: ['owner', 'operator'],
      params: IdParams,
      responses: { ...NoContent, 404: { description: 'no such open incident' } },
      handler: async ({ params }, req, res) => {
        await audited(engine.auditLog, auditEntry(req, 'incident.resolve', params.id), (audit) => engine.resolveIncident(params.id, audit));
        res.status(204).end();
      },
    }),

    route({
      method: 'get',
      path: '/jobs',
      tag: 'jobs',
      summary: 'List jobs (timers, timer starts, call completions): due, failed (retries used up) or all.',
      roles: ['owner', 'operator'],
      query: z.object({ state: z.enum(['due', 'failed', 'all']).default('all'), instanceId: Id.optional(), limit: Limit, offset: Offset }).strict(),
      responses: { 200: { description: 'jobs by due time', schema: z.array(JobSchema) } },
      handler: async ({ query }, _req, res) => {
        res.json((await engine.queries.listJobs(query)).map(describeJob));
      },
    }),

    route({
      method: 'post',
      path: '/jobs/:id/execute',
      tag: 'jobs',
      summary: 'Run a job now, due or not (a timer fires at once). A failure counts its retries down and answers 422.',
      roles: ['owner', 'operator'],
      params: IdParams,
      responses: { ...NoContent, 404: { description: 'no such job' }, 409: { description: 'another node is running it' }, 422: { description: 'the job ran and failed' } },
      handler: async ({ params }, req, res) => {
        await audited(engine.auditLog, auditEntry(req, 'job.execute', params.id), async (audit) => {
          await engine.executeJob(params.id);
          // A job runs in the engine's own transitions (a timer, a child's hand-back), which
          // take no caller; the run is committed first and who asked for it is recorded after.
          await engine.auditLog.append(audit);
        });
        res.status(204).end();
      },
    }),

    route({
      method: 'get',
      path: '/external-tasks',
      tag: 'jobs',
      summary: 'List external tasks (optionally of one topic).',
      roles: ['owner', 'operator'],
      query: z.object({ topic: z.string().min(1).max(255).optional() }).strict(),
      responses: { 200: { description: 'external tasks, oldest first', schema: z.array(ExternalTaskSchema) } },
      handler: async ({ query }, _req, res) => {
        res.json((await engine.queries.listExternalTasks(query)).map(describeExternalTask));
      },
    }),

    route({
      method: 'get',
      path: '/audit',
      tag: 'audit',
      summary: 'The append-only audit log, newest first; X-Total-Count counts all matches.',
      roles: [],
      query: z
        .object({ actor: z.string().max(100).optional(), action: z.string().max(100).optional(), target: z.string().max(300).optional(), instanceId: Id.optional(), limit: Limit, offset: Offset })
        .strict(),
      responses: {
        200: {
          description: 'audit entries',
          schema: z.array(
            z.object({
              id: z.string(),
              at: z.string(),
              actor: z.string(),
              action: z.string(),
              target: z.string(),
              result: z.string(),
              instanceId: z.string().nullable(),
              details: z.record(z.string(), z.unknown()).nullable(),
              idempotencyKey: z.string().nullable().describe('the Idempotency-Key the request carried'),
            }),
          ),
        },
      },
      handler: async ({ query }, _req, res) => {
        const { total, entries } = await engine.auditLog.list(query);
        res.setHeader('X-Total-Count', String(total));
        res.json(entries.map(describeAuditEntry));
      },
    }),
  ];
}

export function nativeRouter(routes: RouteSpec[]): Router {
  const router = Router();
  mountRoutes(router, routes);
  return router;
}
