import type { Knex } from 'knex';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkflowEngine } from '../engine/workflow-engine.js';
import { countActiveInstances, countAvailableExternalTasks, countDueJobs, countOpenIncidents, oldestDueJob } from '../store/gauges.js';
import type { SpanRecord } from '../store/spans.js';
import type { Telemetry } from './index.js';

/**
 * Prometheus metrics. Counters and histograms follow the engine's events on this node;
 * gauges are read from the database at scrape time, so every node reports the same totals.
 */
export function createMetrics(engine: WorkflowEngine, knex: Knex, telemetry?: Telemetry): Registry {
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
  const completed = new Counter({
    name: 'regenflow_instances_completed_total',
    help: 'Process instances that completed on this node',
    labelNames: ['process_key'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'regenflow_instances_failed_total',
    help: 'Process instances that failed on this node',
    labelNames: ['process_key'],
    registers: [registry],
  });
  const transitions = new Histogram({
    name: 'regenflow_transition_duration_seconds',
    help: 'Time of one committed transition (load, run, commit)',
    labelNames: ['process_key'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const activities = new Histogram({
    name: 'regenflow_activity_duration_seconds',
    help: 'Time from an activity start to its end (across waits and nodes), by process, activity and outcome',
    labelNames: ['process_key', 'activity_id', 'activity_type', 'status'],
    buckets: [0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 86_400, 604_800],
    registers: [registry],
  });
  const jobLag = new Histogram({
    name: 'regenflow_job_fire_delay_seconds',
    help: 'How late a job fired on this node: claimed time minus due time, by kind (timer, timer-start, call-completed)',
    labelNames: ['kind'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  engine.on('instance.started', ({ processKey }: { processKey: string }) => started.inc({ process_key: processKey }));
  engine.on('instance.ended', ({ processKey, status }: { processKey: string; status: string }) => {
    ended.inc({ process_key: processKey, status });
    if (status === 'completed') completed.inc({ process_key: processKey });
    if (status === 'failed') failed.inc({ process_key: processKey });
  });
  engine.on('transition.committed', ({ processKey, seconds }: { processKey: string; seconds: number }) =>
    transitions.observe({ process_key: processKey }, seconds),
  );
  engine.on('job.fired', ({ kind, dueAt, firedAt }: { kind: string; dueAt: Date; firedAt: Date }) =>
    jobLag.observe({ kind }, Math.max(0, (firedAt.getTime() - dueAt.getTime()) / 1000)),
  );

  if (telemetry) {
    telemetry.pipeline.onWritten((spans: readonly SpanRecord[]) => {
      for (const span of spans) {
        if (!span.activityId) continue;
        activities.observe(
          {
            process_key: span.processKey ?? '',
            activity_id: span.activityId,
            activity_type: String(span.attributes['bpmn.activity.type'] ?? ''),
            status: String(span.attributes.status ?? ''),
          },
          Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e9,
        );
      }
    });
    const stats = telemetry.pipeline.stats;
    new Gauge({
      name: 'regenflow_spans_queued',
      help: 'Engine spans waiting to be written to the span store',
      registers: [registry],
      collect() {
        this.set(stats.queued);
      },
    });
    new Counter({
      name: 'regenflow_spans_dropped_total',
      help: 'Engine spans dropped because the span queue was full or a span store write failed',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats.dropped + stats.failed);
      },
    });
    new Counter({
      name: 'regenflow_spans_not_exported_total',
      help: 'Engine spans in the span store that OTLP export could not deliver',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats.notExported);
      },
    });
  }

  new Gauge({
    name: 'regenflow_active_instances',
    help: 'Process instances that are active, by process',
    labelNames: ['process_key'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await countActiveInstances(knex)) this.set({ process_key: row.processKey }, row.count);
    },
  });
  new Gauge({
    name: 'regenflow_open_incidents',
    help: 'Incidents not yet resolved, by process',
    labelNames: ['process_key'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await countOpenIncidents(knex)) this.set({ process_key: row.processKey }, row.count);
    },
  });
  new Gauge({
    name: 'regenflow_jobs_due',
    help: 'Jobs (timers, timer starts, call hand-backs) that are due and not yet run: the job executor\'s backlog',
    registers: [registry],
    async collect() {
      this.set(await countDueJobs(knex));
    },
  });
  new Gauge({
    name: 'regenflow_external_tasks_available',
    help: 'External tasks a worker may fetch now (unlocked, with retries left), by topic: the workers\' backlog',
    labelNames: ['topic'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await countAvailableExternalTasks(knex)) this.set({ topic: row.topic }, row.count);
    },
  });
  new Gauge({
    name: 'regenflow_job_lag_seconds',
    help: 'How long the oldest due job has been waiting to run (0 when none is due)',
    registers: [registry],
    async collect() {
      const due = await oldestDueJob(knex);
      this.set(due ? Math.max(0, (Date.now() - due.getTime()) / 1000) : 0);
    },
  });
  return registry;
}

/** A gauge a product module reads at scrape time (from the database, so that every node reports the same). */
export interface ScrapedGauge {
  /** Prometheus name, `regenflow_` first. */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  read(): Promise<Array<{ labels?: Record<string, string>; value: number }>>;
}

/**
 * One read shared by gauges of the same scrape (a queue's depth and its oldest age from one
 * query): prom-client collects a scrape's metrics at once, so their reads overlap, and a read
 * still running is handed out again. Once it settles the next call reads afresh: never stale.
 */
export function sharedPerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () =>
    (running ??= read().finally(() => {
      running = null;
    }));
}

/** Adds the product modules' gauges to the /metrics registry. */
export function registerScrapedGauges(registry: Registry, gauges: readonly ScrapedGauge[]): void {
  for (const gauge of gauges) {
    new Gauge({
      name: gauge.name,
      help: gauge.help,
      labelNames: [...(gauge.labelNames ?? [])],
      registers: [registry],
      async collect() {
        this.reset();
        for (const { labels, value } of await gauge.read()) {
          if (labels) this.set(labels, value);
          else this.set(value);
        }
      },
    });
  }
}
