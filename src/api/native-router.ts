import express, { Router } from 'express';
import { z } from 'zod';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import { notFound } from '../errors.js';
import { allow } from './auth.js';
import * as definitionsStore from '../store/definitions.js';
import * as queries from '../store/queries.js';

const Id = z.string().regex(/^[0-9a-f-]{36}$/i, 'must be an id');
const Variables = z.record(z.string(), z.unknown()).default({});

const DeployJson = z.object({ name: z.string().min(1).max(200).default('diagram.bpmn'), xml: z.string().min(1) });
const StartSchema = z
  .object({
    processKey: z.string().min(1).optional(),
    definitionId: z.string().min(1).optional(),
    variables: Variables,
    businessKey: z.string().max(255).nullish(),
  })
  .strict()
  .refine((body) => body.processKey || body.definitionId, 'give processKey or definitionId');
const InstanceQuery = z.object({
  status: z.enum(['active', 'completed', 'cancelled', 'failed']).optional(),
  processKey: z.string().optional(),
  businessKey: z.string().optional(),
  startedBefore: z.coerce.date().optional(),
  startedAfter: z.coerce.date().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
const CorrelateSchema = z
  .object({
    messageName: z.string().min(1),
    businessKey: z.string().optional(),
    processInstanceId: Id.optional(),
    correlationKeys: z.record(z.string(), z.unknown()).optional(),
    variables: Variables,
    all: z.boolean().default(false),
  })
  .strict();
const SignalSchema = z.object({ name: z.string().min(1), variables: Variables }).strict();
const TaskQuery = z.object({
  assignee: z.string().optional(),
  candidateGroup: z.string().optional(),
  processKey: z.string().optional(),
  instanceId: Id.optional(),
});

/** The native REST API. Thin: validate, call the engine, shape the answer. */
export function nativeRouter(engine: WorkflowEngine, limits: { bpmnBytes: number }): Router {
  const router = Router();
  const knex = engine.knex;

  router.post('/deployments', allow(), express.text({ type: ['application/xml', 'text/xml', 'application/bpmn+xml'], limit: limits.bpmnBytes }), async (req, res) => {
    const resource =
      typeof req.body === 'string'
        ? { name: String(req.query.name ?? 'diagram.bpmn'), xml: req.body }
        : DeployJson.parse(req.body);
    const deployment = await engine.deploy([resource], { name: resource.name, source: 'api' });
    res.status(201).json(deployment);
  });

  router.get('/process-definitions', allow('owner', 'operator'), async (req, res) => {
    const latestOnly = req.query.latest === 'true';
    res.json(await definitionsStore.listDefinitions(knex, { key: req.query.key ? String(req.query.key) : undefined, latestOnly }));
  });

  router.get('/process-definitions/:id/xml', allow('owner', 'operator'), async (req, res) => {
    const row = await definitionsStore.findDefinition(knex, String(req.params.id));
    if (!row) throw notFound('process definition', String(req.params.id));
    res.type('application/xml').send(row.xml);
  });

  router.post('/process-instances', allow('owner'), async (req, res) => {
    const body = StartSchema.parse(req.body);
    const row = await engine.start(body);
    res.status(201).json(queries.describeInstance(row));
  });

  router.get('/process-instances', allow('owner', 'operator'), async (req, res) => {
    const filter = InstanceQuery.parse(req.query);
    res.json((await queries.listInstances(knex, filter)).map(queries.describeInstance));
  });

  router.get('/process-instances/:id', allow('owner', 'operator'), async (req, res) => {
    res.json(await queries.instanceDetail(knex, await engine.getInstance(Id.parse(req.params.id))));
  });

  router.get('/process-instances/:id/history', allow('owner', 'operator'), async (req, res) => {
    res.json(await queries.instanceHistory(knex, Id.parse(req.params.id)));
  });

  router.delete('/process-instances/:id', allow('owner'), async (req, res) => {
    await engine.cancel(Id.parse(req.params.id), String(req.query.reason ?? 'cancelled by operator'));
    res.status(204).end();
  });

  router.put('/process-instances/:id/variables', allow('owner'), async (req, res) => {
    const row = await engine.setVariables(Id.parse(req.params.id), Variables.parse(req.body));
    res.json(queries.describeInstance(row));
  });

  router.post('/messages', allow('owner'), async (req, res) => {
    const body = CorrelateSchema.parse(req.body);
    res.json(await engine.correlateMessage(body));
  });

  router.post('/signals', allow('owner'), async (req, res) => {
    const body = SignalSchema.parse(req.body);
    res.json(await engine.broadcastSignal(body.name, body.variables));
  });

  router.get('/tasks', allow('owner', 'operator'), async (req, res) => {
    res.json(await queries.listUserTasks(knex, TaskQuery.parse(req.query)));
  });

  router.post('/tasks/:id/claim', allow('owner', 'operator'), async (req, res) => {
    const body = z.object({ userId: z.string().min(1) }).strict().parse(req.body);
    await engine.claimUserTask(Id.parse(req.params.id), body.userId);
    res.status(204).end();
  });

  router.post('/tasks/:id/unclaim', allow('owner', 'operator'), async (req, res) => {
    await engine.claimUserTask(Id.parse(req.params.id), null);
    res.status(204).end();
  });

  router.post('/tasks/:id/complete', allow('owner', 'operator'), async (req, res) => {
    const body = z.object({ variables: Variables }).strict().parse(req.body ?? {});
    const row = await engine.completeUserTask(Id.parse(req.params.id), body.variables);
    res.json(queries.describeInstance(row));
  });

  router.get('/incidents', allow('owner', 'operator'), async (req, res) => {
    res.json(await queries.listIncidents(knex, { open: req.query.open !== 'false' }));
  });

  router.post('/incidents/:id/retry', allow('owner', 'operator'), async (req, res) => {
    const body = z.object({ retries: z.number().int().min(1).max(100).default(1) }).strict().parse(req.body ?? {});
    await engine.retryIncident(Id.parse(req.params.id), body.retries);
    res.status(204).end();
  });

  router.post('/incidents/:id/resolve', allow('owner', 'operator'), async (req, res) => {
    await engine.resolveIncident(Id.parse(req.params.id));
    res.status(204).end();
  });

  router.get('/external-tasks', allow('owner', 'operator'), async (req, res) => {
    res.json(await queries.listExternalTasks(knex, { topic: req.query.topic ? String(req.query.topic) : undefined }));
  });

  return router;
}
