import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { countDueJobs } from '../../src/store/gauges.js';
import { ServiceTaskRegistry } from '../../service-tasks/registry.js';
import { sequence } from '../support/bpmn.js';
import { TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

function registry() {
  return new ServiceTaskRegistry()
    .register({
      topic: 'metrics.ok',
      description: 'succeeds',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}),
      handler: async () => ({}),
    })
    .register({
      topic: 'metrics.broken',
      description: 'fails',
      mode: 'inline',
      input: z.object({}).passthrough(),
      output: z.object({}),
      handler: async () => {
        throw new Error('broken');
      },
    });
}

/** The value of one sample line, e.g. `name{label="x"} 3`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(',');
    if (wanted.every((label) => present.includes(label))) return Number(match[3]);
  }
  return undefined;
}

describe('telemetry: /metrics', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp({ registry: registry() });
    base = `http://127.0.0.1:${await app.listen()}`;
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when instances complete, wait, fail a handler and fire a timer, then Prometheus sees counts, gauges, activity durations and job lag', async () => {
    // Given processes that complete, wait at a user task, raise an incident, and wait on a timer
    const service = (topic: string) => `<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="${topic}" />`;
    await app.engine.deploy([{ name: 'm_ok.bpmn', xml: sequence('m_ok', [{ id: 'work', xml: service('metrics.ok') }]) }]);
    await app.engine.deploy([{ name: 'm_broken.bpmn', xml: sequence('m_broken', [{ id: 'work', xml: service('metrics.broken') }]) }]);
    await app.engine.deploy([{ name: 'm_wait.bpmn', xml: sequence('m_wait', [{ id: 'review', xml: '<bpmn:userTask id="review" />' }]) }]);
    const timer =
      '<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>';
    await app.engine.deploy([{ name: 'm_timer.bpmn', xml: sequence('m_timer', [{ id: 'pause', xml: timer }]) }]);

    // When they run
    for (let i = 0; i < 3; i++) await app.engine.start({ processKey: 'm_ok' });
    await app.engine.start({ processKey: 'm_broken' });
    await app.engine.start({ processKey: 'm_wait' });
    await app.engine.start({ processKey: 'm_wait' });
    const timed = await app.engine.start({ processKey: 'm_timer' });
    await eventually(async () => (await app.engine.getInstance(timed.id)).status === 'completed');
    await app.telemetry.flush();

    // Then /metrics (an operator's token) reports them
    const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(sample(text, 'regenflow_instances_started_total', { process_key: 'm_ok' })).toBe(3);
    expect(sample(text, 'regenflow_instances_completed_total', { process_key: 'm_ok' })).toBe(3);
    expect(sample(text, 'regenflow_instances_completed_total', { process_key: 'm_timer' })).toBe(1);
    expect(text).toContain('# TYPE regenflow_instances_failed_total counter');
    expect(sample(text, 'regenflow_active_instances', { process_key: 'm_wait' })).toBe(2);
    expect(sample(text, 'regenflow_active_instances', { process_key: 'm_broken' })).toBe(1);
    expect(sample(text, 'regenflow_open_incidents', { process_key: 'm_broken' })).toBe(1);
    expect(sample(text, 'regenflow_activity_duration_seconds_count', { process_key: 'm_ok', activity_id: 'work', status: 'completed' })).toBe(3);
    expect(sample(text, 'regenflow_activity_duration_seconds_count', { process_key: 'm_broken', activity_id: 'work', status: 'failed' })).toBe(1);
    // the timer waited 0.1 s: its span is in a bucket above 0.01 s and not in the lowest ones
    expect(sample(text, 'regenflow_activity_duration_seconds_bucket', { process_key: 'm_timer', activity_id: 'pause', le: '0.01' })).toBe(0);
    expect(sample(text, 'regenflow_activity_duration_seconds_bucket', { process_key: 'm_timer', activity_id: 'pause', le: '1' })).toBe(1);
    expect(sample(text, 'regenflow_job_fire_delay_seconds_count', { kind: 'timer' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'regenflow_job_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'regenflow_spans_dropped_total')).toBe(0);
  });

  it('when work piles up (a topic no worker serves, a job a dead node holds, alert work backing off or given up), then the queues\' depth and age show it', async () => {
    // Given two instances waiting at a topic nobody serves
    const orphan = '<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="metrics.nobody" />';
    await app.engine.deploy([{ name: 'm_orphan.bpmn', xml: sequence('m_orphan', [{ id: 'work', xml: orphan }]) }]);
    await app.engine.start({ processKey: 'm_orphan' });
    await app.engine.start({ processKey: 'm_orphan' });
    // And alert work a webhook stored: one backing off after a failed start (its incident process was briefly missing), one
    // that gave up after its attempts, stored a while ago
    const knex = app.database.knex;
    const stored = async (fingerprint: string, queue: Record<string, unknown>) => {
      const id = randomUUID();
      await knex('alerts').insert({ id, fingerprint, starts_at: new Date(), status: 'firing', source: 'generic', labels: { alertname: 'DiskFull' } });
      await knex('alert_queue').insert({ alert_id: id, fingerprint, kind: 'firing', payload: {}, created_at: knex.raw("now() - interval '90 seconds'"), ...queue });
    };
    await stored('metrics-waiting', { attempts: 1, available_at: knex.raw("now() + interval '1 hour'"), last_error: 'process missing' });
    await stored('metrics-failed', { attempts: 10, failed_at: knex.raw('now()'), last_error: 'process missing' });
    // And a timer job due a minute ago, claimed by a node that died (its lease runs another hour)
    const dueBefore = await countDueJobs(knex);
    await knex('jobs').insert({ id: randomUUID(), kind: 'timer', activity_id: 'pause', timer_key: 'metrics-held', due_at: knex.raw("now() - interval '1 minute'"), locked_by: 'dead-node', locked_until: knex.raw("now() + interval '1 hour'") });

    // Then /metrics says how many wait, and for how long
    const scrape = async () => (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } })).text();
    const text = await scrape();
    expect(sample(text, 'regenflow_external_tasks_available', { topic: 'metrics.nobody' })).toBe(2);
    expect(sample(text, 'regenflow_jobs_due')).toBe(dueBefore + 1);
    expect(sample(text, 'regenflow_alert_queue_depth', { state: 'waiting' })).toBe(1);
    expect(sample(text, 'regenflow_alert_queue_depth', { state: 'failed' })).toBe(1);
    expect(sample(text, 'regenflow_alert_queue_oldest_seconds')).toBeGreaterThanOrEqual(90);
  });

  it('when a token may not read metrics, then /metrics answers 403', async () => {
    const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKENS.worker}` } });
    expect(response.status).toBe(403);
  });
});
