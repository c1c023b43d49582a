import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

type Call = ReturnType<typeof httpClient>;

/** The incident automation policy is a decision table: a new version of it steers the next alert. */
describe('incident response automation policy (processes/incident-automation-level.dmn)', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Call;
  let operator: Call;
  let alertmanager: Call;
  let policy: string;

  /** A generic alert (one fingerprint, a new startsAt per occurrence). */
  const fire = (minute: number) =>
    alertmanager('POST', '/api/alerts', {
      fingerprint: 'policy-test-0001',
      status: 'firing',
      labels: { alertname: 'CheckoutErrors', service: 'checkout', severity: 'critical' },
      startsAt: new Date(Date.UTC(2026, 10, 25, 10, minute, 0)).toISOString(),
    });

  const waitingAt = (id: string) =>
    eventually(async () => {
      const detail = (await operator('GET', `/api/process-instances/${id}`)).body;
      return detail.activeActivities.some((activity: string) => ['manual_review', 'approve_fix'].includes(activity)) ? detail : undefined;
    });

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true, env: { REGENFLOW_INCIDENT_REVIEW_ESCALATION: 'PT1H', REGENFLOW_ALERT_ANSWER_WAIT_MS: '30000' } });
    const base = `http://127.0.0.1:${await app.listen()}`;
    admin = httpClient(base);
    operator = httpClient(base, TEST_TOKENS.operator);
    alertmanager = httpClient(base, TEST_TOKENS.alert);
    policy = await readFile(join(repositoryRoot, 'processes', 'incident-automation-level.dmn'), 'utf8');
    const xml = await readFile(join(repositoryRoot, 'processes', 'incident-response.bpmn'), 'utf8');
    expect((await admin('POST', '/api/deployments', { name: 'incident-response.bpmn', xml })).status).toBe(201);
    expect((await admin('POST', '/api/deployments', { name: 'incident-automation-level.dmn', xml: policy })).status).toBe(201);
  });
  afterAll(async () => app.dispose());

  it('when the owner deploys a changed table, then the next alert takes the new path, and each instance shows the version that decided', async () => {
    // Given the shipped policy: an unknown alert (confidence 0) goes to a person.
    const first = await fire(0);
    const firstId = first.body.results[0].instanceId as string;
    const before = await waitingAt(firstId);
    expect(before.activeActivities).toContain('manual_review');
    expect(before.variables).toMatchObject({ confidence: 0, automationLevel: 'person', proposedRoute: 'manual' });
    const firstDecisions = (await operator('GET', `/api/process-instances/${firstId}/decisions`)).body;
    expect(firstDecisions).toEqual([expect.objectContaining({ decisionKey: 'incident-automation-level', decisionVersion: 1, activityId: 'decide_automation' })]);
    expect(firstDecisions[0].matchedRules).toEqual([expect.objectContaining({ id: 'person_below_threshold' })]);
    // That instance ends (reviewed, nothing to do), so the same alert starts a new one next time.
    const [task] = (await operator('GET', `/api/tasks?instanceId=${firstId}`)).body;
    expect((await operator('POST', `/api/tasks/${task.id}/complete`, { variables: { reviewer: 'ada' } })).status).toBeLessThan(300);
    await eventually(async () => ((await operator('GET', `/api/process-instances/${firstId}`)).body.status === 'completed' ? true : undefined));

    // When the owner changes the policy: every alert below 90 % is approved by a person first.
    const changed = policy
      .replace('<text>[reviewThreshold..autoThreshold]</text>', '<text>[0..autoThreshold]</text>')
      .replace('<text>&lt; reviewThreshold</text>', '<text>&lt; 0</text>')
      .replace('<text>&gt;= reviewThreshold</text>', '<text>&gt;= 0</text>');
    const deployed = await admin('POST', '/api/deployments', { name: 'incident-automation-level.dmn', xml: changed });
    expect(deployed.body.decisions).toEqual([expect.objectContaining({ key: 'incident-automation-level', version: 2, created: true })]);

    // Then the next alert goes to approval, decided by version 2.
    const next = await fire(30);
    const nextId = next.body.results[0].instanceId as string;
    expect(nextId).not.toBe(firstId);
    const after = await waitingAt(nextId);
    expect(after.activeActivities).toContain('approve_fix');
    expect(after.variables).toMatchObject({ confidence: 0, automationLevel: 'approval', proposedRoute: 'approve' });
    const nextDecisions = (await operator('GET', `/api/process-instances/${nextId}/decisions`)).body;
    expect(nextDecisions).toEqual([expect.objectContaining({ decisionVersion: 2, matchedRules: [expect.objectContaining({ id: 'approval_between_thresholds' })] })]);
  });

  it('when a changed table has overlapping rules, then the deploy is refused and the policy in force stays', async () => {
    const overlapping = policy.replace('<text>[reviewThreshold..autoThreshold]</text>', '<text>[0.5..0.95]</text>').replace('<text>&lt; reviewThreshold</text>', '<text>&lt; 0.6</text>');
    const refused = await admin('POST', '/api/deployments', { name: 'incident-automation-level.dmn', xml: overlapping });
    expect(refused.status).toBe(400);
    expect(refused.body.details.errors).toEqual([expect.objectContaining({ rule: 'dmn-unique-overlap', elementId: 'person_below_threshold' })]);
    const latest = (await operator('GET', '/api/decision-definitions?key=incident-automation-level&latest=true')).body;
    expect(latest).toEqual([expect.objectContaining({ version: 2 })]);
  });
});
