import { Router, type ErrorRequestHandler, type Request } from 'express';
import { z } from 'zod';
import type { MigrationPlan } from '../../engine/commands/migrations.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import { AppError, notFound } from '../../errors.js';
import type * as batchesStore from '../../store/batches.js';
import { audited, auditEntry } from '../audit.js';
import { allow } from '../auth.js';
import { c7Date, PageQuery, Uuid } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';

const DefinitionId = z.string().min(1).max(300);
const ActivityIds = z.array(z.string().min(1).max(255)).min(1).max(1);
const C7Instruction = z.object({ sourceActivityIds: ActivityIds, targetActivityIds: ActivityIds, updateEventTrigger: z.boolean().optional() }).strict();
const C7Variables = z.record(z.string().max(255), z.object({ value: z.unknown(), type: z.string().max(50).optional(), valueInfo: z.record(z.string(), z.unknown()).optional() }).strict());
const C7Plan = z
  .object({
    sourceProcessDefinitionId: DefinitionId,
    targetProcessDefinitionId: DefinitionId,
    instructions: z.array(C7Instruction).max(10_000),
    variables: C7Variables.nullish(),
  })
  .strict();
/** The fields of Camunda 7's process instance query that select what to migrate. */
const C7InstanceQuery = z
  .object({
    processDefinitionId: DefinitionId.optional(),
    processDefinitionKey: z.string().min(1).max(255).optional(),
    businessKey: z.string().min(1).max(255).optional(),
    processInstanceIds: z.array(Uuid).max(100_000).optional(),
  })
  .strict();
const C7Execution = z
  .object({
    migrationPlan: C7Plan,
    processInstanceIds: z.array(Uuid).max(100_000).optional(),
    processInstanceQuery: C7InstanceQuery.optional(),
    skipCustomListeners: z.boolean().optional(),
    skipIoMappings: z.boolean().optional(),
  })
  .strict()
  .refine((body) => body.processInstanceIds || body.processInstanceQuery, 'give processInstanceIds or a processInstanceQuery');

/** Our batch types under the names Camunda 7 gives its own. */
const C7_BATCH_TYPE: Record<batchesStore.BatchType, string> = {
  'instance-migration': 'instance-migration',
  'instance-cancel': 'instance-deletion',
  'incident-retry': 'set-external-task-retries',
  'set-variables': 'set-variables',
};
const TYPE_OF_C7 = Object.fromEntries(Object.entries(C7_BATCH_TYPE).map(([ours, theirs]) => [theirs, ours]));

const BatchQuery = z
  .object({ batchId: Uuid.optional(), type: z.string().max(100).optional(), suspended: z.enum(['true', 'false']).optional(), withoutTenantId: z.string().optional(), ...PageQuery })
  .strict();

function planOf(body: z.output<typeof C7Plan>): MigrationPlan {
  const variables = body.variables ? Object.fromEntries(Object.entries(body.variables).map(([name, variable]) => [name, variable.value])) : null;
  return { ...body, variables };
}

function c7PlanOf(plan: MigrationPlan) {
  return {
    sourceProcessDefinitionId: plan.sourceProcessDefinitionId,
    targetProcessDefinitionId: plan.targetProcessDefinitionId,
    instructions: plan.instructions.map((instruction) => ({ ...instruction, updateEventTrigger: instruction.updateEventTrigger ?? false })),
    variables: null,
  };
}

/** Camunda 7's BatchDto: a batch job is one of our chunks. */
function c7Batch(batch: batchesStore.BatchRow) {
  const totalJobs = Math.ceil(batch.total_items / batch.chunk_size);
  return {
    id: batch.id,
    type: C7_BATCH_TYPE[batch.type] ?? batch.type,
    totalJobs,
    jobsCreated: totalJobs,
    batchJobsPerSeed: totalJobs,
    invocationsPerBatchJob: batch.chunk_size,
    seedJobDefinitionId: null,
    monitorJobDefinitionId: null,
    batchJobDefinitionId: null,
    suspended: false,
    tenantId: null,
    createUserId: batch.created_by,
    startTime: c7Date(batch.created_at),
    executionStartTime: c7Date(batch.created_at),
  };
}

/**
 * Camunda 7's `/migration` (generate, validate, execute, executeAsync) and `/batch` (list, count,
 * one, statistics, delete), in its request and response shapes; invalid plans and instances
 * answer as C7 does: 400 with `MigrationPlanValidationException` or
 * `MigratingProcessInstanceValidationException` and the validation report.
 */
