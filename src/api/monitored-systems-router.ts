import { Router } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../engine/audit-log.js';
import { notFound } from '../errors.js';
import type { MonitoredSystemStore } from '../store/monitored-systems.js';
import { ServiceNameSchema } from '../telemetry/service-name.js';
import { audited, auditEntry } from './audit.js';
import { allow } from './auth.js';

export const ListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

/**
 * The systems released features handed to the evolution cycle, mounted at
 * /api/entropy/monitored (roles owner and operator; removing one is for owners):
 * entropy.collect measures these first.
 */
export function monitoredSystemsRouter(store: MonitoredSystemStore, auditLog: AuditLog): Router {
  const router = Router();

  router.get('/', async (req, res) => {
    const rows = await store.list(ListQuery.parse(req.query));
    res.json(
      rows.map((row) => ({
        serviceName: row.service_name,
        feature: row.feature,
        commit: row.commit,
        instanceId: row.instance_id,
        since: new Date(row.since).toISOString(),
        registeredAt: new Date(row.registered_at).toISOString(),
      })),
    );
  });

  router.delete('/:serviceName', allow('owner'), async (req, res) => {
    const serviceName = ServiceNameSchema.parse(req.params.serviceName);
    const entry = auditEntry(req, 'monitored-system.unregister', serviceName);
    await audited(auditLog, entry, async () => {
      if (!(await store.unregister(serviceName, entry))) throw notFound('monitored system', serviceName);
    });
    res.status(204).end();
  });

  return router;
}
