import type { Knex } from 'knex';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import type { Variables } from '../engine/types.js';
import { AppError } from '../errors.js';
import * as alertQueueStore from '../store/alert-queue.js';
import * as alertsStore from '../store/alerts.js';
import * as definitionsStore from '../store/definitions.js';
import type { AlertBatch, NormalizedAlert } from './payloads.js';

export interface AlertIntakeOptions {
  /** The process a firing alert starts. @default incident-response */
  processKey: string;
  /** Variables every new incident starts with (thresholds, timeouts). */
  startVariables?: () => Variables;
  /** This node's name on the queue rows it works. @default the engine's node id */
  nodeId?: string;
  /**
   * How long a webhook call waits for its alerts' work before it answers (`queued` for what is
   * not done by then). 0 answers as soon as the alerts are stored. @default 0
   */
  answerWaitMs?: number;
  /** How often a node looks for queued work that another node stored or a dead node left. @default 500 */
  pollMs?: number;
  /**
   * How long a node holds a queue row (and the right to start its fingerprint's incident)
   * before another node presumes it dead and takes over. @default 60000
   */
  leaseMs?: number;
}

export type AlertAction = 'queued' | 'started' | 'correlated' | 'noted' | 'duplicate' | 'stored' | 'failed';

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
  /** True when some alert's work is still queued at the answer (202). */
  queuedAny: boolean;
}

/** Messages the incident-response process listens for. */
export const ALERT_RESOLVED = 'alert.resolved';
export const ALERT_REFIRED = 'alert.refired';

/** Second look for a waiting `alert.resolved` subscription (see `resolved`). */
const RESOLVE_RETRY_MS = 200;

/** Queue rows one node works at once (each its own fingerprint). */
const QUEUE_CONCURRENCY = 2;
/**
 * While webhook calls are being stored, the queue waits (up to this long per row): storing
 * and answering come first, incident starts run in the gaps, so a burst is answered at once.
 */
const YIELD_TO_INTAKE_MS = 1000;
/** Attempts before a queue row gives up (its alert's action becomes `failed`). */
const QUEUE_MAX_ATTEMPTS = 10;
/**
 * Waited out, never given up on: a missing incident process (deploying it is the fix), and
 * another node starting the fingerprint's incident (it ends, or its claim runs out).
 */
const WAIT_OUT = new Set(['INCIDENT_PROCESS_MISSING', 'INCIDENT_STARTING']);

/** What a queue row carries: the alert as the notification had it. */
interface QueuedAlert {
  alert: {
    fingerprint: string;
    status: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string | null;
    generatorUrl: string | null;
  };
  source: string;
  group: AlertBatch['group'];
  actor: string;
}

/**
 * Turns alerts into instance starts and messages, in two steps. The webhook stores every alert
 * occurrence (fingerprint + startsAt, under a unique constraint: of two identical notifications,
 * even concurrent ones, exactly one is stored) and, in the same transaction, the work it asks
 * for on a durable queue; then it answers. Any node works the queue: starts the incident or
 * correlates to the running one, one fingerprint at a time, retrying with back-off; work a
 * node was doing when it died is taken over when its lease runs out. A burst of alerts thus
 * costs the senders a write each, and nothing stored is lost.
 */
export class AlertIntake {
  /** One alert of a fingerprint at a time in this process (dedupe of alerts without startsAt). */
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly nodeId: string;
  private pollTimer: NodeJS.Timeout | null = null;
  private working: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  /** Callers waiting for queue rows to be worked (woken after each batch). */
  private readonly waiters = new Set<() => void>();
  /** Webhook calls storing alerts right now (the queue yields to them). */
  private storing = 0;

  constructor(
    private readonly knex: Knex,
    private readonly engine: WorkflowEngine,
    private readonly options: AlertIntakeOptions,
  ) {
    this.nodeId = options.nodeId ?? 'alerts';
  }

