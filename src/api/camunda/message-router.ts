import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import { allow } from '../auth.js';
import { correlationResults, respondIdempotently } from '../idempotency.js';
import { auditEntry } from '../audit.js';
import { c7Instance, Uuid } from './camunda-shapes.js';
import { fromTyped, toTyped, TypedVariablesSchema } from './typed-variables.js';

const CorrelateBody = z.object({
  messageName: z.string().min(1).max(255),
  businessKey: z.string().max(255).nullish(),
  processInstanceId: Uuid.nullish(),
  correlationKeys: TypedVariablesSchema.nullish(),
  localCorrelationKeys: TypedVariablesSchema.nullish(),
  processVariables: TypedVariablesSchema.nullish(),
  processVariablesLocal: TypedVariablesSchema.nullish(),
  all: z.boolean().default(false),
  resultEnabled: z.boolean().default(false),
  variablesInResultEnabled: z.boolean().default(false),
  tenantId: z.null().optional(),
  withoutTenantId: z.boolean().optional(),
});

/**
 * `POST /engine-rest/message`: correlate to a waiting execution (by business key,
 * correlation keys or instance id) or start by message. 204, or the results when
 * `resultEnabled`. regenflow keeps no execution-local variables: local ones are set on
 * the instance.
 */
export function messageRouter(engine: WorkflowEngine): Router {
  const router = Router();
  router.post('/', allow('owner'), async (req, res) => {
    const body = CorrelateBody.parse(req.body ?? {});
    if (body.localCorrelationKeys && Object.keys(body.localCorrelationKeys).length) {
      throw new AppError('VALIDATION_FAILED', 'localCorrelationKeys are not supported: regenflow has no execution-local variables; use correlationKeys');
    }
    const entry = auditEntry(req, 'message.correlate', body.messageName, { via: 'engine-rest', ...(body.businessKey ? { businessKey: body.businessKey } : {}) });
    const shape = async (results: Array<{ resultType: 'Execution' | 'ProcessDefinition'; instanceId: string }>) => {
      if (!body.resultEnabled) return { status: 204 };
      const shaped = [];
      for (const result of results) {
        const instance = await engine.getInstance(result.instanceId);
        const variables = body.variablesInResultEnabled ? { variables: toTyped(instance.variables) } : {};
        const row = await engine.camundaQueries.findInstance(result.instanceId);
        shaped.push(
          result.resultType === 'Execution'
            ? {
                resultType: 'Execution',
                execution: { id: result.instanceId, processInstanceId: result.instanceId, ended: instance.status !== 'active', tenantId: null },
                processInstance: null,
                ...variables,
              }
            : { resultType: 'ProcessDefinition', execution: null, processInstance: row ? c7Instance(row) : null, ...variables },
        );
      }
      return { status: 200, body: shaped };
    };
    await respondIdempotently(req, res, engine.auditLog, entry, (audit) =>
      engine.correlateMessage({
        messageName: body.messageName,
        businessKey: body.businessKey ?? undefined,
        processInstanceId: body.processInstanceId ?? undefined,
        correlationKeys: body.correlationKeys ? fromTyped(body.correlationKeys) : undefined,
        variables: { ...fromTyped(body.processVariablesLocal ?? undefined), ...fromTyped(body.processVariables ?? undefined) },
        all: body.all,
        audit,
      }),
      shape,
      (previous) => correlationResults(engine.auditLog, previous),
    );
  });
  return router;
}
