import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../../errors.js';
import * as definitionsStore from '../../store/definitions.js';
import { databaseNow } from '../../store/database-clock.js';
import * as jobsStore from '../../store/jobs.js';
import { appendAuditEntry, type AuditEntry } from '../../store/audit-entries.js';
import { dropStartTriggersOfKey, insertStartSubscription } from '../../store/subscriptions.js';
import type { DefinitionAnalysis, Finding, ProcessInfo } from '../definitions/analyse-definition.js';
import { resolveStartTimer } from '../timer-schedule.js';
import type { EngineContext, DeployResource, Deployment, DeployedDefinition } from '../engine-context.js';
import type { Transitions } from '../transitions.js';

export interface DeployOptions {
  name?: string;
  source?: string;
  audit?: AuditEntry;
  /** Stores more of the same deployment (its decisions) inside its transaction. */
  alsoStore?: (trx: Knex.Transaction, deploymentId: string) => Promise<void>;
}

/** Deploys: analyse, lint, store new versions (serialised per key), arm start triggers. */
export class Deployments {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  /**
   * Analyses (parse + lint) every resource, then stores each process as a new version of
   * its key, unless the latest version has the same content. All or nothing.
   */
  async deploy(resources: DeployResource[], options: DeployOptions = {}): Promise<Deployment> {
    if (!resources.length) throw new AppError('VALIDATION_FAILED', 'a deployment needs at least one BPMN resource');
    const analysed: Array<{ resource: DeployResource; analysis: DefinitionAnalysis }> = [];
    for (const resource of resources) {
      const analysis = await this.ctx.options.analyse(resource.xml, { allowScripts: this.ctx.options.allowScripts });
      if (!analysis.ok) {
        const shown = analysis.errors.slice(0, 5).map(formatFinding).join('; ');
        const more = analysis.errors.length > 5 ? ` (and ${analysis.errors.length - 5} more)` : '';
        throw new AppError(
          'INVALID_DEFINITION',
          `${resource.name} was rejected: ${shown || 'invalid'}${more}`,
          { details: { resource: resource.name, errors: analysis.errors, warnings: analysis.warnings } },
        );
      }
      const timerErrors = this.startTimerErrors(analysis);
      if (timerErrors.length) {
        throw new AppError('INVALID_DEFINITION', `${resource.name} was rejected: ${timerErrors.map(formatFinding).join('; ')}`, {
          details: { resource: resource.name, errors: timerErrors, warnings: analysis.warnings },
        });
      }
      analysed.push({ resource, analysis });
    }

    const deploymentId = randomUUID();
    const deployment: Deployment = { id: deploymentId, name: options.name ?? resources[0]!.name, definitions: [] };
    await this.ctx.knex.transaction(async (trx) => {
      await definitionsStore.insertDeployment(trx, { id: deploymentId, name: deployment.name, source: options.source ?? 'api' });
      const keys = [...new Set(analysed.flatMap(({ analysis }) => analysis.processes.map((process) => process.id)))].sort();
      for (const key of keys) await definitionsStore.lockDefinitionKey(trx, key);
      await refuseTakenMessageStarts(trx, analysed.flatMap(({ analysis }) => analysis.processes.filter((process) => process.isExecutable)));
      for (const { resource, analysis } of analysed) {
        const checksum = createHash('sha256').update(resource.xml).digest('hex');
        for (const process of analysis.processes) {
          const latest = await definitionsStore.findLatestVersion(trx, process.id);
          if (latest && latest.checksum === checksum) {
            deployment.definitions.push(summarise(latest, false, analysis));
            continue;
          }
          const version = (latest?.version ?? 0) + 1;
          const row = {
            id: `${process.id}:${version}:${deploymentId.slice(0, 8)}`,
            key: process.id,
            version,
            name: process.name ?? null,
            deployment_id: deploymentId,
            resource_name: resource.name,
            checksum,
            xml: resource.xml,
            source_context: process.isExecutable ? (analysis.serializedContext ?? null) : null,
            executable: process.isExecutable && Boolean(analysis.serializedContext),
            info: process as unknown as Record<string, unknown>,
            report: { warnings: analysis.warnings },
          };
          await definitionsStore.insertDefinition(trx, row);
          if (row.executable) await this.replaceStartTriggers(trx, row.id, process);
          deployment.definitions.push(summarise(row, true, analysis));
        }
      }
      if (options.alsoStore) await options.alsoStore(trx, deploymentId);
      if (options.audit) {
        const versions = deployment.definitions.map((definition) => definition.id);
        await appendAuditEntry(trx, { ...options.audit, details: { ...options.audit.details, deploymentId, definitions: versions } });
      }
    });
    if (deployment.definitions.some((definition) => definition.created)) this.ctx.emit('definitions.deployed');
    this.ctx.emit('jobs.scheduled');
    return deployment;
  }

  /** Parses and lints like a deploy, stores nothing: the report a deploy would give. */
  async lint(resource: DeployResource): Promise<Pick<DefinitionAnalysis, 'ok' | 'errors' | 'warnings' | 'executableProcessIds'>> {
    const analysis = await this.ctx.options.analyse(resource.xml, { allowScripts: this.ctx.options.allowScripts });
    const { warnings, executableProcessIds } = analysis;
    // The timer checks a deploy runs after the analysis, so lint passes exactly what deploy stores.
    const errors = analysis.ok ? this.startTimerErrors(analysis) : analysis.errors;
    return { ok: analysis.ok && !errors.length, errors, warnings, executableProcessIds };
  }

