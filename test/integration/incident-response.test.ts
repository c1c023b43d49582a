import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alertmanagerFixture, occurrence } from '../support/alert-fixtures.js';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';
import { changeFlag } from '../../src/store/feature-flags.js';

type Call = ReturnType<typeof httpClient>;

const FINGERPRINT = '93768e01d5895dcd';
const FIX = { fixTopic: 'remediation.feature-flag', fixParams: { flag: 'checkout.payments-v2', value: false } };

/** Occurrence n of the captured alert: the same fingerprint, a new startsAt each time it fires again. */
const startsAt = (n: number) => new Date(Date.UTC(2026, 10, 25, 10, n, 0)).toISOString();

async function deployIncidentProcess(call: Call) {
  const xml = await readFile(join(repositoryRoot, 'processes', 'incident-response.bpmn'), 'utf8');
  const deployed = await call('POST', '/api/deployments', { name: 'incident-response.bpmn', xml });
  expect(deployed.status).toBe(201);
  // Its automation policy is a decision table the process calls.
  const policy = await readFile(join(repositoryRoot, 'processes', 'incident-automation-level.dmn'), 'utf8');
  expect((await call('POST', '/api/deployments', { name: 'incident-automation-level.dmn', xml: policy })).status).toBe(201);
}

async function userTask(call: Call, instanceId: string, activityId: string) {
  return eventually(async () => {
    const tasks = (await call('GET', `/api/tasks?instanceId=${instanceId}`)).body as Array<Record<string, any>>;
    return tasks.find((task) => task.activityId === activityId);
  });
}

async function instance(call: Call, id: string) {
  return (await call('GET', `/api/process-instances/${id}`)).body as Record<string, any>;
}

async function waitingFor(call: Call, id: string, activityId: string) {
  return eventually(async () => {
    const detail = await instance(call, id);
    return detail.activeActivities.includes(activityId) ? detail : undefined;
  });
}

async function decisions(call: Call, id: string) {
  return (await call('GET', `/api/patterns/decisions?instanceId=${id}`)).body as {
    decisions: Array<{ step: string; decision: string; confidence: number | null; details: Record<string, any> }>;
    timeline: Array<Record<string, any>>;
  };
}

