import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { alertmanagerFixture, occurrence } from '../support/alert-fixtures.js';
import { httpClient, repositoryRoot, TEST_TOKENS, TEST_TOKENS_SETTING } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';
import { fingerprintOf as fingerprintOfLabels } from '../../src/alerts/payloads.js';

type Call = ReturnType<typeof httpClient>;

async function deployIncidentProcess(call: Call) {
  const xml = await readFile(join(repositoryRoot, 'processes', 'incident-response.bpmn'), 'utf8');
  expect((await call('POST', '/api/deployments', { name: 'incident-response.bpmn', xml })).status).toBe(201);
  // Its automation policy is a decision table the process calls.
  const policy = await readFile(join(repositoryRoot, 'processes', 'incident-automation-level.dmn'), 'utf8');
  expect((await call('POST', '/api/deployments', { name: 'incident-automation-level.dmn', xml: policy })).status).toBe(201);
}

async function detail(call: Call, id: string) {
  return (await call('GET', `/api/process-instances/${id}`)).body as Record<string, any>;
}

async function waitingFor(call: Call, id: string, activityId: string) {
  return eventually(async () => {
    const current = await detail(call, id);
    return current.activeActivities?.includes(activityId) ? current : undefined;
  });
}

async function fetchTask(worker: Call, topicName: string) {
  return eventually(async () => {
    const tasks = (await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'k8s-worker', maxTasks: 1, topics: [{ topicName, lockDuration: 30_000 }] })).body;
    return tasks?.[0] as Record<string, any> | undefined;
  });
}

