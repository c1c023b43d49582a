import type { Knex } from 'knex';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import type { Variables } from '../engine/types.js';
import { AppError } from '../errors.js';
import * as alertsStore from '../store/alerts.js';
import * as definitionsStore from '../store/definitions.js';
import type { AlertBatch, NormalizedAlert } from './payloads.js';

export interface AlertIntakeOptions {
  /** The process a firing alert starts. @default incident-response */
  processKey: string;
  /** Variables every new incident starts with (thresholds, timeouts). */
  startVariables?: () => Variables;
}

export type AlertAction = 'started' | 'correlated' | 'noted' | 'duplicate' | 'stored' | 'failed';

export interface AlertResult {
  fingerprint: string;
  status: 'firing' | 'resolved';
  startsAt: string | null;
  action: AlertAction;
  instanceId: string | null;
  error?: string;
}

export interface IntakeResult {
  results: AlertResult[];
  truncatedAlerts: number;
  /** False when every alert failed and nothing was stored: the sender should retry (5xx). */
  storedAny: boolean;
}

/** Messages the incident-response process listens for. */
export const ALERT_RESOLVED = 'alert.resolved';
export const ALERT_REFIRED = 'alert.refired';

/** A claim whose start did not finish in this time belongs to a node that died. */
const CLAIM_STALE_MS = 60_000;

/** Second look for a waiting `alert.resolved` subscription (see `resolved`). */
const RESOLVE_RETRY_MS = 200;

/**
 * Turns alerts into instance starts and messages. Every alert occurrence (fingerprint +
 * startsAt) is stored first, under a unique constraint: of two identical notifications,
 * even concurrent ones, exactly one gets to act. If acting fails, the occurrence is
 * forgotten again, so that a retried notification starts over.
 */
