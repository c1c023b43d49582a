import { z } from 'zod';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import type { BatchOperation } from '../engine/jobs/batch-operations.js';
import { notFound } from '../errors.js';
import type * as batchesStore from '../store/batches.js';
import { audited, auditEntry } from './audit.js';
import { route, type RouteSpec } from './route-spec.js';

const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
const DefinitionId = z.string().min(1).max(300);
const ActivityId = z.string().min(1).max(255);
const Variables = z.record(z.string().max(255), z.unknown());

export const MigrationInstructionSchema = z
  .object({
    sourceActivityIds: z.array(ActivityId).min(1).max(1),
    targetActivityIds: z.array(ActivityId).min(1).max(1),
    updateEventTrigger: z.boolean().optional(),
  })
  .strict();

export const MigrationPlanSchema = z
  .object({
    sourceProcessDefinitionId: DefinitionId,
    targetProcessDefinitionId: DefinitionId,
    instructions: z.array(MigrationInstructionSchema).max(10_000),
    variables: Variables.nullish(),
  })
  .strict();

export const InstanceQuerySchema = z
  .object({ definitionId: DefinitionId.optional(), processKey: z.string().min(1).max(255).optional(), businessKey: z.string().min(1).max(255).optional() })
  .strict();

const Selection = {
  instanceIds: z.array(Uuid).max(100_000).optional().describe('instances by id'),
  query: InstanceQuerySchema.optional().describe('active instances matching all given fields (resolved when the call is made)'),
};

const BatchBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('instance-migration'), plan: MigrationPlanSchema, ...Selection }).strict(),
  z.object({ type: z.literal('instance-cancel'), reason: z.string().max(1000).default('cancelled by batch'), ...Selection }).strict(),
  z.object({ type: z.literal('incident-retry'), retries: z.number().int().min(1).max(1000).default(1), ...Selection }).strict(),
  z.object({ type: z.literal('set-variables'), variables: Variables, ...Selection }).strict(),
]);

