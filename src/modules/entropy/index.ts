import { z } from 'zod';
import type { EngineControl, EntropyStore } from '../../../service-tasks/entropy/ports.js';
import { manualRollbackTopic } from '../../../service-tasks/entropy/manual-rollback-topic.js';
import { loadRollbackHooks } from '../../../service-tasks/entropy/rollback-hooks.js';
import { entropyTopics } from '../../../service-tasks/entropy/topics.js';
import { entropyRouter } from '../../api/entropy-router.js';
import { ListQuery as MonitoredQuery, monitoredSystemsRouter } from '../../api/monitored-systems-router.js';
import type { RouteDoc } from '../../api/route-spec.js';
import { createEngineControl } from '../../engine/engine-control.js';
import { createEntropyStore } from '../../store/entropy-store.js';
import { createMonitoredSystemStore, type MonitoredSystemStore } from '../../store/monitored-systems.js';
import { defineModule } from '../product-module.js';

const Json = z.record(z.string(), z.unknown());
const Rows = z.array(Json);
const System = z.string().min(1).max(200);

export interface Entropy {
  /** Spans, measurements and learned outcomes, as the entropy functions read them. */
  readonly store: EntropyStore;
  /** Deploys and self-healing actions on this engine. */
  readonly engineControl: EngineControl;
  /** Systems released features handed to the evolution cycle. */
  readonly monitoredSystems: MonitoredSystemStore;
}

/**
 * Entropy: health, drift and entropy score of a system's spans and metrics, control charts,
 * strategies ranked by learned outcomes; the entropy.* topics of the DMEDI and evolution
 * processes and the dashboard's API.
 */
export const entropyModule = defineModule<Entropy>({
  name: 'entropy',
  tables: ['entropy_measurements', 'monitored_systems', 'regeneration_cycles', 'strategy_outcomes'],
  init({ config, knex, engine }) {
    const service: Entropy = { store: createEntropyStore(knex), engineControl: createEngineControl(() => engine), monitoredSystems: createMonitoredSystemStore(knex) };
    const viewer = ['owner', 'operator'] as const;
    return {
      service,
      topics: () => [
        ...entropyTopics({ entropyStore: service.store, engineControl: service.engineControl, monitoredSystems: service.monitoredSystems, rollbackHooks: loadRollbackHooks(config.REGENFLOW_ROLLBACK_HOOKS) }),
        manualRollbackTopic({ entropyStore: service.store }),
      ],
      routes: [
        { path: '/api/entropy', roles: [...viewer], router: entropyRouter(service.store), docs: ENTROPY_ROUTES },
        { path: '/api/entropy/monitored', roles: [...viewer], router: monitoredSystemsRouter(service.monitoredSystems, engine.auditLog), docs: MONITORED_ROUTES },
      ],
    };
  },
});

const ENTROPY_ROUTES: RouteDoc[] = [
  { method: 'get', path: '/api/entropy/systems', tag: 'entropy', summary: 'Systems with spans or measurements, with their latest entropy measurement.', roles: ['owner', 'operator'], responses: { 200: { description: 'systems', schema: Rows } } },
  { method: 'get', path: '/api/entropy/measurements', tag: 'entropy', summary: "A system's entropy measurements, newest first (?system=&limit=).", roles: ['owner', 'operator'], query: z.object({ system: System, limit: z.coerce.number().int().min(1).max(1000).default(50) }), responses: { 200: { description: 'measurements', schema: Rows } } },
  {
    method: 'get',
    path: '/api/entropy/control-charts',
    tag: 'entropy',
    summary: "A control chart of one metric of a system's spans: points per bucket, centre line, 1/2/3-sigma limits and Western Electric rule violations.",
    roles: ['owner', 'operator'],
    query: z.object({
      system: System,
      metric: z.enum(['latency_p95', 'error_rate', 'throughput']),
      windowSeconds: z.coerce.number().int().min(60).optional(),
      buckets: z.coerce.number().int().min(8).max(500).optional(),
      limitsFrom: z.coerce.number().int().min(2).optional(),
    }),
    responses: { 200: { description: 'the chart', schema: Json } },
  },
  { method: 'post', path: '/api/entropy/measure', tag: 'entropy', summary: 'Measure a system now (health, drift, entropy score and level) and store the measurement.', roles: ['owner', 'operator'], body: z.object({ system: System, windowSeconds: z.number().int().optional(), baselineSeconds: z.number().int().optional(), validationErrors: z.number().int().optional() }), responses: { 201: { description: 'the measurement', schema: Json } } },
];

const MONITORED_ROUTES: RouteDoc[] = [
  { method: 'get', path: '/api/entropy/monitored', tag: 'entropy', summary: 'Systems released features handed to the evolution cycle (entropy.collect measures these first).', roles: ['owner', 'operator'], query: MonitoredQuery, responses: { 200: { description: 'monitored systems', schema: Rows } } },
  { method: 'delete', path: '/api/entropy/monitored/:serviceName', tag: 'entropy', summary: 'Retire a monitored system (audited).', roles: ['owner'], params: z.object({ serviceName: z.string() }), responses: { 204: { description: 'retired' }, 404: { description: 'no such system' } } },
];