const genericAlert = (labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({ status: 'firing', labels, annotations: { summary: 'test' }, ...extra });

/** The alert webhooks: input checks, retries, the generic source, remote remediations, timers. */
describe('alert intake', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Call;
  let operator: Call;
  let owner: Call;
  let alerts: Call;
  let worker: Call;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp({
      builtIns: true,
      // Answers wait for the queued starts and correlations, so each result says what became of its alert.
      env: { REGENFLOW_INCIDENT_VALIDATION_TIMEOUT: 'PT1S', REGENFLOW_INCIDENT_REVIEW_ESCALATION: 'PT0.5S', REGENFLOW_ALERT_ANSWER_WAIT_MS: '30000' },
    });
    base = `http://127.0.0.1:${await app.listen()}`;
    admin = httpClient(base);
    operator = httpClient(base, TEST_TOKENS.operator);
    owner = httpClient(base, TEST_TOKENS.owner);
    alerts = httpClient(base, TEST_TOKENS.alert);
    worker = httpClient(base, TEST_TOKENS.worker);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when the incident process is not deployed, then the answer is 503 and nothing is stored, so the retry starts over', async () => {
    const refused = await alerts('POST', '/api/alerts/alertmanager', alertmanagerFixture('firing'));
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'ALERTS_NOT_PROCESSED', detail: expect.stringContaining("process 'incident-response' is not deployed") });
    expect((await operator('GET', '/api/alerts')).body).toEqual([]);

    await deployIncidentProcess(admin);
    const retried = await alerts('POST', '/api/alerts/alertmanager', alertmanagerFixture('firing'));
    expect(retried.status).toBe(200);
    expect(retried.body.results[0]).toMatchObject({ action: 'started' });
  });

  it('when a payload is malformed, of another version, or sent with the wrong token, then it is a 4xx problem and nothing is stored', async () => {
    const before = (await operator('GET', '/api/alerts')).body.length;
    const version3 = await alerts('POST', '/api/alerts/alertmanager', { ...alertmanagerFixture('firing'), version: '3' });
    expect(version3).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ path: 'version' }] } });
    const badTime = alertmanagerFixture('firing');
    badTime.alerts[0]!.startsAt = 'yesterday';
    expect((await alerts('POST', '/api/alerts/alertmanager', badTime)).body).toMatchObject({ status: 400, errors: [{ path: 'alerts.0.startsAt' }] });
    const noAlerts = await alerts('POST', '/api/alerts/alertmanager', { ...alertmanagerFixture('firing'), alerts: [] });
    expect(noAlerts.status).toBe(400);
    const raw = await fetch(`${base}/api/alerts/alertmanager`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKENS.alert}`, 'content-type': 'application/json' }, body: '{"version":' });
    expect(raw.status).toBe(400);
    expect(raw.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await worker('POST', '/api/alerts/alertmanager', alertmanagerFixture('firing'))).status).toBe(403);
    expect((await alerts('GET', '/api/alerts')).status).toBe(403);
    expect((await httpClient(base, 'not-a-valid-token')('POST', '/api/alerts', genericAlert({ alertname: 'X' }))).status).toBe(401);
    const misspelt = await alerts('POST', '/api/alerts', { status: 'firing', lables: { alertname: 'X' } });
    expect(misspelt.status).toBe(400);
    const noName = await alerts('POST', '/api/alerts', genericAlert({ service: 'x' }));
    expect(noName.body).toMatchObject({ status: 400, detail: expect.stringContaining('labels.alertname is required') });
    expect((await operator('GET', '/api/alerts')).body).toHaveLength(before);
  });

  it('when Alertmanager adds fields regenflow does not know, then they are ignored', async () => {
    const payload = occurrence('resolved', '2026-11-24T19:46:50.68Z') as Record<string, any>;
    payload.someFutureField = { nested: true };
    payload.alerts[0].anotherNewField = 'x';
    const response = await alerts('POST', '/api/alerts/alertmanager', payload);
    expect(response.status).toBe(200);
    expect(response.body.results[0]).toMatchObject({ status: 'resolved' });
  });

  it('when a generic source posts an alert without fingerprint or startsAt, then repeats are recognised until it resolves', async () => {
    const labels = { alertname: 'DiskFull', service: 'ledger', severity: 'warning' };
    const first = await alerts('POST', '/api/alerts', genericAlert(labels));
    expect(first.body.results[0]).toMatchObject({ action: 'started', fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) });
    const repeat = await alerts('POST', '/api/alerts', { source: 'nagios', alerts: [genericAlert(labels)] });
    expect(repeat.body.results[0]).toMatchObject({ action: 'duplicate', instanceId: first.body.results[0].instanceId });
    const id = first.body.results[0].instanceId as string;
    await waitingFor(operator, id, 'manual_review');
    expect((await detail(operator, id)).variables).toMatchObject({ alertSource: 'generic', labels, fingerprint: first.body.results[0].fingerprint });

    // Nobody acknowledges the review: the non-interrupting timer escalates, the review stays open.
    const escalated = await eventually(async () => {
      const log = (await operator('GET', `/api/patterns/decisions?instanceId=${id}`)).body.decisions as Array<{ step: string; decision: string }>;
      return log.find((entry) => entry.step === 'escalate');
    });
    expect(escalated).toMatchObject({ decision: 'review-unacknowledged' });
    expect((await detail(operator, id)).activeActivities).toContain('manual_review');

    const resolved = await alerts('POST', '/api/alerts', { ...genericAlert(labels), status: 'resolved' });
    expect(resolved.body.results[0]).toMatchObject({ action: 'stored', instanceId: id });
    const again = await alerts('POST', '/api/alerts', { ...genericAlert(labels), status: 'resolved' });
    expect(again.body.results[0]).toMatchObject({ action: 'duplicate' });
  });

  it('when an alert starts an incident, then the audit log names the alert token as the starter', async () => {
    // Given a new alert from a generic source
    const labels = { alertname: 'QueueBacklog', service: 'mailer', severity: 'warning' };
    const started = await alerts('POST', '/api/alerts', genericAlert(labels));
    const instanceId = started.body.results[0].instanceId as string;

    // When the incident waits for its review
    await waitingFor(operator, instanceId, 'manual_review');

    // Then the start is audited with the alert token as actor, in the start's own transaction
    const entries = await app.database.knex('audit_entries').where({ instance_id: instanceId }).orderBy('at');
    expect(entries[0]).toMatchObject({ action: 'alert.start', target: 'incident-response', result: 'ok', actor: expect.stringMatching(/^alert:[0-9a-f]{12}$/) });
    expect(entries[0].details).toMatchObject({ fingerprint: started.body.results[0].fingerprint, alertname: 'QueueBacklog' });
  });

  it('when someone claimed the manual review, then its escalation timer does not escalate', async () => {
    // Started by the message directly, with a longer review timer than the app's PT0.5S so the claim comes first.
    const [started] = (
      await owner('POST', '/api/messages', {
        messageName: 'alert.firing',
        businessKey: 'claimed-review',
        variables: { fingerprint: 'claimed-review', labels: { alertname: 'QueueBacklog', service: 'mailer' }, startsAt: '2026-11-25T08:00:00Z', reviewEscalationAfter: 'PT2S' },
      })
    ).body;
    const review = await eventually(async () => (await operator('GET', `/api/tasks?instanceId=${started.instanceId}`)).body[0]);
    expect((await operator('POST', `/api/tasks/${review.id}/claim`, { userId: 'ana' })).status).toBe(204);
    const escalation = await eventually(async () => {
      const log = (await operator('GET', `/api/patterns/decisions?instanceId=${started.instanceId}`)).body.decisions as Array<Record<string, any>>;
      return log.find((entry) => entry.step === 'escalate');
    });
    expect(escalation).toMatchObject({ decision: 'acknowledged', details: { assignee: 'ana' } });
    // The decision is logged inside the timer's transition; its variables come with the commit.
    await eventually(async () => (await detail(operator, started.instanceId)).variables.escalated === false);
  });

  it('when a remote remediation does not fix the alert in time, then the remote rollback runs and the failure is learned', async () => {
    // Given a pattern, created over REST, whose fix is done by a remote worker and has always worked
    const created = await owner('POST', '/api/patterns', {
      match: { alertname: 'PodCrashLooping', service: 'search', severity: 'critical' },
      remediation: { topic: 'kubernetes.rollout-restart', params: { deployment: 'search' } },
      description: 'restart the deployment',
      successes: 20,
    });
    expect(created.status).toBe(201);
    expect(created.body.confidence).toMatchObject({ successes: 20, failures: 0, formula: '(1 + 20) / (1 + 20 + 1 + 0) = 0.955' });
    const fired = await alerts('POST', '/api/alerts', genericAlert({ alertname: 'PodCrashLooping', service: 'search', severity: 'critical' }, { startsAt: '2026-11-25T09:00:00Z' }));
    const id = fired.body.results[0].instanceId as string;

    // The remote worker gets the remediation to run, and hands back how to undo it.
    const task = await fetchTask(worker, 'remediation.remote');
    expect(task).toMatchObject({ processInstanceId: id, variables: { remediation: { type: 'Json' } } });
    expect(JSON.parse(task.variables.remediation.value)).toEqual({ topic: 'kubernetes.rollout-restart', params: { deployment: 'search' } });
    const completed = await worker('POST', `/engine-rest/external-task/${task.id}/complete`, {
      workerId: 'k8s-worker',
      variables: { remediationUndo: { value: JSON.stringify({ revision: 41 }), type: 'Json' } },
    });
    expect(completed.status).toBe(204);

    // When the alert does not resolve within PT1S, the remote rollback is asked for.
    const rollback = await fetchTask(worker, 'remediation.remote.rollback');
    expect(rollback.processInstanceId).toBe(id);
    await worker('POST', `/engine-rest/external-task/${rollback.id}/complete`, { workerId: 'k8s-worker', variables: {} });
    const escalated = await waitingFor(operator, id, 'investigate');
    expect(escalated.variables).toMatchObject({ outcome: 'failure', remediationUndo: { revision: 41 } });
    const pattern = (await operator('GET', `/api/patterns/${created.body.id}`)).body;
    expect(pattern).toMatchObject({ successes: 20, failures: 1, outcomes: [expect.objectContaining({ instanceId: id, result: 'failure' })] });
    expect(pattern.confidence.value).toBeLessThan(created.body.confidence.value);
    const log = (await operator('GET', `/api/patterns/decisions?instanceId=${id}`)).body.decisions;
    expect(log.map((entry: { step: string; decision: string }) => `${entry.step}:${entry.decision}`)).toEqual([
      'analyse:auto',
      'validate:failure',
      'learn:failure counted',
      'escalate:remediation-failed',
    ]);
    expect(log[1].details).toEqual({ validation: 'timeout' });

    // The lead closes the escalation: the next occurrence of the alert starts a new incident.
    const tasks = (await operator('GET', `/api/tasks?instanceId=${id}`)).body;
    await operator('POST', `/api/tasks/${tasks[0].id}/complete`, { variables: {} });
    expect((await detail(operator, id)).status).toBe('completed');
  });

  it('when the alert resolves while the remote fix still runs, then validation succeeds without waiting', async () => {
    const labels = { alertname: 'PodCrashLooping', service: 'search', severity: 'critical' };
    const fired = await alerts('POST', '/api/alerts', genericAlert(labels, { startsAt: '2026-11-25T10:00:00Z' }));
    expect(fired.body.results[0]).toMatchObject({ action: 'started' });
    const id = fired.body.results[0].instanceId as string;
    const task = await fetchTask(worker, 'remediation.remote');
    const resolved = await alerts('POST', '/api/alerts', { ...genericAlert(labels, { startsAt: '2026-11-25T10:00:00Z', endsAt: '2026-11-25T10:03:00Z' }), status: 'resolved' });
    expect(resolved.body.results[0]).toMatchObject({ action: 'stored', instanceId: id });
    await worker('POST', `/engine-rest/external-task/${task.id}/complete`, { workerId: 'k8s-worker', variables: {} });
    expect(await detail(operator, id)).toMatchObject({ status: 'completed', variables: { outcome: 'success', alertResolved: true } });
  });

  it('when the service has recent spans, then the analysis carries its error rate and the failing operations', async () => {
    // Given spans of the payments service in the span store (as OTLP ingest writes them)
    const now = Date.now();
    const span = (index: number, name: string, error: boolean) => ({
      trace_id: `${index}`.padStart(32, '0'),
      span_id: `${index}`.padStart(16, '0'),
      service_name: 'payments',
      name,
      start_time: new Date(now - 60_000 + index),
      end_time: new Date(now - 60_000 + index + 20),
      duration_ms: 20,
      status_code: error ? 2 : 1,
      source: 'otlp',
    });
    await app.database.knex('spans').insert([
      ...Array.from({ length: 6 }, (_, index) => span(index, 'POST /charge', index < 3)),
      ...Array.from({ length: 4 }, (_, index) => span(10 + index, 'GET /health', false)),
    ]);
    const fired = await alerts('POST', '/api/alerts', genericAlert({ alertname: 'ChargeErrors', service: 'payments', severity: 'critical' }));
    const id = fired.body.results[0].instanceId as string;
    const waiting = await waitingFor(operator, id, 'manual_review');
    expect(waiting.variables.telemetry).toEqual({ service: 'payments', windowMinutes: 15, spans: 10, errors: 3, errorRate: 0.3, p95Ms: 20, topErrors: [{ name: 'POST /charge', errors: 3 }] });
    const analysis = (await operator('GET', `/api/patterns/decisions?instanceId=${id}`)).body.decisions[0];
    expect(analysis).toMatchObject({ step: 'analyse', decision: 'manual', confidence: 0, details: { telemetry: { errors: 3 } } });
  });

  it('when a fix worked while certain operations failed, then telemetry ranks it and keeps it from running alone when those are healthy', async () => {
    const labels = { alertname: 'ChargeErrors', service: 'payments', severity: 'critical' };
    const [instance] = (await operator('GET', '/api/process-instances?processKey=incident-response&status=active&businessKey=' + fingerprintOfLabels(labels))).body;
    // Given the alert resolved while the operator was looking, and the operator records the fix
    await alerts('POST', '/api/alerts', { ...genericAlert(labels), status: 'resolved' });
    const [review] = (await operator('GET', `/api/tasks?instanceId=${instance.id}`)).body.filter((task: { activityId: string }) => task.activityId === 'manual_review');
    await operator('POST', `/api/tasks/${review.id}/complete`, { variables: { fixTopic: 'remediation.feature-flag', fixParams: { flag: 'payments.charge-v3', value: false }, reviewer: 'ana' } });
    expect(await detail(operator, instance.id)).toMatchObject({ status: 'completed', variables: { outcome: 'success' } });
    const [pattern] = (await operator('GET', '/api/patterns?alertname=ChargeErrors')).body;
    expect(pattern).toMatchObject({ successes: 1, errorOperations: ['POST /charge'] });
    await owner('PATCH', `/api/patterns/${pattern.id}`, { successes: 20 });

    const routeOf = async (startsAt: string) => {
      const fired = await alerts('POST', '/api/alerts', genericAlert(labels, { startsAt }));
      const id = fired.body.results[0].instanceId as string;
      const analysis = (await operator('GET', `/api/patterns/decisions?instanceId=${id}`)).body.decisions[0];
      // Close the incident whichever way it went, so the next occurrence starts its own.
      const settled = await eventually(async () => {
        const current = await detail(operator, id);
        return current.userTasks?.length || current.status === 'completed' ? current : undefined;
      });
      for (const task of settled.userTasks ?? []) await operator('POST', `/api/tasks/${task.id}/complete`, { variables: { approved: false } });
      await eventually(async () => {
        const current = await detail(operator, id);
        if (current.status === 'completed') return current;
        for (const task of current.userTasks ?? []) await operator('POST', `/api/tasks/${task.id}/complete`, { variables: {} });
        return undefined;
      });
      return { ...analysis, instanceId: id };
    };

    // When POST /charge is failing again: the fix's own operation, so it runs by itself.
    const consistent = await routeOf('2026-11-25T12:00:00Z');
    expect(consistent).toMatchObject({ decision: 'auto', details: { candidates: [{ telemetry: 'consistent' }], confidenceCappedBy: null } });

    // When only POST /refund fails: the spans contradict the fix, a person is asked.
    await app.database.knex('spans').where({ service_name: 'payments' }).update({ status_code: 1 });
    await app.database.knex('spans').where({ service_name: 'payments', name: 'GET /health' }).update({ name: 'POST /refund', status_code: 2 });
    const contradicted = await routeOf('2026-11-25T13:00:00Z');
    expect(contradicted).toMatchObject({ decision: 'approve', confidence: 0.9, details: { candidates: [{ telemetry: 'contradicting' }], confidenceCappedBy: 'telemetry' } });
    expect(contradicted.details.confidence.value).toBeGreaterThan(0.9);
    // The person rejected the proposal and then chose no fix: both are on record.
    const log = (await operator('GET', `/api/patterns/decisions?instanceId=${contradicted.instanceId}`)).body.decisions;
    expect(log.map((entry: { step: string; decision: string }) => `${entry.step}:${entry.decision}`)).toEqual(['analyse:approve', 'approval:rejected', 'manual-review:none']);
    const { overrides } = (await operator('GET', `/api/patterns/${pattern.id}`)).body;
    expect(overrides).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'rejected', instanceId: contradicted.instanceId })]));
  });

  it('when patterns are created or edited with bad input or the wrong role, then it is a 4xx problem', async () => {
    const body = { match: { alertname: 'PodCrashLooping', service: 'search', severity: 'critical' }, remediation: { topic: 'kubernetes.rollout-restart', params: { deployment: 'search' } } };
    expect((await owner('POST', '/api/patterns', body))).toMatchObject({ status: 409, body: { code: 'PATTERN_EXISTS' } });
    expect((await operator('POST', '/api/patterns', { ...body, remediation: { topic: 'x.y' } })).status).toBe(403);
    expect((await owner('POST', '/api/patterns', { ...body, remediation: { topic: '../etc' } })).body).toMatchObject({ status: 400, errors: [{ path: 'remediation.topic' }] });
    expect((await owner('POST', '/api/patterns', { ...body, successes: -1 })).status).toBe(400);
    const [pattern] = (await operator('GET', '/api/patterns?service=search')).body;
    expect((await owner('PATCH', `/api/patterns/${pattern.id}`, {})).status).toBe(400);
    expect((await owner('PATCH', `/api/patterns/${pattern.id}`, { evil: 1 })).status).toBe(400);
    const edited = await owner('PATCH', `/api/patterns/${pattern.id}`, { enabled: false, description: 'paused while search is migrated' });
    expect(edited).toMatchObject({ status: 200, body: { enabled: false, description: 'paused while search is migrated' } });
    expect((await operator('GET', `/api/patterns/${pattern.id}`)).body.overrides[0]).toMatchObject({ action: 'edited', actor: 'api:owner' });
    expect((await owner('GET', '/api/patterns/00000000-0000-0000-0000-000000000000')).status).toBe(404);
  });

  it('when two engine nodes receive the same alert at the same moment, then one instance starts', async () => {
    const second = await createApp(
      loadConfig({ PORT: '0', REGENFLOW_DATA_DIR: '/tmp/regenflow-unused', REGENFLOW_TOKENS: TEST_TOKENS_SETTING, REGENFLOW_RATE_LIMIT: '100000', REGENFLOW_NODE_ID: 'second', REGENFLOW_ALERT_ANSWER_WAIT_MS: '30000' }),
      { database: app.database, log: () => {} },
    );
    try {
      const other = httpClient(`http://127.0.0.1:${await second.listen()}`, TEST_TOKENS.alert);
      const payload = occurrence('firing', '2026-11-25T11:00:00Z');
      payload.alerts[0]!.fingerprint = 'f00dfeedf00dfeed';
      const answers = await Promise.all([alerts, other, alerts, other].map((client) => client('POST', '/api/alerts/alertmanager', payload)));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
      expect(answers.map((answer) => answer.body.results[0].action).sort()).toEqual(['duplicate', 'duplicate', 'duplicate', 'started']);
      const rows = (await operator('GET', '/api/alerts?fingerprint=f00dfeedf00dfeed')).body;
      expect(rows).toHaveLength(1);
      const instances = (await operator('GET', '/api/process-instances?processKey=incident-response&businessKey=f00dfeedf00dfeed')).body;
      expect(instances).toHaveLength(1);

      // Different occurrences of one alert (new startsAt each) at once: still one incident.
      const occurrences = ['12:00', '12:01', '12:02', '12:03'].map((time) => {
        const next = occurrence('firing', `2026-11-25T${time}:00Z`);
        next.alerts[0]!.fingerprint = 'beefbeefbeefbeef';
        return next;
      });
      const raced = await Promise.all(occurrences.map((next, index) => (index % 2 ? other : alerts)('POST', '/api/alerts/alertmanager', next)));
      const results = raced.map((answer) => answer.body.results[0]);
      expect(results.filter((result) => result.action === 'started')).toHaveLength(1);
      expect(results.filter((result) => result.action !== 'started').every((result) => ['noted', 'correlated'].includes(result.action))).toBe(true);
      expect((await operator('GET', '/api/process-instances?processKey=incident-response&businessKey=beefbeefbeefbeef')).body).toHaveLength(1);
      expect((await operator('GET', '/api/alerts?fingerprint=beefbeefbeefbeef')).body).toHaveLength(4);
    } finally {
      await second.close();
    }
  });
});
