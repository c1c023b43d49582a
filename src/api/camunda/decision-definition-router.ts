import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { DecisionService, LoadedDecision } from '../../decisions/index.js';
import type * as decisionsStore from '../../store/decisions.js';
import { allow } from '../auth.js';
import { BooleanParam, c7Date, PageQuery } from './camunda-shapes.js';
import { sendJson } from './external-task-router.js';
import { fromTyped, toTyped, TypedVariablesSchema } from './typed-variables.js';

const Key = z.string().min(1).max(255).regex(/^[A-Za-z_][\w.-]*$/, 'must be a decision definition key');
const DecisionId = z.string().max(300).regex(/^[A-Za-z_][\w.-]*:\d+:[0-9a-f]{8}$/, 'must be a decision definition id');
const DefinitionQuery = z.object({
  decisionDefinitionId: z.string().max(300).optional(),
  key: Key.optional(),
  keyLike: z.string().max(255).optional(),
  name: z.string().max(255).optional(),
  version: z.coerce.number().int().min(1).optional(),
  deploymentId: z.string().max(64).optional(),
  resourceName: z.string().max(255).optional(),
  decisionRequirementsDefinitionKey: z.string().max(255).optional(),
  latestVersion: BooleanParam.optional(),
  ...PageQuery,
});
const EvaluateBody = z.object({ variables: TypedVariablesSchema.optional() });

function c7DecisionDefinition(row: decisionsStore.DecisionDefinitionSummary) {
  return {
    id: row.id,
    key: row.key,
    category: null,
    name: row.name,
    version: row.version,
    resource: row.resource_name,
    deploymentId: row.deployment_id,
    decisionRequirementsDefinitionId: null,
    decisionRequirementsDefinitionKey: row.drg_key,
    tenantId: null,
    versionTag: row.version_tag,
    historyTimeToLive: null,
  };
}

function filterOf(query: z.infer<typeof DefinitionQuery>): decisionsStore.DecisionDefinitionFilter {
  return {
    id: query.decisionDefinitionId,
    key: query.key,
    keyLike: query.keyLike,
    name: query.name,
    version: query.version,
    deploymentId: query.deploymentId,
    resourceName: query.resourceName,
    drgKey: query.decisionRequirementsDefinitionKey,
    latestOnly: query.latestVersion,
  };
}

/**
 * `/engine-rest/decision-definition`: list, count, by key or id, XML, and evaluate with
 * Camunda 7's typed variables in and `[{ output: { value, type, valueInfo } }]` out. A decision
 * that cannot decide answers 500 (RestException), as Camunda 7 does.
 */
export function decisionDefinitionRouter(decisions: DecisionService): Router {
  const router = Router();
  const readers = allow('owner', 'operator');

  router.get('/', readers, async (req, res) => {
    const query = DefinitionQuery.parse(req.query);
    const rows = await decisions.listDefinitions(filterOf(query), query);
    sendJson(res, 200, rows.map(c7DecisionDefinition));
  });
  router.get('/count', readers, async (req, res) => {
    sendJson(res, 200, { count: await decisions.countDefinitions(filterOf(DefinitionQuery.parse(req.query))) });
  });

  const byKey = (req: Request) => decisions.load({ key: Key.parse(req.params.key) });
  const byId = (req: Request) => decisions.load({ id: DecisionId.parse(req.params.id) });
  const xml = async (res: Response, loaded: LoadedDecision) => {
    const row = await decisions.findDefinition(loaded.definition.id);
    sendJson(res, 200, { id: loaded.definition.id, dmnXml: row?.xml ?? null });
  };
  const evaluate = async (req: Request, res: Response, loaded: LoadedDecision) => {
    const body = EvaluateBody.parse(req.body ?? {});
    try {
      const outcome = await decisions.evaluateAndRecord({ id: loaded.definition.id }, fromTyped(body.variables));
      sendJson(res, 200, outcome.evaluation.result.map((entry) => toTyped(entry)));
    } catch (error) {
      if (error instanceof AppError && error.code.startsWith('DECISION_')) {
        return sendJson(res, 500, { type: 'RestException', message: `Cannot evaluate decision ${loaded.definition.id}: ${error.message}`, code: 0 });
      }
      throw error;
    }
  };

  router.get('/key/:key', readers, async (req, res) => sendJson(res, 200, c7DecisionDefinition((await byKey(req)).definition)));
  router.get('/key/:key/xml', readers, async (req, res) => xml(res, await byKey(req)));
  router.post('/key/:key/evaluate', readers, async (req, res) => evaluate(req, res, await byKey(req)));
  router.get('/:id', readers, async (req, res) => sendJson(res, 200, c7DecisionDefinition((await byId(req)).definition)));
  router.get('/:id/xml', readers, async (req, res) => xml(res, await byId(req)));
  router.post('/:id/evaluate', readers, async (req, res) => evaluate(req, res, await byId(req)));
  return router;
}

