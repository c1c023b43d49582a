import express from 'express';
import { z } from 'zod';
import { AppError, notFound } from '../errors.js';
import { isDecisionResource, type DecisionService } from '../decisions/index.js';
import { route, type RouteSpec } from './route-spec.js';
import { DecisionDefinitionSchema, DecisionEvaluationSchema, describeDecisionDefinition, describeDecisionEvaluation } from './resource-shapes.js';

const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
const DecisionKey = z.string().min(1).max(255).regex(/^[A-Za-z_][\w.-]*$/, 'must be a decision key (an XML NCName)');
/** A decision definition id (`key:version:hash`), or a key for its latest version. */
const DecisionIdOrKey = z.string().max(300).regex(/^[A-Za-z_][\w.-]*(:\d+:[0-9a-f]{8})?$/, 'must be a decision definition id (key:version:hash) or a key');
const FORBIDDEN_NAMES = ['__proto__', 'constructor', 'prototype'];
const Variables = z
  .record(z.string().min(1).max(255), z.unknown())
  .check(z.refine((variables) => !FORBIDDEN_NAMES.some((name) => Object.hasOwn(variables, name)), `variable names ${FORBIDDEN_NAMES.join(', ')} are not allowed`));
const DmnJson = z.object({ name: z.string().min(1).max(200).default('decision.dmn'), xml: z.string().min(1).describe('DMN 1.3 XML') }).strict();
const Page = {
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
};

const refOf = (idOrKey: string) => (idOrKey.includes(':') ? { id: idOrKey } : { key: idOrKey });

/**
 * Native decision routes: list versions, read one (with its inputs and outputs for a test
 * form) and its XML, lint DMN as a deploy would, evaluate (recorded), and the evaluations
 * per instance. Deploying goes through POST /deployments with the `.dmn` beside the `.bpmn`.
 */
