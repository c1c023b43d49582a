import type { Knex } from 'knex';
import { AppError } from '../errors.js';
import * as definitionsStore from '../store/definitions.js';
import type { DecisionTaskEvaluator, DecisionTaskRequest } from '../engine/runtime/service-binding.js';
import type { DecisionService } from './decision-service.js';
import { mapDecisionResult, RESULT_MAPPINGS, type MapDecisionResult } from './result-mapping.js';

/**
 * What business rule tasks call (`camunda:decisionRef`): picks the decision version by
 * Camunda 7's binding, evaluates it over the task's variables, maps the result
 * (`camunda:mapDecisionResult`) into `camunda:resultVariable`, and hands back the records,
 * which commit with the task's transition. A failure's message starts with its code: it
 * becomes the task's incident.
 */
export function createDecisionTaskEvaluator(decisions: DecisionService, knex: Knex): DecisionTaskEvaluator {
  const deployments = new Map<string, string>();
  const deploymentOf = async (processDefinitionId: string) => {
    let id = deployments.get(processDefinitionId);
    if (!id) {
      const row = await definitionsStore.findDefinitionSummary(knex, processDefinitionId);
      if (!row) throw new AppError('NOT_FOUND', `process definition ${processDefinitionId} is not deployed`);
      id = row.deployment_id;
      if (deployments.size > 1000) deployments.clear();
      deployments.set(processDefinitionId, id);
    }
    return id;
  };

  return {
    async evaluate(request: DecisionTaskRequest) {
      try {
        const binding = request.binding ?? 'latest';
        const mapping = (request.mapDecisionResult ?? 'resultList') as MapDecisionResult;
        if (!RESULT_MAPPINGS.includes(mapping)) throw new AppError('VALIDATION_FAILED', `camunda:mapDecisionResult '${mapping}' is not one of ${RESULT_MAPPINGS.join(', ')}`);
        let ref: { key: string; version?: number; deploymentId?: string };
        if (binding === 'latest') ref = { key: request.decisionRef };
        else if (binding === 'version') {
          const version = Number(request.version);
          if (!Number.isInteger(version) || version < 1) throw new AppError('VALIDATION_FAILED', `camunda:decisionRefVersion '${request.version ?? ''}' is not a version number`);
          ref = { key: request.decisionRef, version };
        } else if (binding === 'deployment') ref = { key: request.decisionRef, deploymentId: await deploymentOf(request.scope.processDefinitionId) };
        else throw new AppError('VALIDATION_FAILED', `camunda:decisionRefBinding '${binding}' is not supported (latest, version, deployment)`);
        const outcome = await decisions.evaluate(ref, request.variables, request.scope);
        const mapped = mapDecisionResult(outcome.evaluation.result, mapping, outcome.definition.key);
        return { variables: request.resultVariable ? { [request.resultVariable]: mapped } : {}, records: outcome.records };
      } catch (error) {
        const code = error instanceof AppError ? error.code : 'DECISION_FAILED';
        throw new Error(`${code}: ${(error as Error).message ?? String(error)}`, { cause: error });
      }
    },
  };
}
