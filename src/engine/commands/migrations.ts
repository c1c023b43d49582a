import type { Knex } from 'knex';
import type { AuditEntry } from '../../store/audit-entries.js';
import { AppError } from '../../errors.js';
import { repointInstance } from '../../store/instance-migrations.js';
import type { InstanceRow } from '../../store/transitions.js';
import type { EngineContext } from '../engine-context.js';
import type { CompiledDefinition } from '../definition-cache.js';
import {
  activeActivities,
  definitionsIdOf,
  describeElements,
  IdRenamer,
  incompatibility,
  migrateState,
  resetTimers,
  type ElementInfo,
} from '../runtime/state-migration.js';
import type { Transitions } from '../transitions.js';
import type { TransitionEvent, Variables } from '../types.js';

/** One mapping of a migration plan (Camunda 7's MigrationInstructionDto). */
export interface MigrationInstruction {
  sourceActivityIds: string[];
  targetActivityIds: string[];
  /** Re-create the element's event trigger (timer, message) from the target instead of keeping the source's. */
  updateEventTrigger?: boolean;
}

/** A migration plan (Camunda 7's MigrationPlanDto). */
export interface MigrationPlan {
  sourceProcessDefinitionId: string;
  targetProcessDefinitionId: string;
  instructions: MigrationInstruction[];
  /** Set on every migrated instance (as process variables) in its migration's commit. */
  variables?: Variables | null;
}

export interface InstructionReport {
  instruction: MigrationInstruction;
  failures: string[];
}

export interface ActivityInstanceReport {
  migrationInstruction: MigrationInstruction | null;
  activityInstanceId: string;
  sourceScopeId: string;
  failures: string[];
}

export interface InstanceReport {
  processInstanceId: string;
  failures: string[];
  activityInstanceValidationReports: ActivityInstanceReport[];
}

interface Versions {
  source: CompiledDefinition;
  target: CompiledDefinition;
  sourceElements: Map<string, ElementInfo>;
  targetElements: Map<string, ElementInfo>;
}

/**
 * Moving running instances to another version of their process (Camunda 7's migration): plans
 * generated for same-id activities and validated against both versions, applied per instance as
 * one transition on the target version under the optimistic lock. The state remapping lives in
 * runtime/state-migration.ts; the rows' re-pointing in store/instance-migrations.ts.
 */
export class Migrations {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  /** Both versions' elements by (source, target): definitions never change, so these never go stale. */
  private readonly versionCache = new Map<string, Versions>();
  /** Plans already checked against both versions (a batch checks its plan once, not per instance). */
  private readonly checkedPlans = new WeakSet<MigrationPlan>();

  private async versions(sourceId: string, targetId: string): Promise<Versions> {
    const key = `${sourceId}\u0000${targetId}`;
    const cached = this.versionCache.get(key);
    if (cached) return cached;
    const loaded = await this.loadVersions(sourceId, targetId);
    this.versionCache.set(key, loaded);
    if (this.versionCache.size > 50) this.versionCache.delete(this.versionCache.keys().next().value as string);
    return loaded;
  }

  private async loadVersions(sourceId: string, targetId: string): Promise<Versions> {
    const [source, target] = await Promise.all([this.ctx.definitions.get(sourceId), this.ctx.definitions.get(targetId)]);
    if (source.key !== target.key) {
      throw new AppError('MIGRATION_PLAN_INVALID', `source ${source.id} and target ${target.id} are versions of different processes (${source.key}, ${target.key}); regenflow migrates between versions of one process`, {
        details: { validationReport: { instructionReports: [] } },
      });
    }
    return {
      source,
      target,
      sourceElements: describeElements(source.sourceContext, source.key),
      targetElements: describeElements(target.sourceContext, target.key),
    };
  }

