import { AppError, notFound } from '../../errors.js';
import * as definitionsStore from '../../store/definitions.js';
import { appendAuditEntry, type AuditEntry } from '../../store/audit-entries.js';
import { endInstance, type InstanceRow } from '../../store/transitions.js';
import { activityOfExecution } from '../runtime/execution-ids.js';
import type { CommittedTransition, Variables } from '../types.js';
import type { EngineContext, StartOptions } from '../engine-context.js';
import type { Transitions } from '../transitions.js';
import { checkStart } from '../start-check.js';
import type { LatestDefinition } from '../definition-cache.js';

/** Starting, cancelling and steering instances. */
export class Instances {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  async start(options: StartOptions): Promise<InstanceRow> {
    const definition = await this.resolveDefinition(options);
    const trigger = checkStart(definition, options);
    return this.transitions.startInstance(definition, { variables: options.variables, businessKey: options.businessKey, audit: options.audit, ...trigger });
  }

  private async resolveDefinition(options: { processKey?: string; definitionId?: string }): Promise<LatestDefinition> {
    const row = options.definitionId
      ? await definitionsStore.findDefinitionSummary(this.ctx.knex, options.definitionId)
      : options.processKey
        ? await this.ctx.definitions.latest(options.processKey)
        : undefined;
    if (!row) throw notFound('process definition', options.definitionId ?? options.processKey ?? '(none given)');
    if (!row.executable) throw new AppError('NOT_EXECUTABLE', `process definition ${row.id} is not executable`);
    return row;
  }

  async cancel(instanceId: string, reason = 'cancelled', audit?: AuditEntry): Promise<void> {
    let descendants: InstanceRow[] = [];
    await this.transitions.withRetries(instanceId, async () => {
      const row = await this.transitions.getInstance(instanceId);
      if (row.status !== 'active') throw new AppError('INSTANCE_ENDED', `process instance ${instanceId} has already ended (${row.status})`);
      // Its parent's call activity waits for it: cancel the root, as Zeebe asks (see README).
      if (row.parent_instance_id) {
        throw new AppError(
          'CALLED_INSTANCE',
          `process instance ${instanceId} was started by call activity ${activityOfExecution(row.parent_execution_id ?? '')} of instance ${row.parent_instance_id}; cancel that instance instead`,
          { details: { parentInstanceId: row.parent_instance_id } },
        );
      }
      await this.ctx.options.clock.current();
      descendants = await this.ctx.knex.transaction(async (trx) => {
        await endInstance(trx, row, 'cancelled', reason, this.ctx.options.clock.known());
        const orphans = await this.transitions.endDescendants(trx, instanceId, () => 'cancelled');
        if (audit) await appendAuditEntry(trx, { ...audit, instanceId });
        return orphans;
      });
    });
    const cancelled = await this.transitions.getInstance(instanceId);
    this.ctx.emit('transition.outcome', { instance: cancelled, event: null, outcome: null } satisfies CommittedTransition);
    this.transitions.announceOrphans(descendants);
    this.ctx.emit('instance.ended', { id: instanceId, status: 'cancelled', processKey: cancelled.process_key });
  }

  async setVariables(instanceId: string, variables: Variables, audit?: AuditEntry): Promise<InstanceRow> {
    return this.transitions.transition(instanceId, { type: 'set-variables', variables }, this.transitions.auditing(audit, instanceId));
  }
}
