import type { Knex } from 'knex';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkflowEngine } from '../engine/workflow-engine.js';

type CountRow = { process_key: string; n: string | number };

/**
 * Prometheus metrics. Counters follow the engine's events on this node; gauges are read
 * from the database at scrape time, so every node reports the same totals.
 */
export function createMetrics(engine: WorkflowEngine, knex: Knex): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'regenflow_node_' });

  const started = new Counter({
    name: 'regenflow_instances_started_total',
    help: 'Process instances started on this node',
    labelNames: ['process_key'],
    registers: [registry],
  });
  const ended = new Counter({
    name: 'regenflow_instances_ended_total',
    help: 'Process instances that ended on this node, by status (completed, cancelled, failed)',
    labelNames: ['process_key', 'status'],
    registers: [registry],
  });
  const transitions = new Histogram({
    name: 'regenflow_transition_duration_seconds',
    help: 'Time of one committed transition (load, run, commit)',
    labelNames: ['process_key'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  engine.on('instance.started', ({ processKey }: { processKey: string }) => started.inc({ process_key: processKey }));
  engine.on('instance.ended', ({ processKey, status }: { processKey: string; status: string }) =>
    ended.inc({ process_key: processKey, status }),
  );
  engine.on('transition.committed', ({ processKey, seconds }: { processKey: string; seconds: number }) =>
    transitions.observe({ process_key: processKey }, seconds),
  );

  new Gauge({
    name: 'regenflow_active_instances',
    help: 'Process instances that are active, by process',
    labelNames: ['process_key'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows: CountRow[] = await knex('process_instances').where({ status: 'active' }).groupBy('process_key').select('process_key').count({ n: '*' });
      for (const row of rows) this.set({ process_key: row.process_key }, Number(row.n));
    },
  });
  new Gauge({
    name: 'regenflow_open_incidents',
    help: 'Incidents not yet resolved, by process',
    labelNames: ['process_key'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows: CountRow[] = await knex('incidents').whereNull('resolved_at').groupBy('process_key').select('process_key').count({ n: '*' });
      for (const row of rows) this.set({ process_key: row.process_key }, Number(row.n));
    },
  });
  new Gauge({
    name: 'regenflow_job_lag_seconds',
    help: 'How long the oldest due job has been waiting to run (0 when none is due)',
    registers: [registry],
    async collect() {
      const row = await knex('jobs').where('retries', '>', 0).where('due_at', '<=', new Date()).min({ due: 'due_at' }).first();
      this.set(row?.due ? Math.max(0, (Date.now() - new Date(row.due).getTime()) / 1000) : 0);
    },
  });
  return registry;
}
