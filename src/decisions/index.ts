export { DecisionService, isDecisionResource } from './decision-service.js';
export type { DecisionOutcome, DecisionRef, DeployedDecision, EvaluationScope, LoadedDecision, PreparedDecisions } from './decision-service.js';
export { createDecisionTaskEvaluator } from './decision-task.js';
export { DecisionThread } from './decision-thread.js';
export { deployResources, type MixedDeployment } from './deploy-resources.js';
export { parseDmn, type DecisionRequirements, type DecisionModel, type HitPolicy } from './dmn-model.js';
export { evaluateDrg, DecisionError, type DrgEvaluation, type EvaluatedDecision, type ResultEntry } from './evaluate-decision.js';
export { lintDecisions, DECISION_LIMITS } from './lint-decisions.js';
export { mapDecisionResult, RESULT_MAPPINGS, type MapDecisionResult } from './result-mapping.js';
