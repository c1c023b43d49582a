import { z } from 'zod';

/**
 * How the native API (`/api`) answers the engine's wait rows, incidents, jobs, history and
 * versions: camelCase fields, one small mapping per resource, applied at the HTTP boundary.
 * The tables keep their snake_case columns (src/store); `/engine-rest` keeps Camunda 7's
 * shapes (src/api/camunda). Each schema documents the answer in the OpenAPI document.
 */

type Row = Record<string, any>;
const Time = z.string().describe('ISO 8601 timestamp');

export const UserTaskSchema = z.object({
  id: z.string(),
  instanceId: z.string(),
  processKey: z.string(),
  definitionId: z.string(),
  activityId: z.string(),
  executionId: z.string(),
  name: z.string().nullable(),
  assignee: z.string().nullable(),
  candidateGroups: z.array(z.string()).nullable(),
  candidateUsers: z.array(z.string()).nullable(),
  formKey: z.string().nullable(),
  formFields: z.array(z.record(z.string(), z.unknown())).nullable().describe('the camunda:formData fields a completion is checked against'),
  priority: z.number(),
  dueAt: Time.nullable(),
  createdAt: Time,
});

/** An open user task (a `user_tasks` row) as the native API answers it. */
export function describeUserTask(row: Row) {
  return {
    id: row.id,
    instanceId: row.instance_id,
    processKey: row.process_key,
    definitionId: row.definition_id,
    activityId: row.activity_id,
    executionId: row.execution_id,
    name: row.name ?? null,
    assignee: row.assignee ?? null,
    candidateGroups: row.candidate_groups ?? null,
    candidateUsers: row.candidate_users ?? null,
    formKey: row.form_key ?? null,
    formFields: row.form_fields ?? null,
    priority: row.priority,
    dueAt: row.due_at ?? null,
    createdAt: row.created_at,
  };
}

export const IncidentSchema = z.object({
  id: z.string(),
  type: z.string(),
  message: z.string(),
  stack: z.string().nullable(),
  trigger: z.record(z.string(), z.unknown()).nullable().describe('what raised it (the alert, the failing attempt)'),
  instanceId: z.string().nullable(),
  definitionId: z.string().nullable(),
  processKey: z.string(),
  activityId: z.string().nullable(),
  executionId: z.string().nullable(),
  jobId: z.string().nullable(),
  externalTaskId: z.string().nullable(),
  createdAt: Time,
  resolvedAt: Time.nullable(),
});

/** An incident (an `incidents` row) as the native API answers it. */
export function describeIncident(row: Row) {
  return {
    id: row.id,
    type: row.type,
    message: row.message,
    stack: row.stack ?? null,
    trigger: row.trigger ?? null,
    instanceId: row.instance_id ?? null,
    definitionId: row.definition_id ?? null,
    processKey: row.process_key,
    activityId: row.activity_id ?? null,
    executionId: row.execution_id ?? null,
    jobId: row.job_id ?? null,
    externalTaskId: row.external_task_id ?? null,
    createdAt: row.created_at,
    resolvedAt: row.resolved_at ?? null,
  };
}

export const ExternalTaskSchema = z.object({
  id: z.string(),
  topic: z.string(),
  instanceId: z.string(),
  processKey: z.string(),
  definitionId: z.string(),
  activityId: z.string(),
  executionId: z.string(),
  businessKey: z.string().nullable(),
  priority: z.number(),
  workerId: z.string().nullable().describe('the worker holding the lock'),
  lockExpiresAt: Time.nullable(),
  retries: z.number().nullable(),
  errorMessage: z.string().nullable(),
  errorDetails: z.string().nullable(),
  localVariables: z.record(z.string(), z.unknown()).nullable().describe("the task's input mappings"),
  createdAt: Time,
});

/** An external task (an `external_tasks` row) as the native API answers it. */
export function describeExternalTask(row: Row) {
  return {
    id: row.id,
    topic: row.topic,
    instanceId: row.instance_id,
    processKey: row.process_key,
    definitionId: row.definition_id,
    activityId: row.activity_id,
    executionId: row.execution_id,
    businessKey: row.business_key ?? null,
    priority: row.priority,
    workerId: row.worker_id ?? null,
    lockExpiresAt: row.lock_expires_at ?? null,
    retries: row.retries ?? null,
    errorMessage: row.error_message ?? null,
    errorDetails: row.error_details ?? null,
    localVariables: row.local_variables ?? null,
    createdAt: row.created_at,
  };
}

export const JobSchema = z.object({
  id: z.string(),
  kind: z.string().describe('timer, timer-start, call-completed, call-failed, history-cleanup or batch'),
  instanceId: z.string().nullable(),
  definitionId: z.string().nullable(),
  activityId: z.string().nullable(),
  dueAt: Time,
  retries: z.number(),
  lockedBy: z.string().nullable().describe('the node running it now'),
  lockedUntil: Time.nullable(),
  errorMessage: z.string().nullable(),
  createdAt: Time,
});

/** A job (a `jobs` row: a timer, a timer start, a call's hand-back, ...) as the native API answers it. */
export function describeJob(row: Row) {
  return {
    id: row.id,
    kind: row.kind,
    instanceId: row.instance_id ?? null,
    definitionId: row.definition_id ?? null,
    activityId: row.activity_id ?? null,
    dueAt: row.due_at,
    retries: row.retries,
    lockedBy: row.locked_by ?? null,
    lockedUntil: row.locked_until ?? null,
    errorMessage: row.error_message ?? null,
    createdAt: row.created_at,
  };
}

