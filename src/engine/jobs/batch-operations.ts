import type { Knex } from 'knex';
import { AppError, notFound } from '../../errors.js';
import type { AuditEntry } from '../../store/audit-entries.js';
import { appendAuditEntry } from '../../store/audit-entries.js';
import * as batchesStore from '../../store/batches.js';
import { activeInstanceIds } from '../../store/instance-migrations.js';
import type { EngineContext } from '../engine-context.js';
import type { Migrations, MigrationPlan } from '../commands/migrations.js';
import type { Transitions } from '../transitions.js';
import type { Variables } from '../types.js';
import type { JobHandler } from './job-handler.js';

/** What a batch does to each of its instances. */
export type BatchOperation =
  | { type: 'instance-migration'; plan: MigrationPlan }
  | { type: 'instance-cancel'; reason: string }
  | { type: 'incident-retry'; retries: number }
  | { type: 'set-variables'; variables: Variables };

export interface InstanceSelection {
  instanceIds?: string[];
  query?: { definitionId?: string; processKey?: string; businessKey?: string };
}

/** The most instances one batch takes. */
export const MAX_BATCH_ITEMS = 100_000;

/** Items per chunk job (Camunda 7's invocationsPerBatchJob). */
export const DEFAULT_CHUNK_SIZE = 50;
/** A running chunk's lease: renewed while it runs, so a killed node's chunk is taken over this soon. */
const CHUNK_LEASE_MS = 10_000;

export interface BatchEngine {
  migrations: Migrations;
  cancel(instanceId: string, reason: string, audit?: AuditEntry): Promise<void>;
  retryIncident(incidentId: string, retries: number, audit?: AuditEntry): Promise<void>;
}

/**
 * Batch operations over many instances (Camunda 7's batches): the batch, its items and one job
 * per chunk are written at once; each chunk runs as a job on whichever node claims it, survives
 * restarts (a killed node's chunk is claimed again when its short lease runs out), and settles
 * each item exactly once: a migration or a variable change marks its item in its own commit.
 */
