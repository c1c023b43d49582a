import { Router } from 'express';
import { z } from 'zod';
import type { AlertIntake, IntakeResult } from '../alerts/alert-intake.js';
import { AlertmanagerPayload, fromAlertmanager, fromGeneric, GenericPayload } from '../alerts/payloads.js';
import type { AlertRow, listAlerts } from '../store/alerts.js';
import { allow } from './auth.js';
import { sendProblem } from './problem.js';

export const AlertQuery = z
  .object({
    status: z.enum(['firing', 'resolved']).optional(),
    fingerprint: z.string().min(1).max(200).optional(),
    instanceId: z.string().regex(/^[0-9a-f-]{36}$/i, 'must be an id').optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

/**
 * Alert webhooks (role `alert`) and the alert list (owner, operator). A notification is
 * answered once its alerts are stored (202 while their incident work is queued). Alertmanager
 * retries a notification on 5xx: a 5xx goes out only when nothing was stored, so a retry
 * never meets half of its first attempt.
 */
/** The alert list the router may read (src/modules/incident binds it to the store). */
export type AlertList = (filter: Parameters<typeof listAlerts>[1]) => ReturnType<typeof listAlerts>;

export function alertsRouter(list: AlertList, intake: AlertIntake): Router {
  const router = Router();

  router.post('/alertmanager', allow('alert'), async (req, res) => {
    const batch = fromAlertmanager(AlertmanagerPayload.parse(req.body));
    answer(res, await intake.receive(batch, req.actor));
  });

  router.post('/', allow('alert'), async (req, res) => {
    const batch = fromGeneric(GenericPayload.parse(req.body));
    answer(res, await intake.receive(batch, req.actor));
  });

  router.get('/', allow('owner', 'operator'), async (req, res) => {
    const filter = AlertQuery.parse(req.query);
    res.json((await list(filter)).map(describeAlert));
  });

  return router;
}

function answer(res: import('express').Response, result: IntakeResult): void {
  if (!result.storedAny) {
    const reasons = [...new Set(result.results.map((alert) => alert.error).filter(Boolean))].join('; ');
    res.setHeader('Retry-After', '10');
    return sendProblem(res, 503, 'Service Unavailable', `no alert of the notification could be processed, nothing was stored: ${reasons}`, {
      code: 'ALERTS_NOT_PROCESSED',
      results: result.results,
    });
  }
  // 202: stored, the start or correlation still queued (GET /api/alerts shows what it became).
  res.status(result.queuedAny ? 202 : 200).json({ results: result.results, truncatedAlerts: result.truncatedAlerts });
}

export function describeAlert(row: AlertRow) {
  return {
    fingerprint: row.fingerprint,
    status: row.status,
    labels: row.labels,
    annotations: row.annotations,
    startsAt: new Date(row.starts_at).toISOString(),
    endsAt: row.ends_at ? new Date(row.ends_at).toISOString() : null,
    instanceId: row.instance_id,
    receivedAt: new Date(row.received_at).toISOString(),
    source: row.source,
    action: row.action,
    resolvedAt: row.resolved_at ? new Date(row.resolved_at).toISOString() : null,
  };
}