  /**
   * The plan Camunda 7's `generate` gives: every activity of the source whose id exists in the
   * target with a compatible kind, in a scope that maps too (a sub-process's children only when
   * the sub-process maps; a boundary event only when its activity maps onto the target's).
   */
  async generate(sourceId: string, targetId: string, options: { updateEventTriggers?: boolean } = {}): Promise<MigrationPlan> {
    const versions = await this.versions(sourceId, targetId);
    const mapped = new Set<string>();
    const candidates = [...versions.sourceElements.values()].filter((element) => {
      const target = versions.targetElements.get(element.id);
      return target && element.type !== 'bpmn:StartEvent' && !incompatibility(element, target);
    });
    // Outer scopes first: a child maps only when its scope did.
    const depth = (element: ElementInfo): number => (element.parentId ? 1 + depth(versions.sourceElements.get(element.parentId) ?? { ...element, parentId: null }) : 0);
    candidates.sort((a, b) => depth(a) - depth(b));
    const instructions: MigrationInstruction[] = [];
    for (const element of candidates) {
      const target = versions.targetElements.get(element.id)!;
      if ((element.parentId ?? null) !== (target.parentId ?? null)) continue;
      if (element.parentId && !mapped.has(element.parentId)) continue;
      if (element.attachedTo && element.attachedTo !== target.attachedTo) continue;
      mapped.add(element.id);
      instructions.push({
        sourceActivityIds: [element.id],
        targetActivityIds: [element.id],
        ...(options.updateEventTriggers && element.isEvent && { updateEventTrigger: true }),
      });
    }
    // Boundary events after their activities (a boundary event maps only with its activity).
    const kept = instructions.filter((instruction) => {
      const element = versions.sourceElements.get(instruction.sourceActivityIds[0]!)!;
      return !element.attachedTo || mapped.has(element.attachedTo);
    });
    return { sourceProcessDefinitionId: versions.source.id, targetProcessDefinitionId: versions.target.id, instructions: kept, variables: null };
  }

  /** The plan's instruction reports with failures (none: the plan is valid against both versions). */
  async validate(plan: MigrationPlan): Promise<InstructionReport[]> {
    return this.instructionReports(plan, await this.versions(plan.sourceProcessDefinitionId, plan.targetProcessDefinitionId));
  }

  private instructionReports(plan: MigrationPlan, versions: Versions): InstructionReport[] {
    const reports: InstructionReport[] = [];
    const bySource = new Map<string, string>();
    const targetsSeen = new Map<string, string>();
    for (const instruction of plan.instructions) {
      const sourceId = instruction.sourceActivityIds[0];
      const targetId = instruction.targetActivityIds[0];
      if (sourceId && targetId && instruction.sourceActivityIds.length === 1 && instruction.targetActivityIds.length === 1) {
        if (!bySource.has(sourceId)) bySource.set(sourceId, targetId);
      }
    }
    for (const instruction of plan.instructions) {
      const failures: string[] = [];
      if (instruction.sourceActivityIds.length !== 1 || instruction.targetActivityIds.length !== 1) {
        failures.push('an instruction maps exactly one source activity to exactly one target activity');
      } else {
        const sourceId = instruction.sourceActivityIds[0]!;
        const targetId = instruction.targetActivityIds[0]!;
        const source = versions.sourceElements.get(sourceId);
        const target = versions.targetElements.get(targetId);
        if (!source) failures.push(`source activity '${sourceId}' does not exist in ${versions.source.id}`);
        if (!target) failures.push(`target activity '${targetId}' does not exist in ${versions.target.id}`);
        if (bySource.get(sourceId) !== targetId) failures.push(`source activity '${sourceId}' is mapped more than once`);
        const already = targetsSeen.get(targetId);
        if (already !== undefined && already !== sourceId) failures.push(`target activity '${targetId}' is the target of '${already}' too`);
        targetsSeen.set(targetId, sourceId);
        if (source && target) {
          const why = incompatibility(source, target);
          if (why) failures.push(`'${sourceId}' cannot be mapped to '${targetId}': ${why}`);
          if (source.parentId === null && target.parentId !== null) {
            failures.push(`'${sourceId}' runs in the process, '${targetId}' inside sub-process '${target.parentId}'`);
          } else if (source.parentId !== null) {
            const parentTarget = bySource.get(source.parentId);
            if (parentTarget === undefined) failures.push(`'${sourceId}' runs inside sub-process '${source.parentId}', which the plan does not map`);
            else if (parentTarget !== target.parentId) {
              failures.push(`'${sourceId}' runs inside '${source.parentId}' (mapped to '${parentTarget}'), '${targetId}' inside '${target.parentId ?? 'the process'}'`);
            }
          }
          if (source.attachedTo && bySource.get(source.attachedTo) !== target.attachedTo) {
            failures.push(`boundary event '${sourceId}' is attached to '${source.attachedTo}', which the plan does not map to '${target.attachedTo}'`);
          }
          if (instruction.updateEventTrigger && !source.isEvent) failures.push(`updateEventTrigger applies to events and receive tasks only; '${sourceId}' is a ${source.kind}`);
        }
      }
      if (failures.length) reports.push({ instruction, failures });
    }
    return reports;
  }

