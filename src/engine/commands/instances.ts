import { AppError, notFound } from '../../errors.js';
import * as definitionsStore from '../../store/definitions.js';
import { appendAuditEntry, type AuditEntry } from '../../store/audit-entries.js';
import { activeChildren, endInstance, lockInstance, type InstanceRow } from '../../store/transitions.js';
import { activityOfExecution } from '../runtime/execution-ids.js';
import { activeActivities } from '../runtime/state-migration.js';
import type { CommittedTransition, Variables } from '../types.js';
import type { EngineContext, StartOptions } from '../engine-context.js';
import type { Transitions } from '../transitions.js';
import { checkStart } from '../start-check.js';
import type { LatestDefinition } from '../definition-cache.js';

/** Activities that stay active around a waiting call activity: the scopes that hold it and the boundary events on it. */
const CALL_SCOPE_TYPES = new Set(['bpmn:SubProcess', 'bpmn:Transaction', 'bpmn:AdHocSubProcess', 'bpmn:BoundaryEvent']);

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

  /**
   * Cancels an instance and every instance it called. A called instance takes its caller with
   * it, as in Camunda 7 (AbstractDeleteProcessInstanceCmd cancels the super execution's
   * activity instance, and a caller left with nothing to do ends, up the chain): its call
   * activity never hands back a result, so the topmost caller that waits on nothing else is
   * cancelled, with everything below it. A caller with other branches running would need its
   * call activity cancelled alone (C7's instance modification), which regenflow does not have:
   * that is refused with 409 `CALLED_INSTANCE`, naming the caller.
   */
  async cancel(instanceId: string, reason = 'cancelled', audit?: AuditEntry): Promise<void> {
    let descendants: InstanceRow[] = [];
    let rootId = instanceId;
    await this.transitions.withRetries(instanceId, async () => {
      const row = await this.transitions.getInstance(instanceId);
      if (row.status !== 'active') throw new AppError('INSTANCE_ENDED', `process instance ${instanceId} has already ended (${row.status})`);
      const chain = await this.cancellationChain(row);
      const root = chain[chain.length - 1]!;
      rootId = root.id;
      await this.ctx.options.clock.current();
      descendants = await this.ctx.knex.transaction(async (trx) => {
        // The callers were judged idle at these versions: a caller that moved since is judged again.
        for (const caller of [...chain].reverse()) await lockInstance(trx, caller.id, caller.version);
        const why = root.id === instanceId ? reason : `${reason} (through called instance ${instanceId})`;
        await endInstance(trx, root, 'cancelled', why, this.ctx.options.clock.known());
        const orphans = await this.transitions.endDescendants(trx, root.id, () => 'cancelled');
        if (audit) await appendAuditEntry(trx, { ...audit, instanceId });
        return orphans;
      });
    });
    const cancelled = await this.transitions.getInstance(rootId);
    this.ctx.emit('transition.outcome', { instance: cancelled, event: null, outcome: null } satisfies CommittedTransition);
    this.transitions.announceOrphans(descendants);
    this.ctx.emit('instance.ended', { id: rootId, status: 'cancelled', processKey: cancelled.process_key });
  }

  /** `row` and the callers its cancellation ends, up to the topmost that waits on nothing but its call (last). */
  private async cancellationChain(row: InstanceRow): Promise<InstanceRow[]> {
    const chain = [row];
    for (let current = row; current.parent_instance_id; ) {
      const caller = await this.transitions.getInstance(current.parent_instance_id);
      if (caller.status !== 'active') break;
      const callActivity = activityOfExecution(current.parent_execution_id ?? '');
      const otherBranches = activeActivities(caller.state)
        .filter((activity) => activity.id !== callActivity && !CALL_SCOPE_TYPES.has(activity.type))
        .map((activity) => activity.id);
      const otherCalls = (await activeChildren(this.ctx.knex, [caller.id])).filter((child) => child.id !== current.id);
      if (otherBranches.length || otherCalls.length) {
        const running = [...otherBranches, ...otherCalls.map((child) => `called instance ${child.id}`)];
        throw new AppError(
          'CALLED_INSTANCE',
          `process instance ${current.id} was started by call activity ${callActivity} of instance ${caller.id}, which also runs ${running.join(', ')}; ` +
            'cancelling the call activity alone is not supported, cancel that instance instead',
          { details: { parentInstanceId: caller.id, callActivityId: callActivity, running } },
        );
      }
      chain.push(caller);
      current = caller;
    }
    return chain;
  }

  async setVariables(instanceId: string, variables: Variables, audit?: AuditEntry): Promise<InstanceRow> {
    return this.transitions.transition(instanceId, { type: 'set-variables', variables }, this.transitions.auditing(audit, instanceId));
  }
}
