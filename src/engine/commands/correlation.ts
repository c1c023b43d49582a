import { AppError } from '../../errors.js';
import type { AuditEntry } from '../../store/audit-entries.js';
import { safeCopy } from '../runtime/variables.js';
import { findMessageStart, findMessageSubscriptions, findSignalStarts, findSignalSubscriptions } from '../../store/subscriptions.js';
import type { Variables } from '../types.js';
import type { EngineContext, CorrelateOptions, CorrelationResult } from '../engine-context.js';
import type { Transitions } from '../transitions.js';

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
              this.transitions.auditing(options.audit, subscription.instance_id),
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

  /** Delivers a signal to every waiting catch event and starts every signal start event. */
  async broadcastSignal(name: string, variables: Variables = {}, audit?: AuditEntry): Promise<{ delivered: number; started: number }> {
    const waiting = await findSignalSubscriptions(this.ctx.knex, name);
    // One transition per instance (and signal element): it moves every catch and starts every event
    // sub-process waiting for it there, so one per subscription would deliver it again.
    const executions = new Map<string, { instanceId: string; refId: string; count: number }>();
    for (const row of waiting) {
      const key = `${row.instance_id}/${row.ref_id}`;
      const entry = executions.get(key) ?? { instanceId: row.instance_id, refId: row.ref_id, count: 0 };
      entry.count++;
      executions.set(key, entry);
    }
    let delivered = 0;
    for (const { instanceId, refId, count } of executions.values()) {
      try {
        await this.transitions.transition(instanceId, { type: 'deliver-signal', refId, variables }, this.transitions.auditing(audit, instanceId));
        delivered += count;
      } catch (error) {
        if (!(error instanceof AppError && ['SUBSCRIPTION_GONE', 'INSTANCE_ENDED'].includes(error.code))) throw error;
      }
    }
    const starts = await findSignalStarts(this.ctx.knex, name);
    for (const start of starts) {
      await this.transitions.startInstance(
        { id: start.definition_id, key: start.key },
        { variables, event: { type: 'deliver-signal', refId: start.ref_id, variables: {} }, audit },
      );
    }
    return { delivered, started: starts.length };
  }
}