export class BatchOperations {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
    private readonly engine: BatchEngine,
  ) {}

  /** Creates a batch over `instanceIds` (a migration's plan is checked first: an invalid plan makes no batch). */
  async create(operation: BatchOperation, instanceIds: string[], options: { audit?: AuditEntry; chunkSize?: number } = {}): Promise<batchesStore.BatchRow> {
    if (operation.type === 'instance-migration') {
      const reports = await this.engine.migrations.validate(operation.plan);
      if (reports.length) {
        throw new AppError('MIGRATION_PLAN_INVALID', `migration plan is not valid: ${reports[0]!.failures.join('; ')}`, { details: { validationReport: { instructionReports: reports } } });
      }
    }
    const unique = [...new Set(instanceIds)];
    const { type, ...payload } = operation;
    const batch = await this.ctx.knex.transaction(async (trx) => {
      const row = await batchesStore.insertBatch(trx, { type, payload, createdBy: options.audit?.actor ?? null, chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE }, unique);
      if (options.audit) await appendAuditEntry(trx, { ...options.audit, target: row.id });
      return row;
    });
    this.ctx.emit('jobs.scheduled');
    this.ctx.emit('batch.created', { id: batch.id, type, total: unique.length });
    return batch;
  }

  /**
   * The instances a batch or migration applies to: given ids, the active instances a query
   * finds, or both (their intersection), resolved now (as Camunda 7 does when it creates a batch).
   */
  async selectInstances(selection: InstanceSelection): Promise<string[]> {
    if (!selection.instanceIds && !selection.query) throw new AppError('VALIDATION_FAILED', 'select instances by ids, by a query, or both');
    // Ids alone are taken as given: one that cannot be processed is listed among the failures.
    if (!selection.query) return [...new Set(selection.instanceIds)].slice(0, MAX_BATCH_ITEMS);
    return activeInstanceIds(this.ctx.knex, { ...selection.query, ids: selection.instanceIds }, MAX_BATCH_ITEMS);
  }

  async get(batchId: string): Promise<batchesStore.BatchRow> {
    const batch = await batchesStore.findBatch(this.ctx.knex, batchId);
    if (!batch) throw notFound('batch', batchId);
    return batch;
  }

  /** Batches matching a filter, newest first, a page of them. */
  list(filter: batchesStore.BatchFilter, page: { firstResult?: number; maxResults?: number } = {}): Promise<batchesStore.BatchRow[]> {
    return batchesStore.listBatches(this.ctx.knex, filter, page);
  }

  count(filter: batchesStore.BatchFilter): Promise<number> {
    return batchesStore.countBatches(this.ctx.knex, filter);
  }

  /** Items pending, done and failed per batch. */
  itemCounts(batchIds: string[]): Promise<Map<string, batchesStore.BatchCounts>> {
    return batchesStore.batchCounts(this.ctx.knex, batchIds);
  }

  /** Chunk jobs remaining and failed per batch (Camunda 7's batch statistics). */
  jobCounts(batchIds: string[]): Promise<Map<string, { remaining: number; failed: number }>> {
    return batchesStore.batchJobCounts(this.ctx.knex, batchIds);
  }

  items(batchId: string, filter: { status?: batchesStore.BatchItemStatus }): ReturnType<typeof batchesStore.listBatchItems> {
    return batchesStore.listBatchItems(this.ctx.knex, batchId, filter);
  }

  /** Deletes a batch with its items and chunk jobs; false when there is none. */
  async delete(batchId: string): Promise<boolean> {
    return (await batchesStore.deleteBatch(this.ctx.knex, batchId)) > 0;
  }

  /** Stops a running batch: items done stay done, the rest are not run. */
  async cancel(batchId: string): Promise<batchesStore.BatchRow> {
    const batch = await batchesStore.cancelBatch(this.ctx.knex, batchId);
    if (!batch) throw notFound('batch', batchId);
    return batch;
  }

  /** The job handler of one chunk. */
  chunkJob(): JobHandler {
    return async (job) => {
      const { batchId, chunk } = job.payload as { batchId: string; chunk: number };
      const nodeId = this.ctx.options.nodeId;
      await batchesStore.extendChunkLease(this.ctx.knex, job.id, nodeId, CHUNK_LEASE_MS);
      const batch = await batchesStore.findBatch(this.ctx.knex, batchId);
      if (!batch || batch.status !== 'running') {
        await batchesStore.finishChunk(this.ctx.knex, job.id, batchId);
        return;
      }
      const operation = { type: batch.type, ...batch.payload } as BatchOperation;
      let renewedAt = Date.now();
      for (const itemId of await batchesStore.pendingItems(this.ctx.knex, batchId, chunk)) {
        if (Date.now() - renewedAt > CHUNK_LEASE_MS / 4) {
          const current = await batchesStore.findBatch(this.ctx.knex, batchId);
          if (current?.status !== 'running') break; // cancelled meanwhile
          await batchesStore.extendChunkLease(this.ctx.knex, job.id, nodeId, CHUNK_LEASE_MS);
          renewedAt = Date.now();
        }
        try {
          await this.runItem(batch, operation, itemId);
        } catch (error) {
          if (error instanceof ItemSettled) continue;
          await batchesStore.settleItem(this.ctx.knex, batchId, itemId, 'failed', error instanceof Error ? error.message : String(error));
        }
      }
      const completed = await batchesStore.finishChunk(this.ctx.knex, job.id, batchId);
      if (completed) this.ctx.emit('batch.completed', { id: batchId, type: batch.type });
    };
  }

  /** Applies the operation to one instance and settles its item (with the change's commit where the change is a transition). */
  private async runItem(batch: batchesStore.BatchRow, operation: BatchOperation, instanceId: string): Promise<void> {
    const settle = async (trx: Knex.Transaction) => {
      if (!(await batchesStore.settleItem(trx, batch.id, instanceId, 'done'))) throw new ItemSettled();
    };
    switch (operation.type) {
      case 'instance-migration':
        await this.engine.migrations.migrateInstance(operation.plan, instanceId, undefined, settle);
        return;
      case 'set-variables':
        await this.transitions.transition(instanceId, { type: 'set-variables', variables: operation.variables }, settle);
        return;
      case 'instance-cancel': {
        // Cancelling twice is cancelling once: an instance this batch cancelled before a crash is done.
        try {
          await this.engine.cancel(instanceId, operation.reason);
        } catch (error) {
          const ended = error instanceof AppError && error.code === 'INSTANCE_ENDED';
          if (!ended || (await this.transitions.getInstance(instanceId)).status !== 'cancelled') throw error;
        }
        await batchesStore.settleItem(this.ctx.knex, batch.id, instanceId, 'done');
        return;
      }
      case 'incident-retry': {
        for (const incidentId of await batchesStore.openIncidentIds(this.ctx.knex, instanceId)) await this.engine.retryIncident(incidentId, operation.retries);
        await batchesStore.settleItem(this.ctx.knex, batch.id, instanceId, 'done');
        return;
      }
    }
  }
}

/** The item was settled by another run of its chunk (a node that was thought dead). */
class ItemSettled extends Error {}
