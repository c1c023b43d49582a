import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

type Call = ReturnType<typeof httpClient>;
type Variables = Record<string, unknown>;

/**
 * The looks of DMEDI's two verdicts, as the shipped diagram wires them: every topic is answered
 * by a remote worker over the external task API with scripted outputs, so each test walks one
 * path exactly and reads what the diagram hands the next look. The verdicts' statistics have
 * their own tests (entropy-recovery, dmedi-regeneration); this one checks the wiring.
 */
describe('dmedi-regeneration: looking again until the verdict is clear', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Call;
  let worker: Call;

  beforeAll(async () => {
    app = await createTestApp();
    const base = `http://127.0.0.1:${await app.listen()}`;
    admin = httpClient(base);
    worker = httpClient(base, TEST_TOKENS.worker);
    // The diagram and the entropy-level table its business rule task calls
    for (const name of ['entropy-level.dmn', 'dmedi-regeneration.bpmn']) {
      const xml = await readFile(join(repositoryRoot, 'processes', name), 'utf8');
      expect((await admin('POST', '/api/deployments', { name, xml })).status).toBe(201);
    }
    const strategy = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://regenflow.dev/test">
  <bpmn:process id="noop-strategy" isExecutable="true">
    <bpmn:startEvent id="start" /><bpmn:sequenceFlow id="f" sourceRef="start" targetRef="end" /><bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>`;
    expect((await admin('POST', '/api/deployments', { name: 'noop-strategy.bpmn', xml: strategy })).status).toBe(201);
  });
  afterAll(async () => {
    await app.dispose();
  });

  /** Locks the next task of `topic` and completes it with `outputs`; answers the variables it was given. */
  async function answer(topic: string, outputs: Variables): Promise<Variables> {
    const task = await eventually(async () => {
      const locked = await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'script', maxTasks: 1, topics: [{ topicName: topic, lockDuration: 30_000 }] });
      expect(locked.status).toBe(200);
      return locked.body[0] as { id: string; activityId: string; variables: Record<string, { value: unknown; type: string }> } | undefined;
    }, 20_000);
    // Lists and objects come as Camunda 7 sends them: type Json, the value serialized.
    const variables = Object.fromEntries(Object.entries(task.variables).map(([name, { value, type }]) => [name, type === 'Json' ? JSON.parse(value as string) : value]));
    const completed = await worker('POST', `/engine-rest/external-task/${task.id}/complete`, {
      workerId: 'script',
      variables: Object.fromEntries(Object.entries(outputs).map(([name, value]) => [name, { value }])),
    });
    expect(completed.status).toBe(204);
    return { activityId: task.activityId, ...variables };
  }

  const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

  /** Define to Implement's first settle, on a strategy that does nothing. */
  async function throughSettleStart(settleDeadline: string): Promise<string> {
    const started = await admin('POST', '/api/process-instances', { processKey: 'dmedi-regeneration', variables: { system: 'checkout' } });
    expect(started.status).toBe(201);
    await answer('entropy.circuit-breaker', { circuitOpen: false });
    await answer('generator.charter', {});
    await answer('entropy.measure', { regenerationNeeded: true, entropy: 0.6, level: 'MEDIUM' });
    // The table's level, not Measure's, is what Explore is given, with the strategies the strategy table allows at it.
    expect(await answer('entropy.explore', {})).toMatchObject({
      activityId: 'explore_rank',
      level: 'HIGH',
      candidateStrategies: ['semantic-refresh', 'agent-reconstruction', 'validation-rebuild'],
    });
    await answer('generator.strategy-workflow', { strategyProcessKey: 'noop-strategy' });
    await answer('entropy.simulate', { improved: true });
    await answer('entropy.snapshot', {});
    await answer('entropy.settle', { settleWait: 'PT0.2S', settleDeadline, settleBudgetEnd: inSeconds(600), settleAfterRollback: false });
    return started.body.id;
  }

  const endOf = async (id: string) =>
    eventually(async () => {
      const instance = (await admin('GET', `/api/process-instances/${id}`)).body;
      return instance.status === 'completed' ? instance : undefined;
    }, 20_000);

  it('when the strategy\'s verdict is unclear and its deadline is moved on, then the next look is given the later deadline', async () => {
    const first = inSeconds(120);
    const later = inSeconds(300);
    const id = await throughSettleStart(first);
    expect(await answer('entropy.verify', { evidenceSufficient: false, recovered: false, verdict: 'unclear', settleWait: 'PT0.2S', settleDeadline: later })).toMatchObject({
      activityId: 'implement_measure_again',
      settleDeadline: first,
    });
    expect(await answer('entropy.verify', { evidenceSufficient: true, recovered: true, verdict: 'recovered' })).toMatchObject({
      activityId: 'implement_measure_again',
      settleDeadline: later,
    });
    await answer('entropy.learn', {});
    expect((await endOf(id)).variables).toMatchObject({ verdict: 'recovered', settleDeadline: later });
  });

  it('when the verdict after a rollback is unclear and its deadline is moved on, then the next look is given the later deadline and the strategy\'s verdict stays as it was', async () => {
    const id = await throughSettleStart(inSeconds(120));
    await answer('entropy.verify', { evidenceSufficient: true, recovered: false, verdict: 'not-recovered', verdictReasons: ['errors still there'] });
    await answer('entropy.rollback', { rolledBack: true });
    await answer('entropy.learn', {});
    const afterRollback = inSeconds(200);
    const later = inSeconds(400);
    expect(await answer('entropy.settle', { settleWait: 'PT0.2S', settleDeadline: afterRollback, settleBudgetEnd: inSeconds(600), settleAfterRollback: true })).toMatchObject({
      activityId: 'rollback_settle_start',
    });
    expect(
      await answer('entropy.verify', { evidenceSufficient: false, recovered: false, verdict: 'unclear', verdictReasons: ['too few spans'], settleWait: 'PT0.2S', settleDeadline: later }),
    ).toMatchObject({ activityId: 'rollback_verify', settleDeadline: afterRollback, settleAfterRollback: true });
    expect(await answer('entropy.verify', { evidenceSufficient: true, recovered: true, verdict: 'recovered', verdictReasons: [] })).toMatchObject({
      activityId: 'rollback_verify',
      settleDeadline: later,
    });
    const ended = await endOf(id);
    expect(ended.variables).toMatchObject({
      verdict: 'not-recovered',
      verdictReasons: ['errors still there'],
      healthyAfterRollback: true,
      verdictAfterRollback: 'recovered',
      settleDeadline: later,
    });
  });

  it('when a process owner deploys a strategy table that withdraws a strategy, then the next cycle\'s Explore is offered the others only', async () => {
    // Given a new version of the policy: agent reconstruction is no longer offered at HIGH
    const shipped = await readFile(join(repositoryRoot, 'processes', 'entropy-level.dmn'), 'utf8');
    const withdrawn = shipped.replace(/<rule id="agent_reconstruction">[\s\S]*?<\/rule>\s*/, '');
    expect(withdrawn).not.toBe(shipped);
    expect((await admin('POST', '/api/deployments', { name: 'entropy-level.dmn', xml: withdrawn })).status).toBe(201);

    // When a cycle reaches Explore at HIGH
    const started = await admin('POST', '/api/process-instances', { processKey: 'dmedi-regeneration', variables: { system: 'checkout' } });
    await answer('entropy.circuit-breaker', { circuitOpen: false });
    await answer('generator.charter', {});
    await answer('entropy.measure', { regenerationNeeded: true, entropy: 0.7, level: 'HIGH' });

    // Then it is offered what the new table allows
    expect(await answer('entropy.explore', { strategyId: 'semantic-refresh', strategyName: 'Semantic refresh', successProbability: 0.6, options: [] })).toMatchObject({
      level: 'HIGH',
      candidateStrategies: ['semantic-refresh', 'validation-rebuild'],
    });
    expect((await admin('DELETE', `/api/process-instances/${started.body.id}`)).status).toBe(204);

    // (and the shipped table again for the tests after this one)
    expect((await admin('POST', '/api/deployments', { name: 'entropy-level.dmn', xml: shipped })).status).toBe(201);
  });
});