  private assertValid(plan: MigrationPlan, versions: Versions): void {
    if (this.checkedPlans.has(plan)) return;
    const reports = this.instructionReports(plan, versions);
    if (!reports.length) {
      this.checkedPlans.add(plan);
      return;
    }
    const first = reports[0]!;
    throw new AppError('MIGRATION_PLAN_INVALID', `migration plan is not valid: ${first.failures.join('; ')}${reports.length > 1 ? ` (and ${reports.length - 1} more instruction(s))` : ''}`, {
      details: { validationReport: { instructionReports: reports } },
    });
  }

  /** Checks a plan against the running instance: every active activity must be mapped. */
  private instanceReport(plan: MigrationPlan, row: InstanceRow): InstanceReport {
    const report: InstanceReport = { processInstanceId: row.id, failures: [], activityInstanceValidationReports: [] };
    if (row.status !== 'active') report.failures.push(`process instance ${row.id} has ended (${row.status})`);
    else if (row.definition_id !== plan.sourceProcessDefinitionId) {
      report.failures.push(`process instance ${row.id} runs ${row.definition_id}, not the plan's source ${plan.sourceProcessDefinitionId}`);
    }
    if (report.failures.length) return report;
    for (const active of activeActivities(row.state)) {
      const instruction = plan.instructions.find((candidate) => candidate.sourceActivityIds[0] === active.id) ?? null;
      if (!instruction) {
        report.activityInstanceValidationReports.push({
          migrationInstruction: null,
          activityInstanceId: active.executionId,
          sourceScopeId: active.id,
          failures: [`there is no migration instruction for active activity '${active.id}'`],
        });
      }
    }
    return report;
  }

  /** Reports for the instances (only those with failures), without changing anything. */
  async validateInstances(plan: MigrationPlan, instanceIds: string[]): Promise<InstanceReport[]> {
    const versions = await this.versions(plan.sourceProcessDefinitionId, plan.targetProcessDefinitionId);
    this.assertValid(plan, versions);
    const reports: InstanceReport[] = [];
    for (const id of instanceIds) {
      const report = this.instanceReport(plan, await this.transitions.getInstance(id));
      if (report.failures.length || report.activityInstanceValidationReports.length) reports.push(report);
    }
    return reports;
  }