export function decisionRoutes(decisions: DecisionService, limits: { bpmnBytes: number }): RouteSpec[] {
  return [
    route({
      method: 'get',
      path: '/decision-definitions',
      tag: 'decisions',
      summary: 'List decision definitions with their versions (newest first per key).',
      roles: ['owner', 'operator'],
      query: z.object({ key: DecisionKey.optional(), latest: z.enum(['true', 'false']).optional() }).strict(),
      responses: { 200: { description: 'decision versions', schema: z.array(DecisionDefinitionSchema) } },
      handler: async ({ query }, _req, res) => {
        res.json((await decisions.listDefinitions({ key: query.key, latestOnly: query.latest === 'true' })).map(describeDecisionDefinition));
      },
    }),
    route({
      method: 'post',
      path: '/decision-definitions/lint',
      tag: 'decisions',
      summary: 'Parse and lint DMN as a deploy would, storing nothing: FEEL syntax, unknown inputs, overlapping UNIQUE rules, each finding with its element.',
      roles: ['owner'],
      query: z.object({ name: z.string().min(1).max(200).optional() }).strict(),
      alsoAccepts: {
        'application/json': { description: 'one DMN document with its resource name', schema: DmnJson },
        'application/xml': { description: 'one DMN document' },
      },
      before: [express.text({ type: ['application/xml', 'text/xml', 'application/dmn+xml'], limit: limits.bpmnBytes })],
      responses: { 200: { description: 'the report; ok is false when a deploy would be refused', schema: z.record(z.string(), z.unknown()) } },
      handler: async ({ query }, req, res) => {
        const resource = typeof req.body === 'string' ? { name: query.name ?? 'decision.dmn', xml: req.body } : DmnJson.parse(req.body ?? {});
        if (!isDecisionResource(resource.name)) throw new AppError('VALIDATION_FAILED', 'a DMN resource name ends with .dmn');
        // In the worker thread, with deploy's size cap, DOCTYPE refusal and time budget.
        const report = await decisions.lint(resource);
        res.json({ resource: resource.name, ok: report.errors.length === 0, ...report });
      },
    }),
    route({
      method: 'get',
      path: '/decision-definitions/:id',
      tag: 'decisions',
      summary: 'One decision version (an id, or a key for its latest): its DRG as parsed (inputs, outputs, rules, required decisions).',
      roles: ['owner', 'operator'],
      params: z.object({ id: DecisionIdOrKey }),
      responses: {
        200: { description: 'the version and its model', schema: DecisionDefinitionSchema.extend({ drg: z.record(z.string(), z.unknown()).describe('the parsed DRG: decisions with inputs, outputs, rules and required decisions') }) },
        404: { description: 'no such decision' },
      },
      handler: async ({ params }, _req, res) => {
        const { definition, drg } = await decisions.load(refOf(params.id));
        res.json({ ...describeDecisionDefinition(definition), drg });
      },
    }),
    route({
      method: 'get',
      path: '/decision-definitions/:id/xml',
      tag: 'decisions',
      summary: "A decision version's DMN XML (the whole resource it was deployed in).",
      roles: ['owner', 'operator'],
      params: z.object({ id: DecisionIdOrKey }),
      responses: { 200: { description: 'the XML as deployed', contentType: 'application/xml' }, 404: { description: 'no such decision' } },
      handler: async ({ params }, _req, res) => {
        const { definition } = await decisions.load(refOf(params.id));
        const row = await decisions.findDefinition(definition.id);
        if (!row) throw notFound('decision definition', params.id);
        res.type('application/xml').send(row.xml);
      },
    }),
    route({
      method: 'post',
      path: '/decision-definitions/:id/evaluate',
      tag: 'decisions',
      summary: 'Evaluate a decision (an id, or a key for its latest) over variables; the evaluation is recorded. A decision that cannot decide is a 422 with its code.',
      roles: ['owner', 'operator'],
      params: z.object({ id: DecisionIdOrKey }),
      body: z.object({ variables: Variables.default({}) }).strict(),
      responses: {
        200: { description: 'the result entries, the matched rules and every decision evaluated', schema: z.record(z.string(), z.unknown()) },
        404: { description: 'no such decision' },
        422: { description: 'the decision cannot decide over this input (DECISION_* code)' },
      },
      handler: async ({ params, body }, _req, res) => {
        const outcome = await decisions.evaluateAndRecord(refOf(params.id), body.variables);
        res.json({
          decisionDefinitionId: outcome.definition.id,
          key: outcome.definition.key,
          version: outcome.definition.version,
          result: outcome.evaluation.result,
          evaluationId: outcome.records.at(-1)?.id ?? null,
          evaluated: outcome.evaluation.evaluated,
        });
      },
    }),
    route({
      method: 'get',
      path: '/decision-evaluations',
      tag: 'decisions',
      summary: 'Recorded evaluations (oldest first): inputs, matched rules, outputs, and the instance and activity that asked.',
      roles: ['owner', 'operator'],
      query: z.object({ decisionKey: DecisionKey.optional(), instanceId: Uuid.optional(), ...Page }).strict(),
      responses: { 200: { description: 'evaluations', schema: z.array(DecisionEvaluationSchema) } },
      handler: async ({ query }, _req, res) => {
        res.json((await decisions.listEvaluations({ decisionKey: query.decisionKey, instanceId: query.instanceId }, { firstResult: query.offset, maxResults: query.limit })).map(describeDecisionEvaluation));
      },
    }),
    route({
      method: 'get',
      path: '/process-instances/:id/decisions',
      tag: 'instances',
      summary: "The decisions an instance's business rule tasks evaluated, in order: decision, version, inputs, matched rules, outputs, activity.",
      roles: ['owner', 'operator'],
      params: z.object({ id: Uuid }),
      query: z.object(Page).strict(),
      responses: { 200: { description: 'evaluations', schema: z.array(DecisionEvaluationSchema) } },
      handler: async ({ params, query }, _req, res) => {
        res.json((await decisions.listEvaluations({ instanceId: params.id }, { firstResult: query.offset, maxResults: query.limit })).map(describeDecisionEvaluation));
      },
    }),
  ];
}