/** Incident response end to end: captured Alertmanager payloads over real HTTP, the shipped diagram, the real engine. */
describe('incident response', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Call;
  let operator: Call;
  let alertmanager: Call;
  const flag = async () => (await app.database.knex('feature_flags').where({ key: 'checkout.payments-v2' }).first())?.value;

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true, env: { REGENFLOW_INCIDENT_VALIDATION_TIMEOUT: 'PT10M', REGENFLOW_INCIDENT_REVIEW_ESCALATION: 'PT1H', REGENFLOW_ALERT_ANSWER_WAIT_MS: '30000' } });
    const base = `http://127.0.0.1:${await app.listen()}`;
    admin = httpClient(base);
    operator = httpClient(base, TEST_TOKENS.operator);
    alertmanager = httpClient(base, TEST_TOKENS.alert);
    await deployIncidentProcess(admin);
  });
  afterAll(async () => {
    await app.dispose();
  });

  let firstInstance: string;

  it('when an unknown alert fires, then an instance starts and waits in manual review with no candidates', async () => {
    // Given no pattern; when Alertmanager posts the captured firing notification
    const response = await alertmanager('POST', '/api/alerts/alertmanager', alertmanagerFixture('firing'));

    expect(response.status).toBe(200);
    expect(response.body.results).toEqual([
      expect.objectContaining({ fingerprint: FINGERPRINT, status: 'firing', action: 'started', instanceId: expect.any(String) }),
    ]);
    firstInstance = response.body.results[0].instanceId;
    const task = await userTask(operator, firstInstance, 'manual_review');
    expect(task.candidateGroups).toEqual(['on-call']);
    const detail = await instance(operator, firstInstance);
    expect(detail.variables).toMatchObject({
      fingerprint: FINGERPRINT,
      labels: { alertname: 'HighErrorRate', service: 'checkout', severity: 'critical' },
      annotations: { summary: 'Error rate above 5% on checkout' },
      startsAt: '2026-11-24T19:46:50.680Z',
      endsAt: null,
      signature: 'alertname=HighErrorRate,service=checkout,severity=critical',
      confidence: 0,
      candidates: [],
      patternId: null,
      proposedRoute: 'manual',
    });
    const listed = (await operator('GET', `/api/alerts?fingerprint=${FINGERPRINT}`)).body;
    expect(listed).toEqual([
      expect.objectContaining({ fingerprint: FINGERPRINT, status: 'firing', endsAt: null, instanceId: firstInstance, startsAt: '2026-11-24T19:46:50.680Z', receivedAt: expect.any(String) }),
    ]);
  });

  it('when the operator records a fix, then it becomes a pattern, runs, and the resolved notification completes the validation', async () => {
    const task = await userTask(operator, firstInstance, 'manual_review');
    const completed = await operator('POST', `/api/tasks/${task.id}/complete`, { variables: { ...FIX, reviewer: 'ana', reviewNote: 'payments v2 path throws' } });
    expect(completed.status).toBe(200);

    // The fix is a pattern now (untried: the prior's 0.5), and it ran: the flag is off.
    const patterns = (await operator('GET', '/api/patterns')).body;
    expect(patterns).toEqual([
      expect.objectContaining({
        signature: 'alertname=HighErrorRate,service=checkout,severity=critical',
        origin: 'manual-fix',
        remediation: { topic: 'remediation.feature-flag', params: { flag: 'checkout.payments-v2', value: false } },
        successes: 0,
        failures: 0,
        confidence: expect.objectContaining({ value: 0.5, method: 'beta-posterior-mean', formula: '(1 + 0) / (1 + 0 + 1 + 0) = 0.500' }),
      }),
    ]);
    expect(await flag()).toBe(false);
    await waitingFor(operator, firstInstance, 'alert_resolved');

    // When Alertmanager says the alert resolved, then validation completes and the success is learned.
    const resolved = await alertmanager('POST', '/api/alerts/alertmanager', alertmanagerFixture('resolved'));
    expect(resolved.body.results).toEqual([expect.objectContaining({ action: 'correlated', instanceId: firstInstance })]);
    const done = await instance(operator, firstInstance);
    expect(done).toMatchObject({ status: 'completed', variables: { outcome: 'success', patternConfidence: 2 / 3 } });
    expect((await operator('GET', '/api/patterns')).body[0]).toMatchObject({ successes: 1, failures: 0, confidence: { value: 2 / 3 } });
    expect((await operator('GET', `/api/alerts?fingerprint=${FINGERPRINT}`)).body[0]).toMatchObject({ status: 'resolved', endsAt: '2026-11-24T19:46:54.688Z' });
  });

  let approvedInstance: string;

  it('when the same alert fires again, then the recorded fix is proposed with the higher confidence and a person approves it', async () => {
    const fired = await alertmanager('POST', '/api/alerts/alertmanager', occurrence('firing', startsAt(1)));
    expect(fired.body.results[0]).toMatchObject({ action: 'started' });
    approvedInstance = fired.body.results[0].instanceId;
    expect(approvedInstance).not.toBe(firstInstance);

    const task = await userTask(operator, approvedInstance, 'approve_fix');
    const detail = await instance(operator, approvedInstance);
    expect(detail.variables.confidence).toBeCloseTo(2 / 3);
    expect(detail.variables.confidence).toBeGreaterThan(0.5);
    expect(detail.variables).toMatchObject({
      proposedRoute: 'approve',
      remediation: { topic: 'remediation.feature-flag' },
      remediationMode: 'builtin',
      candidates: [expect.objectContaining({ match: 'exact', confidence: expect.objectContaining({ successes: 1, failures: 0 }) })],
      patternHistory: [expect.objectContaining({ instanceId: firstInstance, result: 'success' })],
    });

    await operator('POST', `/api/tasks/${task.id}/complete`, { variables: { approved: true, reviewer: 'ben' } });
    await waitingFor(operator, approvedInstance, 'alert_resolved');
    const resolved = await alertmanager('POST', '/api/alerts/alertmanager', occurrence('resolved', startsAt(1), startsAt(2)));
    expect(resolved.body.results[0]).toMatchObject({ action: 'correlated', instanceId: approvedInstance });
    expect(await instance(operator, approvedInstance)).toMatchObject({ status: 'completed', variables: { outcome: 'success' } });
    expect((await operator('GET', '/api/patterns')).body[0]).toMatchObject({ successes: 2, confidence: { value: 0.75 } });
  });

  it('when the instance history is read, then it shows every decision with its confidence', async () => {
    const { decisions: log, timeline } = await decisions(operator, approvedInstance);
    expect(log.map(({ step, decision }) => `${step}:${decision}`)).toEqual([
      'analyse:approve',
      'approval:approved',
      'remediate:applied',
      'validate:success',
      'learn:success counted',
    ]);
    expect(log[0]!.confidence).toBeCloseTo(2 / 3);
    expect(log[0]!.details).toMatchObject({ thresholds: { auto: 0.9, review: 0.5 }, confidence: { formula: '(1 + 1) / (1 + 1 + 1 + 0) = 0.667' } });
    expect(log[1]!.confidence).toBeCloseTo(2 / 3);
    expect(log[4]!.confidence).toBe(0.75);
    // Decisions sit among the activities they led to.
    const kinds = timeline.map((entry) => (entry.kind === 'decision' ? `decision:${entry.step}` : `${entry.event}:${entry.activityId}`));
    expect(kinds).toEqual(expect.arrayContaining(['start:approve_fix', 'decision:approval', 'end:learn_success']));
  });

  it('when the fix keeps working, then after enough successes the same alert is remediated automatically', async () => {
    let n = 10;
    const routes: string[] = [];
    for (;;) {
      const pattern = (await operator('GET', '/api/patterns')).body[0];
      const fired = await alertmanager('POST', '/api/alerts/alertmanager', occurrence('firing', startsAt(n)));
      const id = fired.body.results[0].instanceId as string;
      const detail = await eventually(async () => {
        const current = await instance(operator, id);
        return current.activeActivities.some((activity: string) => ['approve_fix', 'alert_resolved'].includes(activity)) ? current : undefined;
      });
      routes.push(detail.variables.proposedRoute);
      if (detail.activeActivities.includes('alert_resolved')) {
        // Automatic: no person was asked; the confidence was above 90 %.
        expect(pattern.confidence.value).toBeGreaterThan(0.9);
        expect(detail.variables.confidence).toBeGreaterThan(0.9);
        expect(detail.userTasks).toEqual([]);
        expect((await decisions(operator, id)).decisions.map((entry) => entry.step)).toEqual(['analyse', 'remediate']);
        await alertmanager('POST', '/api/alerts/alertmanager', occurrence('resolved', startsAt(n), startsAt(n + 1)));
        expect((await instance(operator, id)).status).toBe('completed');
        break;
      }
      expect(pattern.confidence.value).toBeLessThanOrEqual(0.9);
      const task = await userTask(operator, id, 'approve_fix');
      await operator('POST', `/api/tasks/${task.id}/complete`, { variables: { approved: true, reviewer: 'ben' } });
      await waitingFor(operator, id, 'alert_resolved');
      await alertmanager('POST', '/api/alerts/alertmanager', occurrence('resolved', startsAt(n), startsAt(n + 1)));
      expect((await instance(operator, id)).status).toBe('completed');
      n += 2;
      expect(routes.length).toBeLessThan(12);
    }
    // (1 + 9) / (1 + 9 + 1 + 0) = 0.909 is the first posterior mean above 0.9.
    expect(routes).toEqual([...Array(7).fill('approve'), 'auto']);
    expect((await operator('GET', '/api/patterns')).body[0]).toMatchObject({ successes: 10, failures: 0 });
  });

  let failedInstance: string;

  it('when duplicate notifications arrive, even at once, then only one instance starts', async () => {
    // Given someone turned payments v2 back on (the fix below turns it off, its rollback on again)
    await changeFlag(app.database.knex, { key: 'checkout.payments-v2', value: true, actor: 'test' });
    const payload = occurrence('firing', startsAt(40));
    const answers = await Promise.all([1, 2, 3].map(() => alertmanager('POST', '/api/alerts/alertmanager', payload)));
    const again = await alertmanager('POST', '/api/alerts/alertmanager', payload);
    const actions = [...answers, again].map((answer) => answer.body.results[0].action).sort();
    expect(actions).toEqual(['duplicate', 'duplicate', 'duplicate', 'started']);
    failedInstance = answers.map((answer) => answer.body.results[0]).find((result) => result.action === 'started').instanceId;
    expect(new Set([...answers, again].map((answer) => answer.body.results[0].instanceId))).toEqual(new Set([failedInstance]));
    const active = (await operator('GET', '/api/process-instances?processKey=incident-response&status=active')).body;
    expect(active.map((row: { id: string }) => row.id)).toEqual([failedInstance]);
    expect((await operator('GET', `/api/alerts?fingerprint=${FINGERPRINT}&status=firing`)).body).toHaveLength(1);
    // The grouped, truncated notification carries the same fingerprint: it joins the running instance.
    const grouped = await alertmanager('POST', '/api/alerts/alertmanager', alertmanagerFixture('firing-grouped-truncated'));
    expect(grouped.body).toMatchObject({ truncatedAlerts: 1, results: [{ fingerprint: FINGERPRINT, instanceId: failedInstance }] });
    expect(['correlated', 'noted']).toContain(grouped.body.results[0].action);
  });

  it('when an automatic fix does not hold, then it is rolled back, escalated, and the confidence drops', async () => {
    // The grouped notification above was a re-fire during validation: the fix did not hold.
    const detail = await eventually(async () => {
      const current = await instance(operator, failedInstance);
      return current.activeActivities.includes('investigate') ? current : undefined;
    });
    expect(detail.variables).toMatchObject({ validation: 'refired', outcome: 'failure', escalationReason: 'remediation-failed', rollbackResult: { flag: 'checkout.payments-v2' } });
    // The flag is back to what it was before this instance set it.
    const changes = await app.database.knex('feature_flag_changes').where({ key: 'checkout.payments-v2' }).orderBy('id');
    expect(changes.at(-1)).toMatchObject({ actor: `incident:${failedInstance}:rollback` });
    expect(changes.map((change: { value: unknown }) => change.value).slice(-3)).toEqual([true, false, true]);
    expect(await flag()).toBe(true);
    const pattern = (await operator('GET', '/api/patterns')).body[0];
    expect(pattern).toMatchObject({ successes: 10, failures: 1 });
    expect(pattern.confidence.value).toBeCloseTo(11 / 13);
    expect(pattern.confidence.value).toBeLessThan(11 / 12);
    const log = (await decisions(operator, failedInstance)).decisions;
    expect(log.map(({ step, decision }) => `${step}:${decision}`)).toEqual([
      'analyse:auto',
      'remediate:applied',
      'rollback:rolled-back',
      'validate:failure',
      'learn:failure counted',
      'escalate:remediation-failed',
    ]);
    expect(log[0]!.confidence).toBeCloseTo(11 / 12);
    expect(log[4]!.confidence).toBeCloseTo(11 / 13);
    const task = await userTask(operator, failedInstance, 'investigate');
    expect(task.candidateGroups).toEqual(['incident-leads']);
  });
});