  /** Message, signal and timer start events belong to the latest version only. */
  private async replaceStartTriggers(trx: Knex.Transaction, definitionId: string, process: ProcessInfo): Promise<void> {
    await dropStartTriggersOfKey(trx, process.id);
    for (const start of process.messageStartEvents) {
      const refId = start.messageRefId ?? start.messageName;
      await insertStartSubscription(trx, { kind: 'message-start', name: start.messageName, refId, definitionId, activityId: start.activityId });
    }
    for (const start of process.signalStartEvents) {
      const refId = start.signalRefId ?? start.signalName;
      await insertStartSubscription(trx, { kind: 'signal-start', name: start.signalName, refId, definitionId, activityId: start.activityId });
    }
    for (const start of process.timerStartEvents) {
      const { expression, first } = resolveStartTimer(start, this.ctx.options.settings, await databaseNow(trx));
      await jobsStore.insertTimerStartJob(trx, {
        definitionId,
        activityId: start.activityId,
        dueAt: first.dueAt,
        payload: { timerType: start.timerType, expression, remaining: first.remaining },
      });
    }
  }

  /**
   * Timer starts that would never fire, or read a setting this server does not have: deploy
   * errors naming the event. Timers of event sub-processes may read instance variables, so
   * only their static texts are checked here; the runtime turns the others into incidents.
   */
  private startTimerErrors(analysis: DefinitionAnalysis): Finding[] {
    const errors: Finding[] = [];
    for (const process of analysis.processes) {
      if (!process.isExecutable) continue;
      const eventSubProcessStarts = (process.eventSubProcessTimerStarts ?? []).filter((start) => !isExpression(start.expression));
      for (const start of [...process.timerStartEvents, ...eventSubProcessStarts]) {
        try {
          resolveStartTimer(start, this.ctx.options.settings);
        } catch (error) {
          errors.push({ severity: 'error', rule: 'timer', elementId: start.activityId, message: (error as Error).message });
        }
      }
    }
    return errors;
  }

  /**
   * Settings are read when a timer start is armed, so a server restarted with another
   * setting (say a new evolution cadence) re-arms the timers of the deployed versions
   * whose text now resolves differently. Returns how many it re-armed.
   */
  async rearmStartTimers(): Promise<number> {
    let rearmed = 0;
    const now = await databaseNow(this.ctx.knex);
    for (const job of await jobsStore.listTimerStartJobs(this.ctx.knex)) {
      const payload = job.payload as { timerType: ProcessInfo['timerStartEvents'][number]['timerType']; expression: string };
      const info = (await definitionsStore.findDefinitionSummary(this.ctx.knex, job.definition_id as string))?.info as ProcessInfo | undefined;
      const start = info?.timerStartEvents?.find((candidate) => candidate.activityId === job.activity_id);
      if (!start) continue;
      let resolved: ReturnType<typeof resolveStartTimer>;
      try {
        resolved = resolveStartTimer(start, this.ctx.options.settings, now);
      } catch {
        continue; // a setting this node lacks: keep the schedule the deploying node armed
      }
      if (resolved.expression === payload.expression && start.timerType === payload.timerType) continue;
      // A job leased by a node that died is re-armed too: its next fire would keep the old text.
      const next = { timerType: start.timerType, expression: resolved.expression, remaining: resolved.first.remaining };
      if (await jobsStore.rescheduleTimerStartJob(this.ctx.knex, job.id, resolved.first.dueAt, next)) rearmed++;
    }
    if (rearmed) this.ctx.emit('jobs.scheduled');
    return rearmed;
  }
}

function summarise(
  row: { id: string; key: string; version: number; name: string | null; executable: boolean },
  created: boolean,
  analysis: DefinitionAnalysis,
): DeployedDefinition {
  return {
    id: row.id,
    key: row.key,
    version: row.version,
    name: row.name,
    executable: row.executable,
    created,
    warnings: analysis.warnings,
  };
}

/**
 * A message start name belongs to one process key (Camunda 7 refuses the deploy too): with two,
 * a correlation would pick one of them arbitrarily. A new version of the same key may keep it.
 */
async function refuseTakenMessageStarts(trx: Knex.Transaction, processes: ProcessInfo[]): Promise<void> {
  const owners = new Map<string, string>();
  for (const process of processes) {
    for (const start of process.messageStartEvents) {
      const other = owners.get(start.messageName);
      if (other && other !== process.id) {
        throw new AppError('INVALID_DEFINITION', `message start name '${start.messageName}' is used by both ${other} and ${process.id} (${start.activityId})`);
      }
      owners.set(start.messageName, process.id);
    }
    const taken = await definitionsStore.messageStartsNamed(trx, process.messageStartEvents.map((start) => start.messageName), process.id);
    if (taken.length) {
      const [first] = taken;
      const mine = process.messageStartEvents.find((start) => start.messageName === first!.name);
      throw new AppError(
        'INVALID_DEFINITION',
        `message start name '${first!.name}' of ${process.id} (${mine?.activityId}) is already used by deployed process ${first!.key} (${first!.activity_id})`,
      );
    }
  }
}

/** A timer text that is (or holds) an expression: `${...}`, or FEEL `=...`. */
function isExpression(text: string): boolean {
  return text.includes('${') || text.startsWith('=');
}

function formatFinding(finding: { elementId?: string; rule: string; message: string }): string {
  return `${finding.elementId ? `${finding.elementId} ` : ''}(${finding.rule}): ${finding.message}`;
}