export function camundaMigrationRouters(engine: WorkflowEngine): { migration: Router; batch: Router } {
  const router = Router();
  const batches = Router();
  const operators = allow('owner', 'operator');

  const selectionOf = async (body: z.output<typeof C7Execution>) => {
    const query = body.processInstanceQuery;
    return engine.batches.selectInstances({
      instanceIds: body.processInstanceIds ?? query?.processInstanceIds,
      query: query && { definitionId: query.processDefinitionId, processKey: query.processDefinitionKey, businessKey: query.businessKey },
    });
  };
  const audit = (req: Request, action: string, plan: MigrationPlan, instances: number) =>
    auditEntry(req, action, plan.targetProcessDefinitionId, { source: plan.sourceProcessDefinitionId, instances });

  router.post('/generate', operators, async (req, res) => {
    const body = z
      .object({ sourceProcessDefinitionId: DefinitionId, targetProcessDefinitionId: DefinitionId, updateEventTriggers: z.boolean().optional(), variables: C7Variables.nullish() })
      .strict()
      .parse(req.body ?? {});
    const plan = await engine.migrations.generate(body.sourceProcessDefinitionId, body.targetProcessDefinitionId, { updateEventTriggers: body.updateEventTriggers });
    sendJson(res, 200, { ...c7PlanOf(plan), variables: body.variables ?? null });
  });

  router.post('/validate', operators, async (req, res) => {
    const plan = planOf(C7Plan.parse(req.body ?? {}));
    const reports = await engine.migrations.validate(plan).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'MIGRATION_PLAN_INVALID') return [{ instruction: null, failures: [error.message] }];
      throw error;
    });
    sendJson(res, 200, {
      instructionReports: reports.map((report) => ({ instruction: report.instruction && c7PlanOf({ ...plan, instructions: [report.instruction] }).instructions[0], failures: report.failures })),
      variableReports: {},
    });
  });

  router.post('/execute', operators, async (req, res) => {
    const body = C7Execution.parse(req.body ?? {});
    const plan = planOf(body.migrationPlan);
    const ids = await selectionOf(body);
    await audited(engine.auditLog, audit(req, 'migration.execute', plan, ids.length), (entry) => engine.migrations.execute(plan, ids, entry));
    res.status(204).end();
  });

  router.post('/executeAsync', operators, async (req, res) => {
    const body = C7Execution.parse(req.body ?? {});
    const plan = planOf(body.migrationPlan);
    const ids = await selectionOf(body);
    const batch = await audited(engine.auditLog, audit(req, 'migration.execute-async', plan, ids.length), (entry) =>
      engine.batches.create({ type: 'instance-migration', plan }, ids, { audit: entry }),
    );
    sendJson(res, 200, c7Batch(batch));
  });

  const listed = async (query: unknown) => {
    const { batchId, type, firstResult, maxResults, suspended } = BatchQuery.parse(query);
    if (suspended === 'true') return []; // regenflow's batches are never suspended
    const ours = type ? (TYPE_OF_C7[type] as batchesStore.BatchType | undefined) : undefined;
    if (type && !ours) return [];
    return engine.batches.list({ id: batchId, type: ours }, { firstResult, maxResults });
  };

  batches.get('/', operators, async (req, res) => {
    sendJson(res, 200, (await listed(req.query)).map(c7Batch));
  });
  batches.get('/count', operators, async (req, res) => {
    sendJson(res, 200, { count: (await listed(req.query)).length });
  });

  const statistics = async (rows: batchesStore.BatchRow[]) => {
    const jobs = await engine.batches.jobCounts(rows.map((row) => row.id));
    return rows.map((row) => {
      const batch = c7Batch(row);
      const { remaining, failed } = jobs.get(row.id)!;
      return { ...batch, remainingJobs: remaining, completedJobs: batch.totalJobs - remaining, failedJobs: failed };
    });
  };
  batches.get('/statistics', operators, async (req, res) => {
    sendJson(res, 200, await statistics(await listed(req.query)));
  });
  batches.get('/statistics/count', operators, async (req, res) => {
    sendJson(res, 200, { count: (await listed(req.query)).length });
  });

  batches.get('/:id', operators, async (req, res) => {
    const { id } = z.object({ id: Uuid }).parse(req.params);
    sendJson(res, 200, c7Batch(await engine.batches.get(id)));
  });

  batches.delete('/:id', operators, async (req, res) => {
    const { id } = z.object({ id: Uuid }).parse(req.params);
    await audited(engine.auditLog, auditEntry(req, 'batch.delete', id), async () => {
      await engine.batches.cancel(id);
      if (!(await engine.batches.delete(id))) throw notFound('batch', id);
    });
    res.status(204).end();
  });

  const migrationErrors: ErrorRequestHandler = (error, _req, res, next) => {
    if (!(error instanceof AppError) || (error.code !== 'MIGRATION_PLAN_INVALID' && error.code !== 'MIGRATION_INSTANCE_INVALID')) return next(error);
    sendJson(res, 400, {
      type: error.code === 'MIGRATION_PLAN_INVALID' ? 'MigrationPlanValidationException' : 'MigratingProcessInstanceValidationException',
      message: error.message,
      code: 0,
      validationReport: (error.details as { validationReport?: unknown } | undefined)?.validationReport ?? null,
    });
  };
  router.use(migrationErrors);
  return { migration: router, batch: batches };
}
