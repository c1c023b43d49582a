import { createHash, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../errors.js';
import * as definitionsStore from '../store/definitions.js';
import * as store from '../store/decisions.js';
import { appendAuditEntry, type AuditEntry } from '../store/audit-entries.js';
import type { Finding } from '../engine/definitions/analysis-types.js';
import { DecisionThread } from './decision-thread.js';
import type { DecisionRequirements } from './dmn-model.js';
import type { DrgEvaluation, EvaluatedDecision, ResultEntry } from './evaluate-decision.js';

export interface DecisionResource {
  name: string;
  xml: string;
}

/** A `.dmn` resource parsed and linted, ready to be stored. */
export interface PreparedDecisions {
  resource: DecisionResource;
  drg: DecisionRequirements;
  checksum: string;
}

export interface DeployedDecision {
  id: string;
  key: string;
  version: number;
  name: string | null;
  resourceName: string;
  /** False when the same content was already the latest version. */
  created: boolean;
}

/** Which version of a decision: by id, or by key with Camunda 7's binding (latest when neither version nor deployment). */
export type DecisionRef = { id: string } | { key: string; version?: number; deploymentId?: string };

export interface LoadedDecision {
  definition: store.DecisionDefinitionSummary;
  drg: DecisionRequirements;
}

/** Where an evaluation happened, for its record. */
export interface EvaluationScope {
  instanceId?: string;
  processDefinitionId?: string;
  processKey?: string;
  activityId?: string;
  executionId?: string;
}

export interface DecisionOutcome {
  definition: store.DecisionDefinitionSummary;
  evaluation: DrgEvaluation;
  /** One row per decision evaluated (required ones with the requested one's id as root). */
  records: store.DecisionEvaluationRow[];
}

export interface DecisionServiceOptions {
  knex: Knex;
  /** Time budget of one evaluation (in a worker thread, which is ended when it runs over). @default 1000 */
  timeoutMs?: number;
  /** Time budget of parsing and linting one `.dmn` resource at deploy. @default 10000 */
  analyseTimeoutMs?: number;
  /** Largest input (the variables as JSON) one evaluation takes. @default 1 MiB */
  maxInputBytes?: number;
  /** Largest `.dmn` resource a deploy takes. @default 1 MiB */
  maxResourceBytes?: number;
}

export const isDecisionResource = (name: string): boolean => /\.dmn(11\.xml)?$/i.test(name);

/**
 * Decisions (DMN 1.3): deploy (parse, lint, version per decision key), load by Camunda 7's
 * bindings, evaluate, and record each evaluation. Decision versions never change once
 * stored, so their parsed models are cached by id.
 */
export class DecisionService {
  private readonly knex: Knex;
  private readonly options: Required<Omit<DecisionServiceOptions, 'knex'>>;
  private readonly cache = new Map<string, LoadedDecision>();
  /** Evaluations; deploy parsing has its own worker, so a big deploy never delays a decision. */
  private readonly thread = new DecisionThread();
  private readonly analysis = new DecisionThread({ capacity: 0 });

  constructor(options: DecisionServiceOptions) {
    this.knex = options.knex;
    this.options = { timeoutMs: 1000, analyseTimeoutMs: 10_000, maxInputBytes: 1024 * 1024, maxResourceBytes: 1024 * 1024, ...options };
  }

  /** Ends the worker thread (shutdown). */
  async close(): Promise<void> {
    await Promise.all([this.thread.close(), this.analysis.close()]);
  }

  /**
   * Lints one `.dmn` resource as a deploy would, storing nothing: the same size cap and DOCTYPE
   * refusal, and parsing and linting in the worker thread under the deploy's time budget.
   */
  async lint(resource: DecisionResource): Promise<{ errors: Finding[]; warnings: Finding[]; decisions: string[] }> {
    this.checkSize(resource);
    if (/<!DOCTYPE/i.test(resource.xml)) return { errors: [DOCTYPE_REFUSED], warnings: [], decisions: [] };
    try {
      const { drg, errors, warnings } = await this.analysis.analyse(resource.name, resource.xml, this.options.analyseTimeoutMs);
      return { errors, warnings, decisions: drg.decisions.map((decision) => decision.id) };
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'INVALID_DEFINITION') throw error;
      return { errors: (error.details as { errors: Finding[] }).errors, warnings: [], decisions: [] };
    }
  }

  private checkSize(resource: DecisionResource): void {
    if (Buffer.byteLength(resource.xml) > this.options.maxResourceBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `${resource.name} is larger than ${this.options.maxResourceBytes} bytes`);
    }
  }

  /** Parses and lints `.dmn` resources; a rejected one is a 400 (INVALID_DEFINITION) naming its elements. */
  async prepare(resources: DecisionResource[]): Promise<PreparedDecisions[]> {
    const prepared: PreparedDecisions[] = [];
    const keys = new Map<string, string>();
    for (const resource of resources) {
      this.checkSize(resource);
      if (/<!DOCTYPE/i.test(resource.xml)) throw rejected(resource.name, [DOCTYPE_REFUSED]);
      const { drg, errors } = await this.analysis.analyse(resource.name, resource.xml, this.options.analyseTimeoutMs);
      if (errors.length) throw rejected(resource.name, errors);
      for (const decision of drg.decisions) {
        const other = keys.get(decision.id);
        if (other) throw rejected(resource.name, [{ severity: 'error', rule: 'dmn-duplicate-key', elementId: decision.id, message: `decision '${decision.id}' is also defined in ${other}` }]);
        keys.set(decision.id, resource.name);
      }
      prepared.push({ resource, drg, checksum: createHash('sha256').update(resource.xml).digest('hex') });
    }
    return prepared;
  }

  /**
   * Stores every decision of the prepared resources as a new version of its key, inside the
   * caller's deployment transaction; a decision whose latest version came from the same
   * content keeps that version.
   */
  async store(trx: Knex.Transaction, deploymentId: string, prepared: PreparedDecisions[]): Promise<DeployedDecision[]> {
    const deployed: DeployedDecision[] = [];
    for (const { resource, drg, checksum } of prepared) {
      for (const decision of drg.decisions) {
        const latest = await store.latestDecisionForUpdate(trx, decision.id);
        if (latest && latest.checksum === checksum) {
          // Part of this deployment all the same: binding="deployment" of its processes finds it.
          if (latest.deployment_id !== deploymentId) await store.linkDecisionToDeployment(trx, { deployment_id: deploymentId, decision_definition_id: latest.id, key: latest.key });
          deployed.push({ id: latest.id, key: latest.key, version: latest.version, name: latest.name, resourceName: latest.resource_name, created: false });
          continue;
        }
        const version = (latest?.version ?? 0) + 1;
        const id = `${decision.id}:${version}:${deploymentId.slice(0, 8)}`;
        await store.insertDecisionDefinition(trx, {
          id,
          key: decision.id,
          version,
          name: decision.name,
          version_tag: decision.versionTag,
          deployment_id: deploymentId,
          resource_name: resource.name,
          drg_key: drg.id,
          checksum,
          xml: resource.xml,
          model: drg,
        });
        deployed.push({ id, key: decision.id, version, name: decision.name, resourceName: resource.name, created: true });
      }
    }
    return deployed;
  }

  /** A deployment of decisions only (no BPMN): its own deployment row, all or nothing. */
  async deploy(prepared: PreparedDecisions[], options: { name?: string; source?: string; audit?: AuditEntry } = {}) {
    const id = randomUUID();
    const name = options.name ?? prepared[0]?.resource.name ?? 'decisions';
    const decisions = await this.knex.transaction(async (trx) => {
      await definitionsStore.insertDeployment(trx, { id, name, source: options.source ?? 'api' });
      const stored = await this.store(trx, id, prepared);
      if (options.audit) {
        await appendAuditEntry(trx, { ...options.audit, details: { ...options.audit.details, deploymentId: id, decisions: stored.map((decision) => decision.id) } });
      }
      return stored;
    });
    return { id, name, decisions };
  }

  async load(ref: DecisionRef): Promise<LoadedDecision> {
    const id = 'id' in ref ? ref.id : await store.findDecisionDefinitionId(this.knex, ref.key, { version: ref.version, deploymentId: ref.deploymentId });
    const describe = () =>
      'id' in ref
        ? `decision definition ${ref.id}`
        : `decision '${ref.key}'${ref.version !== undefined ? ` version ${ref.version}` : ''}${ref.deploymentId ? ` of deployment ${ref.deploymentId}` : ''}`;
    if (!id) throw new AppError('NOT_FOUND', `${describe()} is not deployed`);
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = await store.findDecisionDefinition(this.knex, id);
    if (!row) throw new AppError('NOT_FOUND', `${describe()} is not deployed`);
    const { xml: _xml, model, ...definition } = row;
    const loaded = { definition, drg: model as DecisionRequirements };
    if (this.cache.size >= 500) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(id, loaded);
    return loaded;
  }

  /**
   * Evaluates a decision over variables and builds its records, without writing them: a
   * business rule task's records commit with its transition (a re-run transition evaluates
   * again and only the committed run's records stay).
   */
  async evaluate(ref: DecisionRef, variables: Record<string, unknown>, scope: EvaluationScope = {}): Promise<DecisionOutcome> {
    const { definition, drg } = await this.load(ref);
    // Only what the decision reads goes to the worker (a big process variable it never reads is not its input).
    const read = drg.variableNames ? Object.fromEntries(drg.variableNames.filter((name) => Object.hasOwn(variables ?? {}, name)).map((name) => [name, variables[name]])) : variables;
    const json = JSON.stringify(read ?? {}) ?? '{}';
    const size = Buffer.byteLength(json);
    if (size > this.options.maxInputBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `the decision's input is ${size} bytes; at most ${this.options.maxInputBytes} are evaluated`);
    }
    // The worker gets the variables as JSON data (what a process variable is): no functions, no classes.
    const evaluation = await this.thread.evaluate(definition.id, drg, definition.key, JSON.parse(json), this.options.timeoutMs);
    return { definition, evaluation, records: await this.records(definition, evaluation, scope) };
  }

  /** Evaluates and records at once: a standalone evaluation (REST, the browser's test panel). */
  async evaluateAndRecord(ref: DecisionRef, variables: Record<string, unknown>): Promise<DecisionOutcome> {
    const outcome = await this.evaluate(ref, variables);
    await store.insertDecisionEvaluations(this.knex, outcome.records);
    return outcome;
  }

  /** Deployed decision versions (summaries), for the decision routers. */
  async listDefinitions(filter: store.DecisionDefinitionFilter = {}, page: { firstResult?: number; maxResults?: number } = {}): Promise<store.DecisionDefinitionSummary[]> {
    return store.listDecisionDefinitions(this.knex, filter, page);
  }

  async countDefinitions(filter: store.DecisionDefinitionFilter = {}): Promise<number> {
    return store.countDecisionDefinitions(this.knex, filter);
  }

  /** One decision version as stored, with its resource's XML. */
  async findDefinition(id: string): Promise<store.DecisionDefinitionRow | undefined> {
    return store.findDecisionDefinition(this.knex, id);
  }

  /** Recorded evaluations, oldest first. */
  async listEvaluations(filter: store.DecisionEvaluationFilter, page: { firstResult?: number; maxResults?: number } = {}): Promise<store.DecisionEvaluationRow[]> {
    return store.listDecisionEvaluations(this.knex, filter, page);
  }

  private async records(definition: store.DecisionDefinitionSummary, evaluation: DrgEvaluation, scope: EvaluationScope): Promise<store.DecisionEvaluationRow[]> {
    const now = new Date();
    const rootId = randomUUID();
    const rows: store.DecisionEvaluationRow[] = [];
    for (const evaluated of evaluation.evaluated) {
      const isRoot = evaluated.decisionId === evaluation.decisionId;
      // A required decision is recorded under the version of its own key deployed with this resource.
      const own = isRoot ? definition : await this.requiredVersion(definition, evaluated.decisionId);
      rows.push(recordOf(isRoot ? rootId : randomUUID(), isRoot ? null : rootId, own, evaluated, scope, now));
    }
    return rows;
  }

  private async requiredVersion(root: store.DecisionDefinitionSummary, key: string): Promise<{ id: string; key: string; version: number }> {
    const id = await store.findDecisionDefinitionId(this.knex, key, { deploymentId: root.deployment_id });
    if (id) {
      const { definition } = await this.load({ id });
      return definition;
    }
    // Deployed earlier with unchanged content: the version with the same checksum.
    const row = await this.knex('decision_definitions').where({ key, checksum: root.checksum }).orderBy('version', 'desc').first('id', 'key', 'version');
    return row ?? { id: root.id, key, version: root.version };
  }
}

