import { z } from 'zod';
import type { C7DefinitionRow, C7InstanceRow } from '../../store/camunda-queries.js';

/** The JSON shapes Camunda 7 sends, built from regenflow rows; fields regenflow lacks are null. */

/** Camunda 7 writes dates as `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (e.g. `2026-01-02T03:04:05.000+0000`). */
export function c7Date(value: Date | string | null | undefined): string | null {
  if (!value) return null;
  return new Date(value).toISOString().replace('Z', '+0000');
}

export const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
export const BooleanParam = z.enum(['true', 'false']).transform((value) => value === 'true');
/** C7 paging: `firstResult` and `maxResults` query parameters. */
export const PageQuery = {
  firstResult: z.coerce.number().int().min(0).max(10_000_000).default(0),
  maxResults: z.coerce.number().int().min(0).max(1000).default(1000),
  sortBy: z.string().max(100).optional(),
  sortOrder: z.enum(['asc', 'desc']).optional(),
};

export function c7Definition(row: C7DefinitionRow) {
  return {
    id: row.id,
    key: row.key,
    category: null,
    description: null,
    name: row.name,
    version: row.version,
    resource: row.resource_name,
    deploymentId: row.deployment_id,
    diagram: null,
    suspended: false,
    tenantId: null,
    versionTag: null,
    historyTimeToLive: null,
    startableInTasklist: row.executable,
  };
}

export function c7Instance(row: { id: string; definition_id: string; process_key: string; business_key: string | null; status: string }) {
  return {
    links: [],
    id: row.id,
    definitionId: row.definition_id,
    definitionKey: row.process_key,
    businessKey: row.business_key,
    caseInstanceId: null,
    ended: row.status !== 'active',
    suspended: false,
    tenantId: null,
  };
}

const HISTORIC_STATE: Record<string, string> = {
  active: 'ACTIVE',
  completed: 'COMPLETED',
  cancelled: 'EXTERNALLY_TERMINATED',
  failed: 'INTERNALLY_TERMINATED',
};

export function c7HistoricInstance(row: C7InstanceRow) {
  const ended = row.ended_at ? new Date(row.ended_at) : null;
  return {
    id: row.id,
    businessKey: row.business_key,
    processDefinitionId: row.definition_id,
    processDefinitionKey: row.process_key,
    processDefinitionName: row.definition_name,
    processDefinitionVersion: row.definition_version,
    startTime: c7Date(row.started_at),
    endTime: c7Date(ended),
    removalTime: null,
    durationInMillis: ended ? ended.getTime() - new Date(row.started_at).getTime() : null,
    startUserId: null,
    startActivityId: null,
    deleteReason: row.status === 'cancelled' || row.status === 'failed' ? row.error_message : null,
    rootProcessInstanceId: row.parent_instance_id ?? row.id,
    superProcessInstanceId: row.parent_instance_id,
    superCaseInstanceId: null,
    caseInstanceId: null,
    tenantId: null,
    state: HISTORIC_STATE[row.status] ?? row.status.toUpperCase(),
  };
}

export function c7Task(row: Record<string, any>) {
  return {
    id: row.id,
    name: row.name ?? row.activity_id,
    assignee: row.assignee,
    created: c7Date(row.created_at),
    due: c7Date(row.due_at),
    followUp: null,
    lastUpdated: null,
    delegationState: null,
    description: null,
    executionId: row.execution_id,
    owner: null,
    parentTaskId: null,
    priority: row.priority,
    processDefinitionId: row.definition_id,
    processInstanceId: row.instance_id,
    taskDefinitionKey: row.activity_id,
    caseExecutionId: null,
    caseInstanceId: null,
    caseDefinitionId: null,
    suspended: false,
    formKey: row.form_key,
    camundaFormRef: null,
    tenantId: null,
  };
}

export function c7Incident(row: Record<string, any>) {
  return {
    id: row.id,
    processDefinitionId: row.definition_id,
    processInstanceId: row.instance_id,
    executionId: row.execution_id,
    incidentTimestamp: c7Date(row.created_at),
    incidentType: row.type,
    activityId: row.activity_id,
    failedActivityId: row.activity_id,
    causeIncidentId: row.id,
    rootCauseIncidentId: row.id,
    configuration: row.external_task_id ?? row.job_id ?? null,
    tenantId: null,
    incidentMessage: row.message,
    jobDefinitionId: null,
    annotation: null,
  };
}

/** A comma-separated list in a GET (`processDefinitionKeyIn=a,b`). */
export function CommaList(item: z.ZodString, max = 100) {
  return z
    .string()
    .max(max * 300)
    .transform((text) => text.split(','))
    .pipe(z.array(item).min(1).max(max));
}

const VARIABLE_OPERATORS = ['eq', 'neq', 'gt', 'gteq', 'lt', 'lteq', 'like'] as const;
const VariableName = z.string().min(1).max(255);

/** One variable condition in a POST query body, as Camunda 7 sends it. */
export const VariableConditionBody = z
  .object({ name: VariableName, operator: z.enum(VARIABLE_OPERATORS), value: z.union([z.string().max(4000), z.number(), z.boolean(), z.null()]) })
  .strict();

/** One `name_op_value` condition (the operator is the last `_op_` that parses, as in C7; names may hold underscores). */
export function parseVariableCondition(part: string): z.infer<typeof VariableConditionBody> | null {
  const match = /^(.+)_(eq|neq|gt|gteq|lt|lteq|like)_(.*)$/s.exec(part);
  return match ? { name: match[1]!, operator: match[2] as (typeof VARIABLE_OPERATORS)[number], value: match[3]! } : null;
}

/** What a malformed condition is told. */
export const variableConditionProblem = (part: string) => `${JSON.stringify(part)} is not name_operator_value (operators: ${VARIABLE_OPERATORS.join(', ')})`;

/**
 * Camunda 7's GET variable filter: `name_op_value` conditions joined by commas
 * (`variables=customer_eq_acme,amount_gt_100`).
 */
export const VariablesParam = z
  .string()
  .max(20_000)
  .transform((text, context) => {
    const conditions: z.infer<typeof VariableConditionBody>[] = [];
    for (const part of text.split(',')) {
      const condition = parseVariableCondition(part);
      if (!condition) {
        context.addIssue({ code: 'custom', message: variableConditionProblem(part) });
        return z.NEVER;
      }
      conditions.push(condition);
    }
    return conditions;
  });
