import { z } from 'zod';
import type { ProcessInfo } from '../engine/definitions/analysis-types.js';
import { describeInstance, type OperatorQueries } from '../engine/queries/operator-queries.js';
import type { InstanceRow } from '../store/transitions.js';
import { parseVariableCondition, variableConditionProblem } from './camunda/camunda-shapes.js';
import { route, type RouteSpec } from './route-spec.js';

/** One `name_op_value` condition per `variable` parameter (repeat it for more; a value may hold commas). */
const VariableParam = z
  .string()
  .max(4000)
  .transform((text, context) => {
    const condition = parseVariableCondition(text);
    if (!condition) {
      context.addIssue({ code: 'custom', message: variableConditionProblem(text) });
      return z.NEVER;
    }
    return condition;
  });

export const HistoryInstanceQuery = z
  .object({
    status: z.enum(['active', 'completed', 'cancelled', 'failed']).optional(),
    processKey: z.string().min(1).max(255).optional(),
    businessKey: z.string().max(255).optional(),
    startedBefore: z.coerce.date().optional(),
    startedAfter: z.coerce.date().optional(),
    incidents: z.enum(['open', 'none']).optional().describe('only instances with (open) or without (none) an open incident'),
    finished: z.enum(['true', 'false']).optional().describe('ended (true) or running (false) instances only'),
    variable: z
      .union([VariableParam, z.array(VariableParam).max(20)])
      .optional()
      .describe('name_op_value, op one of eq, neq, gt, gteq, lt, lteq, like (SQL % and _); repeat for more conditions, all must hold. eq on text also matches the number or boolean it spells'),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  })
  .strict();

const HistoryInstanceEntry = z.object({
  id: z.string(),
  definitionId: z.string(),
  processKey: z.string(),
  businessKey: z.string().nullable(),
  status: z.string(),
  variables: z.record(z.string(), z.unknown()),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  processName: z.string().nullable(),
  openIncidents: z.number().int(),
  endActivityId: z.string().nullable(),
  endActivityName: z.string().nullable(),
  endOutcome: z.string().nullable(),
  durationMs: z.number().nullable(),
});

/** A page of instances as the instance list shows them: name, open incidents, end event reached and its outcome, duration. */
export async function describeListedInstances(queries: OperatorQueries, rows: InstanceRow[]) {
  const extras = await queries.instanceListExtras(rows);
  return rows.map((row) => {
    const extra = extras.byInstance.get(row.id)!;
    const definition = extras.definitions.get(row.definition_id);
    const ends = (definition?.info as ProcessInfo | undefined)?.endEvents;
    const endOutcome = extra.endActivityId ? (ends?.find((end) => end.activityId === extra.endActivityId)?.outcome ?? null) : null;
    const started = new Date(row.started_at).getTime();
    return {
      ...describeInstance(row),
      processName: definition?.name ?? null,
      openIncidents: extra.openIncidents,
      endActivityId: extra.endActivityId,
      endActivityName: extra.endActivityName,
      endOutcome,
      durationMs: row.ended_at ? new Date(row.ended_at).getTime() - started : null,
    };
  });
}

/**
 * `GET /api/history/process-instances`: every instance, running or ended, searchable by its
 * variables (`?variable=amount_gt_100&variable=customer_eq_acme`), as Cockpit's history
 * search; equality is answered by the GIN index on instance variables.
 */
export function historyRoutes(queries: OperatorQueries): RouteSpec[] {
  return [
    route({
      method: 'get',
      path: '/history/process-instances',
      tag: 'instances',
      summary: 'Search instances, running or ended, newest first, by their variables (variable=name_op_value, repeatable) and the instance list filters; the X-Total-Count header counts all matches.',
      roles: ['owner', 'operator'],
      query: HistoryInstanceQuery,
      responses: { 200: { description: 'a page of instances', schema: z.array(HistoryInstanceEntry) }, 400: { description: 'a malformed filter (a variable condition that is not name_op_value)' } },
      handler: async ({ query }, _req, res) => {
        const { variable, finished, ...rest } = query;
        const filter = { ...rest, variables: variable === undefined ? undefined : Array.isArray(variable) ? variable : [variable], finished: finished === undefined ? undefined : finished === 'true' };
        const [rows, total] = await Promise.all([queries.listInstances(filter), queries.countInstances(filter)]);
        res.setHeader('X-Total-Count', String(total));
        res.json(await describeListedInstances(queries, rows));
      },
    }),
  ];
}