  /** Starts working the queue (what this node and others stored, and what a dead node left). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.wake();
  }

  /** Stops taking queue rows and waits for the ones in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    await this.working;
    for (const waiter of this.waiters) waiter();
  }

  /** `actor` names the sender in the audit log (the token of the webhook call). */
  async receive(batch: AlertBatch, actor = 'system'): Promise<IntakeResult> {
    this.storing++;
    try {
      return await this.storeAndAnswer(batch, actor);
    } finally {
      this.storing--;
    }
  }

  private async storeAndAnswer(batch: AlertBatch, actor: string): Promise<IntakeResult> {
    const missing = await this.incidentProcessMissing();
    if (missing) {
      const results = batch.alerts.map((alert) => this.result(alert, alert.startsAt ?? null, 'failed', null, missing));
      return { results, truncatedAlerts: batch.truncatedAlerts, storedAny: false, queuedAny: false };
    }
    const stored: Array<{ result: AlertResult; queueId?: string; alertId?: string }> = [];
    for (const alert of batch.alerts) {
      const entry = await this.serialised(alert.fingerprint, () => this.store(alert, batch, actor)).catch((error: unknown) => ({
        result: this.result(alert, alert.startsAt ?? null, 'failed', null, error instanceof Error ? error.message : String(error)),
      }));
      stored.push(entry);
    }
    const queued = stored.filter((entry) => entry.queueId);
    if (queued.length) this.wake();
    // A repeat of an occurrence whose work is still queued waits for it too, to name its instance.
    const repeats = stored.filter((entry) => !entry.queueId && entry.alertId && entry.result.action === 'duplicate' && !entry.result.instanceId);
    const waitMs = this.options.answerWaitMs ?? 0;
    const repeatWork = waitMs > 0 && repeats.length ? await alertQueueStore.pendingWorkOfAlerts(this.knex, repeats.map((entry) => entry.alertId as string)) : [];
    if (waitMs > 0 && repeats.length) {
      this.storing--;
      try {
        await this.settled(repeatWork, waitMs);
      } finally {
        this.storing++;
      }
      const rows = await alertsStore.findAlertsById(this.knex, repeats.map((entry) => entry.alertId as string));
      for (const entry of repeats) entry.result = { ...entry.result, instanceId: rows.get(entry.alertId as string)?.instance_id ?? null };
    }
    if (queued.length && waitMs > 0) {
      this.storing--; // waiting for the queue: let it work
      try {
        await this.settled(queued.map((entry) => entry.queueId as string), waitMs);
      } finally {
        this.storing++;
      }
      const rows = await alertsStore.findAlertsById(this.knex, queued.map((entry) => entry.alertId as string));
      const pending = await alertQueueStore.pendingAlertWork(this.knex, queued.map((entry) => entry.queueId as string));
      const failed = await alertQueueStore.failedAlertWork(this.knex, queued.map((entry) => entry.queueId as string));
      for (const entry of queued) {
        const row = rows.get(entry.alertId as string);
        if (!row || pending.has(entry.queueId as string)) continue;
        entry.result = { ...entry.result, action: (row.action ?? 'stored') as AlertAction, instanceId: row.instance_id };
        const error = failed.get(entry.queueId as string);
        if (error) entry.result = { ...entry.result, action: 'failed', error };
      }
    }
    const results = stored.map((entry) => entry.result);
    return {
      results,
      truncatedAlerts: batch.truncatedAlerts,
      storedAny: results.some((result) => result.action !== 'failed'),
      queuedAny: results.some((result) => result.action === 'queued'),
    };
  }