  /**
   * Migrates one instance in one transition on the target version: its state renamed onto the
   * target, run there (a `resume`, or setting the plan's variables), committed with its rows
   * re-pointed under the optimistic lock. A concurrent transition (a task completed meanwhile)
   * makes one of the two retry from a fresh load: the instance moves from where it really is.
   * `guard` runs in the migration's commit (a batch settles its item there).
   */
  async migrateInstance(plan: MigrationPlan, instanceId: string, audit?: AuditEntry, guard?: (trx: Knex.Transaction) => Promise<void>): Promise<InstanceRow> {
    const versions = await this.versions(plan.sourceProcessDefinitionId, plan.targetProcessDefinitionId);
    this.assertValid(plan, versions);
    const renames = new Map<string, string>();
    for (const instruction of plan.instructions) {
      const [from, to] = [instruction.sourceActivityIds[0]!, instruction.targetActivityIds[0]!];
      if (from !== to) renames.set(from, to);
    }
    const sourceDefinitions = definitionsIdOf(versions.source.sourceContext);
    const targetDefinitions = definitionsIdOf(versions.target.sourceContext);
    if (sourceDefinitions !== targetDefinitions) renames.set(sourceDefinitions, targetDefinitions);
    const renamer = new IdRenamer(renames);
    // Timers whose instruction asks for updateEventTrigger are resolved again on the target (their ids there).
    const retimed = new Set(
      plan.instructions
        .filter((instruction) => instruction.updateEventTrigger && versions.sourceElements.get(instruction.sourceActivityIds[0]!)?.kind.includes('timer'))
        .map((instruction) => instruction.targetActivityIds[0]!),
    );
    const event: TransitionEvent = plan.variables && Object.keys(plan.variables).length ? { type: 'set-variables', variables: plan.variables } : { type: 'resume' };
    const row = await this.transitions.transition(instanceId, event, this.transitions.auditing(audit, instanceId, guard) ?? guard, async (loaded, parked) => {
      const report = this.instanceReport(plan, loaded);
      if (report.failures.length || report.activityInstanceValidationReports.length) throw instanceInvalid(plan, [report]);
      return {
        definitionId: versions.target.id,
        state: withTimersReset(migrateState(loaded.state, renamer), retimed),
        parked: parked.map((executionId) => renamer.executionId(executionId)),
        commit: (trx) =>
          repointInstance(trx, {
            instanceId,
            sourceDefinitionId: versions.source.id,
            targetDefinitionId: versions.target.id,
            activity: (id) => renames.get(id) ?? id,
            executionId: (id) => renamer.executionId(id),
            timerKey: (key) => renamer.key(key),
            history: {
              at: this.ctx.options.clock.now(),
              data: {
                sourceDefinitionId: versions.source.id,
                sourceVersion: versions.source.version,
                targetDefinitionId: versions.target.id,
                targetVersion: versions.target.version,
                renamed: Object.fromEntries([...renames].filter(([from]) => from !== sourceDefinitions)),
              },
            },
          }),
      };
    });
    this.ctx.emit('instance.migrated', { id: row.id, processKey: row.process_key, from: versions.source.id, to: versions.target.id });
    return row;
  }

  /**
   * Camunda 7's synchronous execute: the plan and every instance are checked first (nothing moves
   * when one would be refused), then each instance migrates in its own transition.
   */
  async execute(plan: MigrationPlan, instanceIds: string[], audit?: AuditEntry): Promise<{ migrated: string[] }> {
    const reports = await this.validateInstances(plan, instanceIds);
    if (reports.length) throw instanceInvalid(plan, reports);
    const migrated: string[] = [];
    for (const id of instanceIds) {
      await this.migrateInstance(plan, id, audit);
      migrated.push(id);
    }
    return { migrated };
  }
}

function withTimersReset(state: unknown, activityIds: ReadonlySet<string>): unknown {
  resetTimers(state, activityIds);
  return state;
}

function instanceInvalid(plan: MigrationPlan, reports: InstanceReport[]): AppError {
  const first = reports[0]!;
  const failures = [...first.failures, ...first.activityInstanceValidationReports.flatMap((report) => report.failures)];
  return new AppError(
    'MIGRATION_INSTANCE_INVALID',
    `process instance ${first.processInstanceId} cannot be migrated: ${failures.join('; ')}${reports.length > 1 ? ` (and ${reports.length - 1} more instance(s))` : ''}`,
    {
      details: {
        validationReport: {
          migrationPlan: plan,
          processInstanceValidationReports: reports.map((report) => ({ ...report, transitionInstanceValidationReports: [] })),
        },
      },
    },
  );
}