export const SubscriptionSchema = z.object({
  id: z.string(),
  kind: z.string().describe('message, signal, conditional, ...'),
  name: z.string().nullable(),
  refId: z.string().nullable(),
  instanceId: z.string(),
  definitionId: z.string().nullable(),
  activityId: z.string(),
  executionId: z.string().nullable(),
  businessKey: z.string().nullable(),
  createdAt: Time,
});

/** A message or signal subscription (a `subscriptions` row) as the native API answers it. */
export function describeSubscription(row: Row) {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name ?? null,
    refId: row.ref_id ?? null,
    instanceId: row.instance_id,
    definitionId: row.definition_id ?? null,
    activityId: row.activity_id,
    executionId: row.execution_id ?? null,
    businessKey: row.business_key ?? null,
    createdAt: row.created_at,
  };
}

export const HistoryEntrySchema = z.object({
  id: z.union([z.string(), z.number()]),
  instanceId: z.string(),
  event: z.string().describe('instance.start, activity start/end, instance.completed, ...'),
  at: Time,
  activityId: z.string().nullable(),
  activityType: z.string().nullable(),
  activityName: z.string().nullable(),
  executionId: z.string().nullable(),
  data: z.unknown().nullable(),
});

/** One `history` row of an instance as the native API answers it. */
export function describeHistoryEntry(row: Row) {
  return {
    id: row.id,
    instanceId: row.instance_id,
    event: row.event,
    at: row.at,
    activityId: row.activity_id ?? null,
    activityType: row.activity_type ?? null,
    activityName: row.activity_name ?? null,
    executionId: row.execution_id ?? null,
    data: row.data ?? null,
  };
}

export const ProcessDefinitionSchema = z.object({
  id: z.string(),
  key: z.string(),
  version: z.number(),
  name: z.string().nullable(),
  deploymentId: z.string(),
  resourceName: z.string(),
  checksum: z.string(),
  executable: z.boolean(),
  info: z.record(z.string(), z.unknown()).nullable().describe('start events, end events, topics, user tasks as analysed at deploy'),
  report: z.record(z.string(), z.unknown()).nullable().describe('the lint warnings it was deployed with'),
  deployedAt: Time,
});

/** A process version (a `process_definitions` row, without its XML) as the native API answers it. */
export function describeProcessDefinition(row: Row) {
  return {
    id: row.id,
    key: row.key,
    version: row.version,
    name: row.name ?? null,
    deploymentId: row.deployment_id,
    resourceName: row.resource_name,
    checksum: row.checksum,
    executable: row.executable,
    info: row.info ?? null,
    report: row.report ?? null,
    deployedAt: row.deployed_at,
  };
}

export const DecisionDefinitionSchema = z.object({
  id: z.string(),
  key: z.string(),
  version: z.number(),
  name: z.string().nullable(),
  versionTag: z.string().nullable(),
  deploymentId: z.string(),
  resourceName: z.string(),
  drgKey: z.string().describe('the id of the DRG (definitions) the decision was deployed in'),
  checksum: z.string(),
  deployedAt: Time,
});

/** A decision version (a `decision_definitions` row, without XML and model) as the native API answers it. */
export function describeDecisionDefinition(row: Row) {
  return {
    id: row.id,
    key: row.key,
    version: row.version,
    name: row.name ?? null,
    versionTag: row.version_tag ?? null,
    deploymentId: row.deployment_id,
    resourceName: row.resource_name,
    drgKey: row.drg_key,
    checksum: row.checksum,
    deployedAt: row.deployed_at,
  };
}

export const DecisionEvaluationSchema = z.object({
  id: z.string(),
  rootId: z.string().nullable().describe('the evaluation of the decision asked for, when this one was a required decision'),
  decisionDefinitionId: z.string(),
  decisionKey: z.string(),
  decisionVersion: z.number(),
  instanceId: z.string().nullable(),
  processDefinitionId: z.string().nullable(),
  processKey: z.string().nullable(),
  activityId: z.string().nullable(),
  executionId: z.string().nullable(),
  inputs: z.unknown(),
  matchedRules: z.unknown(),
  outputs: z.unknown(),
  record: z.record(z.string(), z.unknown()),
  evaluatedAt: Time,
});

/** A recorded decision evaluation (a `decision_evaluations` row) as the native API answers it. */
export function describeDecisionEvaluation(row: Row) {
  return {
    id: row.id,
    rootId: row.root_id ?? null,
    decisionDefinitionId: row.decision_definition_id,
    decisionKey: row.decision_key,
    decisionVersion: row.decision_version,
    instanceId: row.instance_id ?? null,
    processDefinitionId: row.process_definition_id ?? null,
    processKey: row.process_key ?? null,
    activityId: row.activity_id ?? null,
    executionId: row.execution_id ?? null,
    inputs: row.inputs,
    matchedRules: row.matched_rules,
    outputs: row.outputs,
    record: row.record,
    evaluatedAt: row.evaluated_at,
  };
}

export const FormDefinitionSchema = z.object({
  id: z.string(),
  key: z.string(),
  version: z.number(),
  versionTag: z.string().nullable(),
  deploymentId: z.string(),
  resourceName: z.string(),
  checksum: z.string(),
  deployedAt: Time,
});

/** A form version (a `form_definitions` row, without its schema) as the native API answers it. */
export function describeFormDefinition(row: Row) {
  return {
    id: row.id,
    key: row.key,
    version: row.version,
    versionTag: row.version_tag ?? null,
    deploymentId: row.deployment_id,
    resourceName: row.resource_name,
    checksum: row.checksum,
    deployedAt: row.deployed_at,
  };
}

/** An `audit_entries` row as the native API answers it. */
export function describeAuditEntry(row: Row) {
  return {
    id: String(row.id),
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    result: row.result,
    instanceId: row.instance_id ?? null,
    details: row.details ?? null,
    idempotencyKey: row.idempotency_key ?? null,
  };
}