function recordOf(
  id: string,
  rootId: string | null,
  definition: { id: string; key: string; version: number },
  evaluated: EvaluatedDecision,
  scope: EvaluationScope,
  at: Date,
): store.DecisionEvaluationRow {
  const { inputs, matchedRules, result, ...rest } = evaluated;
  return {
    id,
    root_id: rootId,
    decision_definition_id: definition.id,
    decision_key: definition.key,
    decision_version: definition.version,
    instance_id: scope.instanceId ?? null,
    process_definition_id: scope.processDefinitionId ?? null,
    process_key: scope.processKey ?? null,
    activity_id: scope.activityId ?? null,
    execution_id: scope.executionId ?? null,
    inputs,
    matched_rules: matchedRules,
    outputs: result,
    record: rest as Record<string, unknown>,
    evaluated_at: at,
  };
}

const DOCTYPE_REFUSED: Finding = { severity: 'error', rule: 'no-doctype', message: 'a DOCTYPE is not allowed in a DMN file' };

function rejected(resource: string, errors: Finding[]): AppError {
  const shown = errors
    .slice(0, 5)
    .map((finding) => `${finding.elementId ? `${finding.elementId}: ` : ''}${finding.message} (${finding.rule})`)
    .join('; ');
  const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
  return new AppError('INVALID_DEFINITION', `${resource} was rejected: ${shown}${more}`, { details: { resource, errors, warnings: [] } });
}

export type { ResultEntry };