const HistoryQuery = z.object({
  decisionInstanceId: z.string().max(64).optional(),
  decisionDefinitionId: z.string().max(300).optional(),
  decisionDefinitionKey: Key.optional(),
  processInstanceId: z.string().max(64).optional(),
  activityIdIn: z.string().max(2000).optional(),
  rootDecisionInstanceId: z.string().max(64).optional(),
  rootDecisionInstancesOnly: BooleanParam.optional(),
  includeInputs: BooleanParam.optional(),
  includeOutputs: BooleanParam.optional(),
  disableBinaryFetching: BooleanParam.optional(),
  disableCustomObjectDeserialization: BooleanParam.optional(),
  ...PageQuery,
});

/** `/engine-rest/history/decision-instance`: recorded evaluations as Camunda 7's historic decision instances. */
export function decisionHistoryRouter(decisions: DecisionService): Router {
  const router = Router();
  const readers = allow('owner', 'operator');
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const list = async (query: z.infer<typeof HistoryQuery>) => {
    // Not a UUID: matches no row (and never reaches a uuid column as a cast error).
    for (const id of [query.decisionInstanceId, query.processInstanceId, query.rootDecisionInstanceId]) if (id !== undefined && !uuid.test(id)) return [];
    const activities = query.activityIdIn?.split(',').filter(Boolean);
    const rows = await decisions.listEvaluations(
      {
        id: query.decisionInstanceId,
        decisionDefinitionId: query.decisionDefinitionId,
        decisionKey: query.decisionDefinitionKey,
        instanceId: query.processInstanceId,
        rootId: query.rootDecisionInstanceId,
        rootsOnly: query.rootDecisionInstancesOnly,
        activityId: activities?.length === 1 ? activities[0] : undefined,
      },
      query,
    );
    return rows.filter((row) => !activities || activities.length <= 1 || activities.includes(row.activity_id ?? ''));
  };
  router.get('/', readers, async (req, res) => {
    const query = HistoryQuery.parse(req.query);
    sendJson(res, 200, (await list(query)).map((row) => c7HistoricDecision(row, query)));
  });
  router.get('/count', readers, async (req, res) => {
    const query = HistoryQuery.parse(req.query);
    sendJson(res, 200, { count: (await list({ ...query, firstResult: 0, maxResults: 1000 })).length });
  });
  router.get('/:id', readers, async (req, res) => {
    const query = HistoryQuery.parse(req.query);
    const id = String(req.params.id);
    const [row] = await list({ ...query, decisionInstanceId: id, firstResult: 0, maxResults: 1 });
    if (!row) return sendJson(res, 404, { type: 'InvalidRequestException', message: `Historic decision instance with id '${id}' does not exist`, code: 0 });
    sendJson(res, 200, c7HistoricDecision(row, query));
  });
  return router;
}

function c7HistoricDecision(row: decisionsStore.DecisionEvaluationRow, query: { includeInputs?: boolean; includeOutputs?: boolean }) {
  const evaluationTime = c7Date(row.evaluated_at);
  const inputs = (row.inputs as Array<{ id: string; label: string | null; value: unknown }>) ?? [];
  const rules = (row.matched_rules as Array<{ id: string; index: number; outputs: Record<string, unknown> }>) ?? [];
  const record = row.record ?? {};
  return {
    id: row.id,
    decisionDefinitionId: row.decision_definition_id,
    decisionDefinitionKey: row.decision_key,
    decisionDefinitionName: (record.decisionName as string | null) ?? null,
    evaluationTime,
    removalTime: null,
    processDefinitionId: row.process_definition_id,
    processDefinitionKey: row.process_key,
    processInstanceId: row.instance_id,
    rootProcessInstanceId: row.instance_id,
    caseDefinitionId: null,
    caseDefinitionKey: null,
    caseInstanceId: null,
    activityId: row.activity_id,
    activityInstanceId: row.execution_id,
    userId: null,
    collectResultValue: record.aggregation ? (record.resultValue ?? null) : null,
    rootDecisionInstanceId: row.root_id,
    decisionRequirementsDefinitionId: null,
    decisionRequirementsDefinitionKey: null,
    tenantId: null,
    ...(query.includeInputs && {
      inputs: inputs.map((input) => ({
        id: `${row.id}:${input.id}`,
        decisionInstanceId: row.id,
        clauseId: input.id,
        clauseName: input.label,
        errorMessage: null,
        ...toTyped({ value: input.value }).value,
        createTime: evaluationTime,
        removalTime: null,
        rootProcessInstanceId: row.instance_id,
      })),
    }),
    ...(query.includeOutputs && {
      outputs: rules.flatMap((rule) =>
        Object.entries(rule.outputs).map(([name, value]) => ({
          id: `${row.id}:${rule.id}:${name}`,
          decisionInstanceId: row.id,
          clauseId: null,
          clauseName: name,
          ruleId: rule.id,
          ruleOrder: rule.index,
          variableName: name,
          errorMessage: null,
          ...toTyped({ value }).value,
          createTime: evaluationTime,
          removalTime: null,
          rootProcessInstanceId: row.instance_id,
        })),
      ),
    }),
  };
}