const BatchStatus = z.enum(['running', 'completed', 'cancelled']);
const BatchSchema = z.object({
  id: z.string(),
  type: z.string(),
  status: BatchStatus,
  total: z.number(),
  done: z.number(),
  failed: z.number(),
  pending: z.number(),
  chunkSize: z.number(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  endedAt: z.string().nullable(),
  failures: z.array(z.object({ instanceId: z.string(), error: z.string().nullable() })).optional(),
});
const PlanResponse = MigrationPlanSchema;

/** A batch as the native API shows it: counts per item status, failures when asked. */
export async function describeBatch(engine: WorkflowEngine, batch: batchesStore.BatchRow, withFailures = false) {
  const counts = (await engine.batches.itemCounts([batch.id])).get(batch.id)!;
  const failures = withFailures ? await engine.batches.items(batch.id, { status: 'failed' }) : undefined;
  return {
    id: batch.id,
    type: batch.type,
    status: batch.status,
    total: batch.total_items,
    ...counts,
    chunkSize: batch.chunk_size,
    createdBy: batch.created_by,
    createdAt: new Date(batch.created_at).toISOString(),
    endedAt: batch.ended_at ? new Date(batch.ended_at).toISOString() : null,
    ...(failures && { failures: failures.map((item) => ({ instanceId: item.item_id, error: item.error })) }),
  };
}

/** Native routes: migration plans (generate, validate, execute) and batch operations. */
export function migrationRoutes(engine: WorkflowEngine): RouteSpec[] {
  const roles: Array<'owner' | 'operator'> = ['owner', 'operator'];
  return [
    route({
      method: 'post',
      path: '/migrations/generate',
      tag: 'migrations',
      summary: "A migration plan between two versions: every activity of the source whose id exists in the target with a compatible kind (Camunda 7's generate). Edit it, then validate or execute it.",
      roles,
      body: z.object({ sourceDefinitionId: DefinitionId, targetDefinitionId: DefinitionId, updateEventTriggers: z.boolean().default(false) }).strict(),
      responses: { 200: { description: 'the plan', schema: PlanResponse } },
      handler: async ({ body }, _req, res) => {
        res.json(await engine.migrations.generate(body.sourceDefinitionId, body.targetDefinitionId, { updateEventTriggers: body.updateEventTriggers }));
      },
    }),
    route({
      method: 'post',
      path: '/migrations/validate',
      tag: 'migrations',
      summary: 'Checks a plan against both versions and, given instances, against each of them (every active activity mapped). Changes nothing.',
      roles,
      body: z.object({ plan: MigrationPlanSchema, ...Selection }).strict(),
      responses: {
        200: {
          description: 'the reports (valid: no failures)',
          schema: z.object({ valid: z.boolean(), instructionReports: z.array(z.unknown()), instanceReports: z.array(z.unknown()) }),
        },
      },
      handler: async ({ body }, _req, res) => {
        const instructionReports = await engine.migrations.validate(body.plan);
        const ids = body.instanceIds || body.query ? await engine.batches.selectInstances(body) : [];
        const instanceReports = instructionReports.length || !ids.length ? [] : await engine.migrations.validateInstances(body.plan, ids);
        res.json({ valid: !instructionReports.length && !instanceReports.length, instructionReports, instanceReports });
      },
    }),
    route({
      method: 'post',
      path: '/migrations/execute',
      tag: 'migrations',
      summary: 'Migrates instances: at once (every instance checked first; each then moves in its own transition), or with async a batch (202).',
      roles,
      body: z.object({ plan: MigrationPlanSchema, ...Selection, async: z.boolean().default(false) }).strict(),
      responses: {
        200: { description: 'migrated', schema: z.object({ migrated: z.array(z.string()) }) },
        202: { description: 'the batch that migrates them', schema: BatchSchema },
      },
      handler: async ({ body }, req, res) => {
        const ids = await engine.batches.selectInstances(body);
        const entry = auditEntry(req, body.async ? 'migration.execute-async' : 'migration.execute', body.plan.targetProcessDefinitionId, {
          source: body.plan.sourceProcessDefinitionId,
          instances: ids.length,
        });
        if (body.async) {
          const batch = await audited(engine.auditLog, entry, (audit) => engine.batches.create({ type: 'instance-migration', plan: body.plan }, ids, { audit }));
          res.status(202).json(await describeBatch(engine, batch));
          return;
        }
        res.json(await audited(engine.auditLog, entry, (audit) => engine.migrations.execute(body.plan, ids, audit)));
      },
    }),
    route({
      method: 'post',
      path: '/batches',
      tag: 'batches',
      summary: 'A batch operation over instances selected by ids or a query: migrate, cancel, retry their incidents (with retries) or set variables. Runs in chunks as jobs that survive restarts.',
      roles,
      body: BatchBody,
      responses: { 202: { description: 'the batch, running', schema: BatchSchema } },
      handler: async ({ body }, req, res) => {
        const { instanceIds, query, ...operation } = body;
        const ids = await engine.batches.selectInstances({ instanceIds, query });
        const entry = auditEntry(req, `batch.${body.type}`, body.type, { instances: ids.length });
        const batch = await audited(engine.auditLog, entry, (audit) => engine.batches.create(operation as BatchOperation, ids, { audit }));
        res.status(202).json(await describeBatch(engine, batch));
      },
    }),
    route({
      method: 'get',
      path: '/batches',
      tag: 'batches',
      summary: 'Batches, newest first, with their progress.',
      roles,
      query: z.object({ status: BatchStatus.optional(), type: z.string().max(50).optional() }).strict(),
      responses: { 200: { description: 'batches', schema: z.array(BatchSchema) } },
      handler: async ({ query }, _req, res) => {
        const rows = await engine.batches.list(query as { status?: batchesStore.BatchStatus; type?: batchesStore.BatchType });
        res.json(await Promise.all(rows.map((row) => describeBatch(engine, row))));
      },
    }),
    route({
      method: 'get',
      path: '/batches/:id',
      tag: 'batches',
      summary: 'One batch: progress and the instances that failed, with their errors.',
      roles,
      params: z.object({ id: Uuid }).strict(),
      responses: { 200: { description: 'the batch', schema: BatchSchema } },
      handler: async ({ params }, _req, res) => {
        res.json(await describeBatch(engine, await engine.batches.get(params.id), true));
      },
    }),
    route({
      method: 'post',
      path: '/batches/:id/cancel',
      tag: 'batches',
      summary: 'Stops a running batch: instances done stay done, the others are left as they are.',
      roles,
      params: z.object({ id: Uuid }).strict(),
      responses: { 200: { description: 'the batch', schema: BatchSchema } },
      handler: async ({ params }, req, res) => {
        const batch = await audited(engine.auditLog, auditEntry(req, 'batch.cancel', params.id), () => engine.batches.cancel(params.id));
        res.json(await describeBatch(engine, batch, true));
      },
    }),
    route({
      method: 'delete',
      path: '/batches/:id',
      tag: 'batches',
      summary: "Cancels a batch if it runs and deletes it with its items (Camunda 7's DELETE /batch/{id}).",
      roles,
      params: z.object({ id: Uuid }).strict(),
      responses: { 204: { description: 'deleted' } },
      handler: async ({ params }, req, res) => {
        await audited(engine.auditLog, auditEntry(req, 'batch.delete', params.id), async () => {
          await engine.batches.cancel(params.id);
          if (!(await engine.batches.delete(params.id))) throw notFound('batch', params.id);
        });
        res.status(204).end();
      },
    }),
  ];
}