export class AlertIntake {
  /** One alert of a fingerprint at a time in this process (start-or-correlate must not race itself). */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly knex: Knex,
    private readonly engine: WorkflowEngine,
    private readonly options: AlertIntakeOptions,
  ) {}

  /** `actor` names the sender in the audit log (the token of the webhook call). */
  async receive(batch: AlertBatch, actor = 'system'): Promise<IntakeResult> {
    const results: AlertResult[] = [];
    for (const alert of batch.alerts) {
      const result = await this.serialised(alert.fingerprint, () => this.receiveOne(alert, batch, actor)).catch(
        (error: unknown): AlertResult => ({
          fingerprint: alert.fingerprint,
          status: alert.status,
          startsAt: alert.startsAt?.toISOString() ?? null,
          action: 'failed',
          instanceId: null,
          error: error instanceof Error ? error.message : String(error),
        }),
      );
      results.push(result);
    }
    return { results, truncatedAlerts: batch.truncatedAlerts, storedAny: results.some((result) => result.action !== 'failed') };
  }

  private async serialised<T>(fingerprint: string, work: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(fingerprint) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.chains.set(fingerprint, next);
    try {
      return await next;
    } finally {
      if (this.chains.get(fingerprint) === next) this.chains.delete(fingerprint);
    }
  }

  private async receiveOne(alert: NormalizedAlert, batch: AlertBatch, actor: string): Promise<AlertResult> {
    return alert.status === 'firing' ? this.firing(alert, batch, actor) : this.resolved(alert, batch, actor);
  }

  private async firing(alert: NormalizedAlert, batch: AlertBatch, actor: string): Promise<AlertResult> {
    let startsAt = alert.startsAt;
    if (!startsAt) {
      // A source without startsAt: while an occurrence is open, the same alert is a repeat.
      const open = await alertsStore.findOpenFiring(this.knex, alert.fingerprint);
      if (open) return this.result(alert, open.starts_at, 'duplicate', open.instance_id);
      startsAt = new Date();
    }
    const { inserted, row } = await alertsStore.insertAlertOnce(this.knex, { ...this.newAlert(alert, batch), startsAt });
    if (!inserted) return this.result(alert, row.starts_at, 'duplicate', row.instance_id);

    try {
      const running = await alertsStore.findRunningInstance(this.knex, alert.fingerprint, this.options.processKey);
      if (running) {
        // The alert fired again while its incident is open: tell the instance (during
        // validation that means the fix did not hold); otherwise just note it.
        const delivered = await this.deliver(ALERT_REFIRED, running, { validation: 'refired', refiredAt: startsAt.toISOString() }, actor);
        const action = delivered ? 'correlated' : 'noted';
        await alertsStore.attachInstance(this.knex, row.id, running, action);
        return this.result(alert, startsAt, action, running);
      }
      const claim = await alertsStore.claimIncident(this.knex, alert.fingerprint, CLAIM_STALE_MS);
      if (!claim.claimed) {
        // Another node is starting (or runs) the incident of this fingerprint right now.
        const action = claim.instanceId && (await this.deliver(ALERT_REFIRED, claim.instanceId, { validation: 'refired', refiredAt: startsAt.toISOString() }, actor)) ? 'correlated' : 'noted';
        await alertsStore.attachInstance(this.knex, row.id, claim.instanceId, action);
        return this.result(alert, startsAt, action, claim.instanceId);
      }
      let instanceId: string;
      try {
        instanceId = await this.startIncident(alert, startsAt, batch, actor);
      } catch (error) {
        await alertsStore.releaseIncidentClaim(this.knex, alert.fingerprint);
        throw error;
      }
      await alertsStore.settleIncidentClaim(this.knex, alert.fingerprint, instanceId);
      await alertsStore.attachInstance(this.knex, row.id, instanceId, 'started');
      return this.result(alert, startsAt, 'started', instanceId);
    } catch (error) {
      await alertsStore.deleteAlert(this.knex, row.id);
      throw error;
    }
  }

  private async resolved(alert: NormalizedAlert, batch: AlertBatch, actor: string): Promise<AlertResult> {
    // What this call changed, so that a failure can undo exactly that.
    let row: alertsStore.AlertRow | undefined;
    let undo: (() => Promise<void>) | null = null;
    if (alert.startsAt) {
      const stored = await alertsStore.insertAlertOnce(this.knex, { ...this.newAlert(alert, batch), startsAt: alert.startsAt });
      row = stored.row;
      if (stored.inserted) undo = () => alertsStore.deleteAlert(this.knex, stored.row.id);
      else {
        const resolved = await alertsStore.resolveAlert(this.knex, stored.row.id, alert.endsAt);
        if (resolved) [row, undo] = [resolved, () => alertsStore.reopenAlert(this.knex, resolved.id)];
      }
    } else {
      const open = await alertsStore.findOpenFiring(this.knex, alert.fingerprint);
      const resolved = open ? await alertsStore.resolveAlert(this.knex, open.id, alert.endsAt ?? new Date()) : undefined;
      if (resolved) [row, undo] = [resolved, () => alertsStore.reopenAlert(this.knex, resolved.id)];
    }
    if (!row || !undo) return this.result(alert, row?.starts_at ?? null, 'duplicate', row?.instance_id ?? null);

    try {
      const running = await alertsStore.findRunningInstance(this.knex, alert.fingerprint, this.options.processKey);
      const variables = { validation: 'resolved', resolvedAt: (alert.endsAt ?? new Date()).toISOString() };
      let delivered = running ? await this.deliver(ALERT_RESOLVED, running, variables, actor, alert.fingerprint) : false;
      if (running && !delivered) {
        // The instance may be inside the transition that checks the alert (still firing when
        // it looked) and then waits for this message (not committed yet when we looked):
        // look once more after that transition had time to commit.
        await new Promise((resolve) => setTimeout(resolve, RESOLVE_RETRY_MS));
        delivered = await this.deliver(ALERT_RESOLVED, running, variables, actor, alert.fingerprint);
      }
      const instanceId = running ?? row.instance_id;
      if (!row.instance_id) await alertsStore.attachInstance(this.knex, row.id, instanceId, delivered ? 'correlated' : 'stored');
      return this.result(alert, row.starts_at, delivered ? 'correlated' : 'stored', instanceId);
    } catch (error) {
      await undo();
      throw error;
    }
  }

  /**
   * Correlates a message to the instance of a fingerprint. Only that instance's waiting
   * executions are candidates (never a start event), so a repeat never starts a second
   * instance. False when the instance is not waiting for the message right now.
   */
  private async deliver(messageName: string, instanceId: string, variables: Variables, actor: string, fingerprint?: string): Promise<boolean> {
    try {
      await this.engine.correlateMessage({
        messageName,
        processInstanceId: instanceId,
        ...(fingerprint && { correlationKeys: { fingerprint } }),
        variables,
        audit: { actor, action: 'alert.correlate', target: messageName, details: { fingerprint: fingerprint ?? null } },
      });
      return true;
    } catch (error) {
      if (error instanceof AppError && ['MESSAGE_NOT_CORRELATED', 'INSTANCE_ENDED', 'SUBSCRIPTION_GONE'].includes(error.code)) return false;
      throw error;
    }
  }

  private async startIncident(alert: NormalizedAlert, startsAt: Date, batch: AlertBatch, actor: string): Promise<string> {
    const audit = { actor, action: 'alert.start', target: this.options.processKey, details: { fingerprint: alert.fingerprint, alertname: alert.labels.alertname ?? null } };
    const variables: Variables = {
      ...(this.options.startVariables?.() ?? {}),
      fingerprint: alert.fingerprint,
      alertName: alert.labels.alertname ?? null,
      alertStatus: 'firing',
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: startsAt.toISOString(),
      endsAt: alert.endsAt?.toISOString() ?? null,
      generatorURL: alert.generatorUrl,
      alertSource: batch.source,
      alertGroup: batch.group,
      incidentStartedAt: new Date().toISOString(),
    };
    const definition = await definitionsStore.findLatestDefinition(this.knex, this.options.processKey);
    if (!definition?.executable) {
      throw new AppError('INCIDENT_PROCESS_MISSING', `process '${this.options.processKey}' is not deployed; cannot start an incident for alert ${alert.fingerprint}`, { retryable: true });
    }
    const messageStart = (definition.info.messageStartEvents ?? [])[0] as { messageName: string } | undefined;
    if (!messageStart) {
      const row = await this.engine.start({ processKey: this.options.processKey, variables, businessKey: alert.fingerprint, audit });
      return row.id;
    }
    const [started] = await this.engine.correlateMessage({ messageName: messageStart.messageName, businessKey: alert.fingerprint, variables, audit });
    if (!started) throw new AppError('INCIDENT_NOT_STARTED', `no instance started for alert ${alert.fingerprint}`);
    return started.instanceId;
  }

  private newAlert(alert: NormalizedAlert, batch: AlertBatch) {
    return {
      fingerprint: alert.fingerprint,
      endsAt: alert.endsAt,
      status: alert.status,
      source: batch.source,
      labels: alert.labels,
      annotations: alert.annotations,
      generatorUrl: alert.generatorUrl,
    };
  }

  private result(alert: NormalizedAlert, startsAt: Date | null, action: AlertAction, instanceId: string | null): AlertResult {
    return { fingerprint: alert.fingerprint, status: alert.status, startsAt: startsAt ? new Date(startsAt).toISOString() : null, action, instanceId };
  }
}
