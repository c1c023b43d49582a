import { AppError } from '../../errors.js';
import type { Knex } from 'knex';
import { appendAuditEntry, type AuditEntry } from '../../store/audit-entries.js';
import * as broadcasts from '../../store/signal-broadcasts.js';
import { safeCopy } from '../runtime/variables.js';
import { findMessageStart, findMessageSubscriptions } from '../../store/subscriptions.js';
import type { Variables } from '../types.js';
import type { EngineContext, CorrelateOptions, CorrelationResult } from '../engine-context.js';
import type { Transitions } from '../transitions.js';

/** A broadcast not renewed for this long belongs to a node that died: any node finishes it. */
const BROADCAST_LEASE_MS = 10_000;

/** Messages and signals: deliver to waiting executions, or start instances. */
export class Correlation {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  async correlateMessage(options: CorrelateOptions): Promise<CorrelationResult[]> {
    for (let attempt = 1; ; attempt++) {
      const subscriptions = await findMessageSubscriptions(this.ctx.knex, options.messageName, {
        businessKey: options.businessKey,
        processInstanceId: options.processInstanceId,
        correlationKeys: options.correlationKeys && safeCopy(options.correlationKeys),
      });
      if (subscriptions.length > 1 && !options.all) {
        throw new AppError(
          'MESSAGE_CORRELATION_AMBIGUOUS',
          `message '${options.messageName}' matches ${subscriptions.length} executions; narrow it with a business key, ` +
            'correlation keys or an instance id, or correlate to all',
        );
      }
      if (subscriptions.length) {
        try {
          const results: CorrelationResult[] = [];
          for (const subscription of subscriptions) {
            await this.transitions.transition(
              subscription.instance_id,
              {
                type: 'deliver-message',
                refId: subscription.ref_id,
                executionId: subscription.execution_id,
                variables: options.variables ?? {},
              },
              this.transitions.auditing(options.audit, subscription.instance_id, options.inCommit),
            );
            results.push({ resultType: 'Execution', instanceId: subscription.instance_id });
          }
          return results;
        } catch (error) {
          // The instance moved on between the lookup and the delivery: look again.
          if (error instanceof AppError && error.code === 'SUBSCRIPTION_GONE' && attempt < 3) continue;
          throw error;
        }
      }
      if (options.processInstanceId) break;
      const start = await findMessageStart(this.ctx.knex, options.messageName);
      if (start) {
        const row = await this.transitions.startInstance(
          { id: start.definition_id, key: start.key },
          {
            variables: options.variables,
            businessKey: options.businessKey,
            event: { type: 'deliver-message', refId: start.ref_id, variables: {} },
            audit: options.audit,
          },
        );
        return [{ resultType: 'ProcessDefinition', instanceId: row.id }];
      }
      break;
    }
    throw new AppError(
      'MESSAGE_NOT_CORRELATED',
      `no process definition or execution matches message '${options.messageName}'`,
    );
  }

  /**
   * Delivers a signal to every waiting catch event and starts every signal start event. The
   * broadcast is recorded first with all its receivers, then delivered one receiver at a time,
   * each delivery marked in the commit of its transition: a broadcast cut by a crash is resumed
   * (by the retry of its request with the same Idempotency-Key, or by any node's job poller
   * once its lease ran out) and reaches every receiver exactly once.
   */
  async broadcastSignal(name: string, variables: Variables = {}, audit?: AuditEntry): Promise<{ delivered: number; started: number }> {
    const { id, created, name: recorded } = await broadcasts.recordSignalBroadcast(this.ctx.knex, {
      name,
      variables,
      audit: audit ?? null,
      actor: audit?.actor ?? null,
      idempotencyKey: audit?.idempotencyKey ?? null,
      nodeId: this.ctx.options.nodeId,
      leaseMs: BROADCAST_LEASE_MS,
    });
    if (!created && recorded !== name) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${audit?.idempotencyKey} was used for the signal '${recorded}', not '${name}'`);
    }
    return this.deliverBroadcast(id);
  }

  /** Finishes one broadcast whose node died mid-way (its lease ran out); returns whether there was one. */
  async resumeAbandonedBroadcast(): Promise<boolean> {
    const id = await broadcasts.claimAbandonedSignalBroadcast(this.ctx.knex, this.ctx.options.nodeId, BROADCAST_LEASE_MS);
    if (!id) return false;
    await this.deliverBroadcast(id);
    return true;
  }

  private async deliverBroadcast(id: string): Promise<{ delivered: number; started: number }> {
    const broadcast = await broadcasts.findSignalBroadcast(this.ctx.knex, id);
    if (!broadcast) throw new AppError('NOT_FOUND', `signal broadcast ${id} not found`);
    // Each delivery's audit entry is the request's, without its idempotency key: a retry with the
    // key finds the broadcast itself (recordSignalBroadcast) and resumes it instead of replaying.
    const { idempotencyKey: _key, ...audit } = (broadcast.audit ?? {}) as unknown as AuditEntry;
    const auditEntry = broadcast.audit ? (audit as AuditEntry) : undefined;
    const variables = broadcast.variables as Variables;
    let renewedAt = Date.now();
    for (const delivery of await broadcasts.pendingSignalDeliveries(this.ctx.knex, id)) {
      if (Date.now() - renewedAt > BROADCAST_LEASE_MS / 4) {
        await broadcasts.renewSignalBroadcast(this.ctx.knex, id, this.ctx.options.nodeId, BROADCAST_LEASE_MS);
        renewedAt = Date.now();
      }
      if (delivery.kind === 'instance') await this.deliverToInstance(delivery, variables, auditEntry);
      else await this.deliverToStart(delivery, variables, auditEntry);
    }
    return broadcasts.finishSignalBroadcast(this.ctx.knex, id);
  }

  private async deliverToInstance(delivery: broadcasts.SignalDelivery, variables: Variables, audit: AuditEntry | undefined): Promise<void> {
    const instanceId = delivery.instance_id as string;
    const markDone = async (trx: Knex.Transaction) => {
      if (!(await broadcasts.markSignalDelivered(trx, delivery.id, 'delivered'))) throw new AppError('SIGNAL_DELIVERED', `signal delivery ${delivery.id} was made already`);
    };
    try {
      await this.transitions.transition(instanceId, { type: 'deliver-signal', refId: delivery.ref_id, variables }, this.transitions.auditing(audit, instanceId, markDone));
    } catch (error) {
      if (error instanceof AppError && error.code === 'SIGNAL_DELIVERED') return;
      if (!(error instanceof AppError && ['SUBSCRIPTION_GONE', 'INSTANCE_ENDED'].includes(error.code))) throw error;
      await broadcasts.markSignalDelivered(this.ctx.knex, delivery.id, 'gone');
    }
  }

  private async deliverToStart(delivery: broadcasts.SignalDelivery, variables: Variables, audit: AuditEntry | undefined): Promise<void> {
    const definition = { id: delivery.definition_id as string, key: delivery.process_key as string };
    const prepared = await this.transitions.prepareInstance(definition, { variables, event: { type: 'deliver-signal', refId: delivery.ref_id, variables: {} } });
    await this.ctx.options.clock.current();
    const row = await this.ctx.knex.transaction(async (trx) => {
      if (!(await broadcasts.markSignalDelivered(trx, delivery.id, 'started', prepared.id))) return null; // started by an earlier run
      const written = await this.transitions.writeInstance(trx, prepared);
      if (audit) await appendAuditEntry(trx, { ...audit, instanceId: written.id });
      return written;
    });
    if (row) this.transitions.announceAll(prepared, row);
  }
}