  /** A refused start would wait in the queue for a deploy: say so at once instead, storing nothing. */
  private async incidentProcessMissing(): Promise<string | null> {
    const definition = await definitionsStore.findLatestDefinition(this.knex, this.options.processKey);
    return definition?.executable ? null : `process '${this.options.processKey}' is not deployed; cannot start incidents for alerts`;
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

  /**
   * Stores one alert and queues its work in one transaction; a repeat (same occurrence, or a
   * resolution already recorded) is a duplicate with nothing queued.
   */
  private async store(alert: NormalizedAlert, batch: AlertBatch, actor: string): Promise<{ result: AlertResult; queueId?: string; alertId?: string }> {
    return this.knex.transaction(async (trx) => {
      let row: alertsStore.AlertRow | undefined;
      let changed = false;
      if (alert.status === 'firing') {
        let startsAt = alert.startsAt;
        if (!startsAt) {
          // A source without startsAt: while an occurrence is open, the same alert is a repeat.
          const open = await alertsStore.findOpenFiring(trx, alert.fingerprint);
          if (open) return { result: this.result(alert, open.starts_at, 'duplicate', open.instance_id), alertId: open.id };
          startsAt = new Date();
        }
        const stored = await alertsStore.insertAlertOnce(trx, { ...this.newAlert(alert, batch), startsAt }, 'queued');
        [row, changed] = [stored.row, stored.inserted];
      } else if (alert.startsAt) {
        const stored = await alertsStore.insertAlertOnce(trx, { ...this.newAlert(alert, batch), startsAt: alert.startsAt }, 'queued');
        row = stored.row;
        changed = stored.inserted;
        if (!changed) {
          const resolved = await alertsStore.resolveAlert(trx, stored.row.id, alert.endsAt);
          if (resolved) [row, changed] = [resolved, true];
        }
      } else {
        const open = await alertsStore.findOpenFiring(trx, alert.fingerprint);
        const resolved = open ? await alertsStore.resolveAlert(trx, open.id, alert.endsAt ?? new Date()) : undefined;
        if (resolved) [row, changed] = [resolved, true];
      }
      if (!row || !changed) return { result: this.result(alert, row?.starts_at ?? null, 'duplicate', row?.instance_id ?? null), ...(row && { alertId: row.id }) };
      const queued: QueuedAlert = {
        alert: {
          fingerprint: alert.fingerprint,
          status: alert.status,
          labels: alert.labels,
          annotations: alert.annotations,
          startsAt: new Date(row.starts_at).toISOString(),
          endsAt: (alert.endsAt ?? (alert.status === 'resolved' ? new Date() : null))?.toISOString() ?? null,
          generatorUrl: alert.generatorUrl,
        },
        source: batch.source,
        group: batch.group,
        actor,
      };
      const queueId = await alertQueueStore.enqueueAlertWork(trx, { alertId: row.id, fingerprint: alert.fingerprint, kind: alert.status, payload: queued });
      return { result: this.result(alert, row.starts_at, 'queued', row.instance_id), queueId, alertId: row.id };
    });
  }

  /** Waits until these queue rows are worked (here or on another node), at most `waitMs`. */
  private async settled(queueIds: string[], waitMs: number): Promise<void> {
    if (waitMs <= 0) return;
    const deadline = Date.now() + waitMs;
    while (!this.stopped && Date.now() < deadline) {
      if (!(await alertQueueStore.pendingAlertWork(this.knex, queueIds)).size) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        // Another node's work shows up only in the table: look again now and then.
        const timer = setTimeout(done, Math.min(250, Math.max(1, deadline - Date.now())));
        this.waiters.add(done);
      });
    }
  }

  /** Work the queue now (and keep polling while started). */
  private wake(): void {
    if (this.stopped) return;
    if (this.working) {
      this.again = true;
      return;
    }
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.working = this.workQueue().finally(() => {
      this.working = null;
      for (const waiter of [...this.waiters]) waiter();
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.wake();
        return;
      }
      this.pollTimer = setTimeout(() => this.wake(), this.options.pollMs ?? 500);
      this.pollTimer.unref();
    });
  }

  private async workQueue(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const busy = await this.yieldToIntake();
        const rows = await alertQueueStore.claimAlertWork(this.knex, this.nodeId, busy ? 1 : QUEUE_CONCURRENCY, this.options.leaseMs ?? 60_000);
        if (!rows.length) return;
        await Promise.all(rows.map((row) => this.work(row)));
        for (const waiter of [...this.waiters]) waiter();
      }
    } catch {
      // The database is away: the next poll tries again; the rows stay queued.
    }
  }

  /** Waits while webhook calls store alerts (at most YIELD_TO_INTAKE_MS); returns whether they still do. */
  private async yieldToIntake(): Promise<boolean> {
    const until = Date.now() + YIELD_TO_INTAKE_MS;
    while (this.storing > 0 && Date.now() < until && !this.stopped) await new Promise((resolve) => setTimeout(resolve, 20));
    return this.storing > 0;
  }

  /** Works one queue row: its effects commit, then the row goes; a failure is retried later. */
  private async work(row: alertQueueStore.AlertQueueRow): Promise<void> {
    const queued = row.payload as unknown as QueuedAlert;
    try {
      const outcome = row.kind === 'firing' ? await this.firing(row, queued) : await this.resolved(row, queued);
      await alertsStore.attachInstance(this.knex, row.alert_id, outcome.instanceId, outcome.action, true);
      await alertQueueStore.finishAlertWork(this.knex, row.id, this.nodeId);
    } catch (error) {
      // Another node holds the row now (this node's lease ran out while it worked): the work is that node's.
      if (error instanceof AppError && error.code === 'ALERT_WORK_TAKEN') return;
      const message = error instanceof Error ? error.message : String(error);
      const waitOut = error instanceof AppError && WAIT_OUT.has(error.code);
      const giveUp = !waitOut && row.attempts >= QUEUE_MAX_ATTEMPTS;
      await alertQueueStore
        .failAlertWork(this.knex, row.id, this.nodeId, message, giveUp ? null : Math.min(60_000, 500 * 2 ** Math.min(row.attempts, 7)))
        .catch(() => {});
      if (giveUp) await alertsStore.attachInstance(this.knex, row.alert_id, null, 'failed').catch(() => {});
    }
  }

  private async firing(row: alertQueueStore.AlertQueueRow, queued: QueuedAlert): Promise<{ action: AlertAction; instanceId: string | null }> {
    const { alert, actor } = queued;
    if (row.attempts > 1) {
      // Taken over after a node died: its start may have committed before the row went.
      const ours = await alertQueueStore.findIncidentStartedFor(this.knex, alert.fingerprint, this.options.processKey, alert.startsAt);
      if (ours) {
        await alertsStore.settleIncidentClaim(this.knex, alert.fingerprint, ours);
        return { action: 'started', instanceId: ours };
      }
    }
    const refired = { validation: 'refired', refiredAt: alert.startsAt };
    const running = await alertsStore.findRunningInstance(this.knex, alert.fingerprint, this.options.processKey);
    if (running) {
      // The alert fired again while its incident is open: tell the instance (during
      // validation that means the fix did not hold); otherwise just note it.
      const delivered = await this.deliver(row, ALERT_REFIRED, running, refired, actor);
      return { action: delivered ? 'correlated' : 'noted', instanceId: running };
    }
    const claim = await alertsStore.claimIncident(this.knex, alert.fingerprint, this.options.leaseMs ?? 60_000);
    if (!claim.claimed) {
      // Another node is starting the incident of this fingerprint right now: look again later
      // (it runs by then, or its node died and its claim runs out).
      if (!claim.instanceId) throw new AppError('INCIDENT_STARTING', `the incident of alert ${alert.fingerprint} is being started by another node`, { retryable: true });
      const delivered = await this.deliver(row, ALERT_REFIRED, claim.instanceId, refired, actor);
      return { action: delivered ? 'correlated' : 'noted', instanceId: claim.instanceId };
    }
    let instanceId: string;
    try {
      instanceId = await this.startIncident(queued);
    } catch (error) {
      await alertsStore.releaseIncidentClaim(this.knex, alert.fingerprint);
      throw error;
    }
    await alertsStore.settleIncidentClaim(this.knex, alert.fingerprint, instanceId);
    return { action: 'started', instanceId };
  }

  private async resolved(row: alertQueueStore.AlertQueueRow, queued: QueuedAlert): Promise<{ action: AlertAction; instanceId: string | null }> {
    const { alert, actor } = queued;
    const running = await alertsStore.findRunningInstance(this.knex, alert.fingerprint, this.options.processKey);
    const variables = { validation: 'resolved', resolvedAt: alert.endsAt ?? new Date().toISOString() };
    let delivered = running ? await this.deliver(row, ALERT_RESOLVED, running, variables, actor, alert.fingerprint) : false;
    if (running && !delivered) {
      // The instance may be inside the transition that checks the alert (still firing when
      // it looked) and then waits for this message (not committed yet when we looked):
      // look once more after that transition had time to commit.
      await new Promise((resolve) => setTimeout(resolve, RESOLVE_RETRY_MS));
      delivered = await this.deliver(row, ALERT_RESOLVED, running, variables, actor, alert.fingerprint);
    }
    const attached = (await alertsStore.findAlertsById(this.knex, [row.alert_id])).get(row.alert_id)?.instance_id ?? null;
    return { action: delivered ? 'correlated' : 'stored', instanceId: running ?? attached };
  }

  /**
   * Correlates a message to the instance of a fingerprint. Only that instance's waiting
   * executions are candidates (never a start event), so a repeat never starts a second
   * instance. False when the instance is not waiting for the message right now.
   *
   * The delivery's commit also records the alert's outcome and removes its queue row, so the
   * message arrives exactly once: a node that dies after the commit leaves no row to redo it,
   * and one whose lease another node took over meanwhile (a long pause) rolls its delivery back
   * (ALERT_WORK_TAKEN) instead of delivering a second time.
   */
  private async deliver(row: alertQueueStore.AlertQueueRow, messageName: string, instanceId: string, variables: Variables, actor: string, fingerprint?: string): Promise<boolean> {
    try {
      await this.engine.correlateMessage({
        messageName,
        processInstanceId: instanceId,
        ...(fingerprint && { correlationKeys: { fingerprint } }),
        variables,
        audit: { actor, action: 'alert.correlate', target: messageName, details: { fingerprint: fingerprint ?? null } },
        inCommit: async (trx) => {
          if (!(await alertQueueStore.finishAlertWork(trx, row.id, this.nodeId))) {
            throw new AppError('ALERT_WORK_TAKEN', `another node took over the work of alert ${fingerprint ?? row.fingerprint} (${messageName}) while this one delivered it`);
          }
          await alertsStore.attachInstance(trx, row.alert_id, instanceId, 'correlated', true);
        },
      });
      return true;
    } catch (error) {
      if (error instanceof AppError && ['MESSAGE_NOT_CORRELATED', 'INSTANCE_ENDED', 'SUBSCRIPTION_GONE'].includes(error.code)) return false;
      throw error;
    }
  }

  private async startIncident(queued: QueuedAlert): Promise<string> {
    const { alert, actor } = queued;
    const audit = { actor, action: 'alert.start', target: this.options.processKey, details: { fingerprint: alert.fingerprint, alertname: alert.labels.alertname ?? null } };
    const variables: Variables = {
      ...(this.options.startVariables?.() ?? {}),
      fingerprint: alert.fingerprint,
      alertName: alert.labels.alertname ?? null,
      alertStatus: 'firing',
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt,
      endsAt: alert.endsAt,
      generatorURL: alert.generatorUrl,
      alertSource: queued.source,
      alertGroup: queued.group,
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

  private result(alert: NormalizedAlert, startsAt: Date | null, action: AlertAction, instanceId: string | null, error?: string): AlertResult {
    return { fingerprint: alert.fingerprint, status: alert.status, startsAt: startsAt ? new Date(startsAt).toISOString() : null, action, instanceId, ...(error && { error }) };
  }
}
