import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { WorkflowEngine } from '../../engine/workflow-engine.js';
import { allow } from '../auth.js';
import { auditEntry } from '../audit.js';
import { respondIdempotently } from '../idempotency.js';
import { fromTyped, TypedVariablesSchema } from './typed-variables.js';

const SignalBody = z.object({
  name: z.string().min(1).max(255),
  executionId: z.string().nullish(),
  variables: TypedVariablesSchema.nullish(),
  tenantId: z.null().optional(),
  withoutTenantId: z.boolean().optional(),
});

/** `POST /engine-rest/signal`: broadcast to every waiting catch event and signal start event; 204. */
export function signalRouter(engine: WorkflowEngine): Router {
  const router = Router();
  router.post('/', allow('owner'), async (req, res) => {
    const body = SignalBody.parse(req.body ?? {});
    if (body.executionId) throw new AppError('VALIDATION_FAILED', 'signalling one execution (executionId) is not supported: signals are broadcast');
    await respondIdempotently(
      req,
      res,
      engine.auditLog,
      auditEntry(req, 'signal.broadcast', body.name, { via: 'engine-rest' }),
      (audit) => engine.broadcastSignal(body.name, fromTyped(body.variables ?? undefined), audit),
      () => ({ status: 204 }),
      async () => undefined,
    );
  });
  return router;
}
