import { jest } from '@jest/globals';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deployResources } from '../../src/decisions/deploy-resources.js';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createNodeProject } from '../support/node-project.js';
import { createTestApp, eventually } from '../support/test-app.js';

/**
 * The shipped feature-lifecycle and ci-pipeline processes on a real git repository: the
 * generator writes a scaffold, agents commit it in worktrees, the nine phases run for
 * real in the worktree, the score and the gate decide, and a person approves.
 */
describe('feature lifecycle and CI pipeline on a real repository', () => {
  // Real git, real npm scripts in worktrees: with two suites sharing two cores in CI a step can take half a minute.
  jest.setTimeout(150_000);
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let project: Awaited<ReturnType<typeof createNodeProject>>;
  let owner: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    project = await createNodeProject();
    app = await createTestApp({
      builtIns: true,
      env: {
        REGENFLOW_DATA_DIR: join(project.root, 'data'),
        REGENFLOW_AGENT_REPOSITORIES: join(project.root, 'repos'),
        REGENFLOW_VALIDATOR_PHASES: join(repositoryRoot, 'test/fixtures/agents/phases.yaml'),
        REGENFLOW_AGENT_PROFILES: join(repositoryRoot, 'test/fixtures/agents/profiles.yaml'),
        REGENFLOW_WORKER_RETRY_MS: '100',
        REGENFLOW_CI_REPOSITORY: join(project.root, 'repos', 'shop'),
        REGENFLOW_CI_REF: 'main',
      },
    });
    const port = await app.listen();
    owner = httpClient(`http://127.0.0.1:${port}`, TEST_TOKENS.owner);
    // The policy tables first: the business rule tasks of feature-lifecycle and ci-pipeline call them.
    const resource = async (file: string) => ({ name: file, xml: await readFile(join(repositoryRoot, 'processes', file), 'utf8') });
    for (const table of ['feature-review-gate.dmn', 'ci-quality-gate.dmn']) await deployResources(app.engine, app.decisions, [await resource(table)], { name: table });
    for (const file of ['feature-lifecycle.bpmn', 'ci-pipeline.bpmn', 'ci-nightly.bpmn']) await app.engine.deploy([await resource(file)]);
  });
  afterAll(async () => {
    await app?.dispose();
    await project?.remove();
  });

  const waitForTask = (instanceId: string, activityId: string) =>
    eventually(async () => {
      const tasks = (await owner('GET', `/api/tasks?instanceId=${instanceId}`)).body as Array<{ id: string; activityId: string }>;
      return tasks.find((task) => task.activityId === activityId);
    }, 60_000);
  const ended = (instanceId: string) =>
    eventually(async () => {
      const instance = await app.engine.getInstance(instanceId);
      return instance.status !== 'active' && instance;
    }, 60_000);
  const endEvents = async (instanceId: string) => app.database.knex('history').where({ instance_id: instanceId, event: 'end' }).pluck('activity_id');

  it('when a feature is requested, then agents commit its scaffold on branches, the merge is validated, and approval releases it', async () => {
    const started = await owner('POST', '/api/process-instances', {
      processKey: 'feature-lifecycle',
      variables: {
        repository: project.repository,
        baseRef: 'main',
        feature: 'billing',
        serviceName: 'shop-billing',
        entities: [
          { name: 'invoice', fields: [{ name: 'total', type: 'number' }, { name: 'paid', type: 'boolean', required: false }] },
          { name: 'customer', fields: [{ name: 'email', type: 'email' }] },
        ],
      },
    });
    expect(started.status).toBe(201);
    const instanceId = started.body.id as string;

    const approval = await waitForTask(instanceId, 'approval');
    const waiting = await app.engine.getInstance(instanceId);
    expect(waiting.variables).toMatchObject({ quality: 1, gatePassed: true, featureBranch: 'feature/billing', merged: ['feature/billing--invoice', 'feature/billing--customer'] });
    // Each agent committed on its own branch; the feature branch has both scaffolds.
    expect(project.git('log', '--format=%s', '-1', 'feature/billing--invoice')).toBe('billing: scaffold invoice');
    const files = project.git('ls-tree', '-r', '--name-only', 'feature/billing').split('\n');
    expect(files).toEqual(expect.arrayContaining(['src/models/invoice.ts', 'src/routes/invoice-router.ts', 'test/invoice-router.test.ts', 'src/models/customer.ts']));
    expect(project.git('show', 'feature/billing:src/models/customer.ts')).toContain('email: z.email()');
    const validation = waiting.variables.validation as { runId: string; score: number; vitalFew: string[] };
    expect(validation.score).toBe(1);
    const run = await owner('GET', `/api/validation-runs/${validation.runId}`);
    expect(run.body.phases.map((phase: { name: string; passed: boolean }) => `${phase.name}:${phase.passed}`)).toEqual([
      'setup:true', 'unit:true', 'integration:true', 'performance:true', 'security:true', 'otel:true', 'registry:true', 'e2e:true',
    ]);

    const completed = await owner('POST', `/api/tasks/${approval.id}/complete`, { variables: { approved: true } });
    expect(completed.status).toBe(200);
    const instance = await ended(instanceId);
    expect(instance.status).toBe('completed');
    expect(await endEvents(instanceId)).toContain('released');
    expect(instance.variables).toMatchObject({ monitoring: { by: 'evolution-cycle', subject: 'feature/billing', serviceName: 'shop-billing', commit: project.git('rev-parse', 'feature/billing') } });
    expect(JSON.stringify(instance.variables.deploy_production)).toContain('deployed to production');
    // No worktree is left behind once the instance ended.
    await eventually(async () => project.git('worktree', 'list').split('\n').length === 1);

    // The released system is registered for monitoring, once
    const monitored = await owner('GET', '/api/entropy/monitored');
    expect(monitored.status).toBe(200);
    expect(monitored.body).toEqual([
      { serviceName: 'shop-billing', feature: 'billing', commit: project.git('rev-parse', 'feature/billing'), instanceId, since: expect.any(String), registeredAt: expect.any(String) },
    ]);
    expect((await owner('GET', '/api/entropy/monitored?limit=0')).status).toBe(400);

    // and the evolution cycle measures it, though it has sent no span yet
    await app.engine.deploy([{ name: 'evolution-cycle.bpmn', xml: await readFile(join(repositoryRoot, 'processes', 'evolution-cycle.bpmn'), 'utf8') }]);
    await app.database.knex('jobs').where({ kind: 'timer-start' }).whereIn('definition_id', app.database.knex('process_definitions').where({ key: 'evolution-cycle' }).select('id')).update({ due_at: new Date() });
    const cycle = await eventually(async () => app.database.knex('process_instances').where({ process_key: 'evolution-cycle' }).first(), 20_000);
    const measured = await eventually(async () => app.database.knex('entropy_measurements').where({ system: 'shop-billing' }).first(), 30_000);
    expect(measured).toMatchObject({ system: 'shop-billing' });
    await eventually(async () => ((await app.engine.getInstance(cycle.id)).variables.systemsMeasured as number) >= 1, 30_000);
  });

  it('when integration keeps failing, then the manager sends the work back for refinement and gives up after three rounds', async () => {
    const started = await owner('POST', '/api/process-instances', {
      processKey: 'feature-lifecycle',
      variables: { repository: project.repository, baseRef: 'main', feature: 'unstable', entities: [{ name: 'flaky', fields: [{ name: 'odds', type: 'number' }] }] },
    });
    const instance = await ended(started.body.id);
    expect(instance.status).toBe('completed');
    expect(await endEvents(instance.id)).toContain('abandoned');
    expect(instance.variables).toMatchObject({ reviewRound: 3, quality: 0.6, review: { missing: [], notes: ['3 of 3 expected files are on feature/unstable', 'integration phase failed'] } });
    const rounds = await app.database.knex('history').where({ instance_id: instance.id, event: 'end' }).pluck('activity_id');
    expect(rounds.filter((id: string) => id === 'manager_review')).toHaveLength(3);
    expect(rounds.filter((id: string) => id === 'refine')).toHaveLength(2);
  });

  it('when a commit fails its unit tests, then the pipeline notifies, takes the fixed ref, scores it past the gate and releases on approval', async () => {
    const broken = project.commit({ 'test/broken.test.mjs': "import { test } from 'node:test';\ntest('fails', () => { throw new Error('broken on purpose'); });\n" }, 'break the build', 'broken');
    const started = await owner('POST', '/api/process-instances', {
      processKey: 'ci-pipeline',
      variables: { repository: project.repository, ref: broken, previousRef: 'main', subject: 'shop' },
    });
    expect(started.status).toBe(201);
    const instanceId = started.body.id as string;

    const fix = await waitForTask(instanceId, 'fix');
    const failed = await app.engine.getInstance(instanceId);
    expect(failed.variables).toMatchObject({ failedPhase: 'unit', phase_unit: { passed: false, exitCode: 1 }, notification: { reason: expect.stringContaining('phase unit failed') } });
    expect((failed.variables.phase_unit as { output: string }).output).toContain('broken on purpose');
    expect(failed.variables.phase_setup).toMatchObject({ passed: true });

    await owner('POST', `/api/tasks/${fix.id}/complete`, { variables: { ref: 'main' } });
    const approval = await waitForTask(instanceId, 'approval');
    const scored = await app.engine.getInstance(instanceId);
    expect(scored.variables).toMatchObject({ gatePassed: true, qualityScore: 1, failedPhase: null, phase_security: { passed: true, summary: expect.stringContaining('0 vulnerabilities') }, phase_otel: { passed: true, summary: '1 spans follow the registry' } });
    expect(JSON.stringify(scored.variables.deploy_smoke)).toContain('deployed to smoke');

    await owner('POST', `/api/tasks/${approval.id}/complete`, { variables: { approved: true } });
    const instance = await ended(instanceId);
    expect(instance.status).toBe('completed');
    expect(await endEvents(instanceId)).toContain('released');
    const trend = await owner('GET', '/api/validation-runs/trend?subject=shop');
    expect(trend.body).toMatchObject({ subject: 'shop', runs: [{ score: 1, passed: true }] });
  });

  const withoutScripts = async (...names: string[]) => {
    const manifest = JSON.parse(project.git('show', 'main:package.json')) as { scripts: Record<string, string> };
    for (const name of names) delete manifest.scripts[name];
    return JSON.stringify(manifest, null, 2);
  };

  it.each([
    ['test', 'unit'],
    ['test:integration', 'integration'],
  ])('when the commit lacks the required phase script %s, then phase %s fails naming the missing script instead of passing', async (script, phase) => {
    // Given a commit whose package.json lacks the script (as the shipped phases name it)
    const commit = project.commit({ 'package.json': await withoutScripts(script) }, `drop ${script}`, `no-${phase}`);

    // When the pipeline validates it
    const started = await owner('POST', '/api/process-instances', { processKey: 'ci-pipeline', variables: { repository: project.repository, ref: commit, previousRef: 'main', subject: `shop-no-${phase}` } });
    const instanceId = started.body.id as string;
    await waitForTask(instanceId, 'fix');

    // Then that phase failed for the missing script, and the author is told so
    const failed = await app.engine.getInstance(instanceId);
    expect(failed.variables).toMatchObject({
      failedPhase: phase,
      [`phase_${phase}`]: { passed: false, exitCode: null, summary: `script ${script} is missing from package.json` },
      notification: { reason: `phase ${phase} failed: script ${script} is missing from package.json` },
    });
    if (phase === 'integration') expect(failed.variables).toMatchObject({ phase_unit: { passed: true } });
    await app.engine.cancel(instanceId);
  });

  it('when the commit lacks an optional phase script and a deploy script, then the phase is skipped (not passed) and the deploy fails', async () => {
    const commit = project.commit({ 'package.json': await withoutScripts('bench', 'deploy:staging') }, 'no bench, no staging deploy', 'no-bench');
    const started = await owner('POST', '/api/process-instances', { processKey: 'ci-pipeline', variables: { repository: project.repository, ref: commit, previousRef: 'main', subject: 'shop-no-bench' } });
    const instanceId = started.body.id as string;
    await waitForTask(instanceId, 'fix');

    const failed = await app.engine.getInstance(instanceId);
    // The skipped phase scores 0 with its weight kept (11.5 of 12.5); it is not one of the vital few, so the gate passes.
    expect(failed.variables).toMatchObject({
      phase_performance: { passed: false, skipped: true, score: 0, summary: 'skipped: script bench is missing from package.json' },
      validation: { score: 0.92, passed: true, skipped: ['performance'] },
      failedStep: 'deploy.staging',
      deploy_staging: { commands: [{ exitCode: null, missingScript: 'deploy:staging', output: 'script deploy:staging is missing from package.json' }] },
      notification: { reason: 'deploy.staging failed' },
    });
    const run = await owner('GET', `/api/validation-runs/${(failed.variables.validation as { runId: string }).runId}`);
    expect(run.body.phases.find((phase: { name: string }) => phase.name === 'performance')).toMatchObject({ passed: false, skipped: true });
    await app.engine.cancel(instanceId);
  });

  it('when the owner deploys a stricter quality gate table, then the next run follows it: a run the 80/20 rule passes fails at the gate, and the author is told the policy failed it', async () => {
    const table = await readFile(join(repositoryRoot, 'processes', 'ci-quality-gate.dmn'), 'utf8');
    const stricter = table.replace('&gt;= validation.gate', '&gt;= 0.95');
    expect(stricter).not.toBe(table);
    await deployResources(app.engine, app.decisions, [{ name: 'ci-quality-gate.dmn', xml: stricter }], { name: 'ci-quality-gate.dmn' });
    try {
      const commit = project.commit({ 'package.json': await withoutScripts('bench') }, 'no bench', 'stricter-gate');
      const started = await owner('POST', '/api/process-instances', { processKey: 'ci-pipeline', variables: { repository: project.repository, ref: commit, previousRef: 'main', subject: 'shop-stricter-gate' } });
      const instanceId = started.body.id as string;
      await waitForTask(instanceId, 'fix');
      const failed = await app.engine.getInstance(instanceId);
      // The rule passes it (0.92 against 0.8, the skipped phase is not vital); the table's answer is the one the pipeline took.
      expect(failed.variables).toMatchObject({
        validation: { score: 0.92, passed: true, reasons: [] },
        gatePassed: false,
        notification: { reason: 'quality gate: failed by the quality gate policy (ci-quality-gate)' },
      });
      expect(failed.variables.deploy_staging).toBeUndefined();
      await app.engine.cancel(instanceId);
    } finally {
      await deployResources(app.engine, app.decisions, [{ name: 'ci-quality-gate.dmn', xml: table }], { name: 'ci-quality-gate.dmn' });
    }
  });

  it('when validator.score is handed forged phase_* variables, then it scores only the results the phase tasks recorded', async () => {
    // Given a process that runs the unit phase and scores, started with every other phase "passed" as start variables
    const { sequence } = await import('../support/bpmn.js');
    const xml = sequence('unit-then-score', [
      { id: 'unit', xml: '<bpmn:serviceTask id="unit" camunda:type="external" camunda:topic="validator.unit" />' },
      { id: 'score', xml: '<bpmn:serviceTask id="score" camunda:type="external" camunda:topic="validator.score" />' },
    ]);
    await app.engine.deploy([{ name: 'unit-then-score.bpmn', xml }]);
    const forged = Object.fromEntries(
      ['setup', 'unit', 'integration', 'performance', 'security', 'otel', 'registry', 'e2e'].map((name) => [
        `phase_${name}`,
        { name, passed: true, score: 1, weight: 100, required: false, durationMs: 1, summary: 'trust me' },
      ]),
    );
    const variables = { repository: project.repository, ref: 'main', subject: 'forged' };

    // When it runs once honestly and once with the forged variables
    const honest = await owner('POST', '/api/process-instances', { processKey: 'unit-then-score', variables });
    const forging = await owner('POST', '/api/process-instances', { processKey: 'unit-then-score', variables: { ...variables, ...forged } });
    const [plain, faked] = [await ended(honest.body.id), await ended(forging.body.id)];

    // Then both score the one recorded phase (unit, weight 3 of 12.5) and fail the gate for the phases that never ran
    for (const instance of [plain, faked]) {
      expect(instance.variables.validation).toMatchObject({ score: 0.24, passed: false });
      expect((instance.variables.validation as { reasons: string[] }).reasons).toContain('required phase setup failed');
    }
    const run = await owner('GET', `/api/validation-runs/${(faked.variables.validation as { runId: string }).runId}`);
    expect(run.body.phases.map((phase: { name: string; summary: string }) => `${phase.name}:${phase.summary}`)).toEqual([
      'setup:no result', 'unit:npm run test passed', 'integration:no result', 'performance:no result', 'security:no result', 'otel:no result', 'registry:no result', 'e2e:no result',
    ]);
  });

  it('when the branch moves between two phases, then the later phase, the score and the deploy use the commit the run pinned', async () => {
    // Given a run whose setup pinned branch pinned-run at its commit, waiting before the next phase
    const { sequence } = await import('../support/bpmn.js');
    const xml = sequence('pin-then-deploy', [
      { id: 'setup', xml: '<bpmn:serviceTask id="setup" camunda:type="external" camunda:topic="validator.setup" />' },
      { id: 'hold', xml: '<bpmn:userTask id="hold" />' },
      { id: 'unit', xml: '<bpmn:serviceTask id="unit" camunda:type="external" camunda:topic="validator.unit" />' },
      { id: 'score', xml: '<bpmn:serviceTask id="score" camunda:type="external" camunda:topic="validator.score" />' },
      { id: 'staging', xml: '<bpmn:serviceTask id="staging" camunda:type="external" camunda:topic="deploy.staging" />' },
    ]);
    await app.engine.deploy([{ name: 'pin-then-deploy.bpmn', xml }]);
    const validated = project.commit({ 'docs/pinned.md': 'validated\n' }, 'the commit under validation', 'pinned-run');
    const started = await owner('POST', '/api/process-instances', { processKey: 'pin-then-deploy', variables: { repository: project.repository, ref: 'pinned-run', subject: 'pinned' } });
    const instanceId = started.body.id as string;
    const hold = await waitForTask(instanceId, 'hold');

    // When the branch moves to a commit whose unit tests and staging deploy fail, and the run goes on
    const moved = project.commit(
      { 'test/broken.test.mjs': "import { test } from 'node:test';\ntest('broken', () => { throw new Error('broken'); });\n", FAIL_staging: 'staging would fail\n' },
      'a commit nobody validated',
      'pinned-run',
    );
    expect(project.git('rev-parse', 'pinned-run')).toBe(moved);
    await owner('POST', `/api/tasks/${hold.id}/complete`, {});
    const instance = await ended(instanceId);

    // Then unit ran, was recorded and scored at the pinned commit, and staging deployed that commit
    expect(instance.status).toBe('completed');
    expect(instance.variables.phase_unit).toMatchObject({ passed: true });
    expect(await app.database.knex('validation_phase_results').where({ instance_id: instanceId }).orderBy('phase').pluck('commit')).toEqual([validated, validated]);
    expect(instance.variables.validation).toMatchObject({ commit: validated });
    expect((instance.variables.validation as { reasons: string[] }).reasons).not.toContain('required phase unit failed');
    expect(instance.variables.deploy_staging).toMatchObject({ commit: validated });
    expect(JSON.stringify(instance.variables.deploy_staging)).toContain('deployed to staging');
  });

  it('when the post-deploy watch fails after the production release, then the pipeline rolls back to the previous ref', async () => {
    const risky = project.commit({ FAIL_watch: 'the watch will see errors\n' }, 'a release the watch rejects', 'risky');
    const started = await owner('POST', '/api/process-instances', { processKey: 'ci-pipeline', variables: { repository: project.repository, ref: risky, previousRef: 'main', subject: 'shop-risky' } });
    const instanceId = started.body.id as string;
    const approval = await waitForTask(instanceId, 'approval');
    await owner('POST', `/api/tasks/${approval.id}/complete`, { variables: { approved: true } });
    const instance = await ended(instanceId);
    const endsAt = await endEvents(instanceId);
    expect(endsAt).toContain('rolled_back');
    expect(endsAt).not.toContain('released');
    expect(instance.variables).toMatchObject({ failedStep: 'deploy.watch' });
    expect(JSON.stringify(instance.variables.deploy_production)).toContain('deployed to production');
    expect(JSON.stringify(instance.variables.deploy_rollback)).toContain('deployed to rollback');
  });

  it('when the rollback itself fails, then an operator rolls back by hand and the pipeline ends rolled back by hand, not failed', async () => {
    // Given the previous release has no rollback script and the new one fails its post-deploy watch
    const previous = project.commit({ 'package.json': await withoutScripts('rollback') }, 'a release without a rollback script', 'no-rollback');
    const risky = project.commit({ FAIL_watch: 'the watch will see errors\n' }, 'a release the watch rejects', 'risky-again');
    const started = await owner('POST', '/api/process-instances', { processKey: 'ci-pipeline', variables: { repository: project.repository, ref: risky, previousRef: previous, subject: 'shop-no-rollback' } });
    const instanceId = started.body.id as string;
    const approval = await waitForTask(instanceId, 'approval');
    await owner('POST', `/api/tasks/${approval.id}/complete`, { variables: { approved: true } });

    // When the watch fails and the automatic rollback finds no script
    const byHand = await waitForTask(instanceId, 'rollback_by_hand');

    // Then the instance waits for an operator, with why the rollback did not happen
    const waiting = await app.engine.getInstance(instanceId);
    expect(waiting.status).toBe('active');
    expect(waiting.variables).toMatchObject({
      failedStep: 'deploy.rollback',
      deploy_rollback: { commands: [{ exitCode: null, missingScript: 'rollback', output: 'script rollback is missing from package.json' }] },
    });
    expect(JSON.stringify(waiting.variables.deploy_watch)).toContain('watch failed');
    expect(await app.database.knex('user_tasks').where({ id: byHand.id }).first()).toMatchObject({ candidate_groups: ['operators'] });

    // and once the operator rolled back, the pipeline ends there
    expect((await owner('POST', `/api/tasks/${byHand.id}/complete`, { variables: { rollbackNote: 'redeployed the previous release by hand' } })).status).toBe(200);
    const instance = await ended(instanceId);
    expect(instance.status).toBe('completed');
    const endsAt = await endEvents(instanceId);
    expect(endsAt).toContain('rolled_back_by_hand');
    expect(endsAt).not.toContain('rolled_back');
    expect(instance.variables).toMatchObject({ rollbackNote: 'redeployed the previous release by hand' });
  });

  it('when the rollback cannot even start (the previous ref is unknown), then it goes to an operator too, not to an incident', async () => {
    // Given a release the watch rejects, whose previousRef names nothing in the repository
    const risky = project.commit({ FAIL_watch: 'the watch will see errors\n' }, 'a release the watch rejects', 'risky-unknown-previous');
    const started = await owner('POST', '/api/process-instances', { processKey: 'ci-pipeline', variables: { repository: project.repository, ref: risky, previousRef: 'release/never-existed', subject: 'shop-unknown-previous' } });
    const instanceId = started.body.id as string;
    const approval = await waitForTask(instanceId, 'approval');
    await owner('POST', `/api/tasks/${approval.id}/complete`, { variables: { approved: true } });

    // When the watch fails and the rollback's worktree cannot be made
    const byHand = await waitForTask(instanceId, 'rollback_by_hand');

    // Then an operator is asked at once, with why, and no incident was raised
    const waiting = await app.engine.getInstance(instanceId);
    expect(waiting.variables).toMatchObject({ failedStep: 'deploy.rollback' });
    expect(JSON.stringify(waiting.variables.deploy_rollback)).toContain('WORKTREE_FAILED');
    expect(await app.database.knex('incidents').where({ instance_id: instanceId })).toEqual([]);
    await owner('POST', `/api/tasks/${byHand.id}/complete`, { variables: { rollbackNote: 'by hand' } });
    expect((await ended(instanceId)).status).toBe('completed');
  });

  it('when a feature deploy fails and so does its rollback, then the feature lifecycle hands the rollback to an operator', async () => {
    // Given a base whose production deploy fails and which has no rollback script
    const base = project.commit({ 'package.json': await withoutScripts('rollback'), FAIL_production: 'production refuses this\n' }, 'a base that cannot deploy or roll back', 'fragile-base');
    const started = await owner('POST', '/api/process-instances', {
      processKey: 'feature-lifecycle',
      variables: { repository: project.repository, baseRef: base, feature: 'refunds', entities: [{ name: 'refund', fields: [{ name: 'amount', type: 'number' }] }] },
    });
    const instanceId = started.body.id as string;
    const approval = await waitForTask(instanceId, 'approval');

    // When the feature is approved, its deploy fails and the rollback to the base fails too
    await owner('POST', `/api/tasks/${approval.id}/complete`, { variables: { approved: true } });
    const byHand = await waitForTask(instanceId, 'rollback_by_hand');

    // Then an operator is asked, and completing the task ends the feature rolled back by hand
    expect((await app.engine.getInstance(instanceId)).variables).toMatchObject({
      failedStep: 'deploy.rollback',
      deploy_rollback: { commands: [{ missingScript: 'rollback' }] },
    });
    await owner('POST', `/api/tasks/${byHand.id}/complete`, { variables: {} });
    const instance = await ended(instanceId);
    expect(instance.status).toBe('completed');
    const endsAt = await endEvents(instanceId);
    expect(endsAt).toContain('rolled_back_by_hand');
    expect(endsAt).not.toContain('released');
  });

  /**
   * A base whose own test writes MODELS.md, an index of the models in the worktree: each agent's
   * test run rewrites its one line, so two agents of one feature always conflict on it.
   */
  const indexedBase = (branch: string) =>
    project.commit(
      {
        'MODELS.md': 'no models yet\n',
        'test/models-index.test.mjs': [
          "import { test } from 'node:test';",
          "import { existsSync, readdirSync, writeFileSync } from 'node:fs';",
          "test('the index lists the models', () => {",
          "  writeFileSync('MODELS.md', (existsSync('src/models') ? readdirSync('src/models').sort().join(' ') : 'no models yet') + '\\n');",
          '});',
          '',
        ].join('\n'),
      },
      'an index of the models that every test run rewrites',
      branch,
    );
  const twoEntities = [
    { name: 'invoice', fields: [{ name: 'total', type: 'number' }] },
    { name: 'customer', fields: [{ name: 'email', type: 'email' }] },
  ];
  /** The user task, or the instance's end when the process asks nobody (the test then fails on the missing task). */
  const waitForTaskOrEnd = async (instanceId: string, activityId: string) => {
    const found = await eventually(async () => {
      const tasks = (await owner('GET', `/api/tasks?instanceId=${instanceId}`)).body as Array<{ id: string; activityId: string }>;
      const task = tasks.find((candidate) => candidate.activityId === activityId);
      if (task) return { task };
      const instance = await app.engine.getInstance(instanceId);
      return instance.status !== 'active' && { task: undefined, ended: `${instance.status} at ${(await endEvents(instanceId)).join(', ')}` };
    }, 60_000);
    expect(found).toEqual({ task: expect.objectContaining({ id: expect.any(String) }) });
    return found.task!;
  };

  it('when two agents conflict, then a developer is asked, fixes an agent branch, and the feature is merged again and goes on', async () => {
    // Given a base on which the invoice and customer agents both rewrite MODELS.md
    const base = indexedBase('models-index');
    const started = await owner('POST', '/api/process-instances', { processKey: 'feature-lifecycle', variables: { repository: project.repository, baseRef: base, feature: 'ledger', entities: twoEntities } });
    const instanceId = started.body.id as string;

    // When their branches are merged
    const resolve = await waitForTaskOrEnd(instanceId, 'resolve_merge_conflict');

    // Then the instance waits for a person, with git's account of the conflict
    const waiting = await app.engine.getInstance(instanceId);
    expect(waiting.status).toBe('active');
    expect(waiting.variables.mergeFailure).toEqual(expect.stringContaining('merging feature/ledger--customer into feature/ledger failed'));
    expect(waiting.variables.mergeFailure).toEqual(expect.stringContaining('CONFLICT'));
    expect(waiting.variables.mergeFailure).toEqual(expect.stringContaining('MODELS.md'));
    expect(await app.database.knex('user_tasks').where({ id: resolve.id }).first()).toMatchObject({ candidate_groups: ['developers'] });
    // the failed attempt committed no conflict markers and left no worktree behind
    expect(project.git('show', 'feature/ledger:MODELS.md')).not.toContain('<<<<<<<');
    await eventually(async () => project.git('worktree', 'list').split('\n').length === 1);

    // When the developer merges the invoice branch into the customer branch, resolves MODELS.md there and merges again
    project.git('checkout', '-q', 'feature/ledger--customer');
    expect(() => project.git('merge', '-q', '--no-edit', 'feature/ledger--invoice')).toThrow();
    expect(project.git('diff', '--name-only', '--diff-filter=U')).toBe('MODELS.md');
    await writeFile(join(project.repository, 'MODELS.md'), 'customer.ts invoice.ts\n');
    project.git('add', '-A');
    project.git('commit', '-q', '--no-edit');
    // and, still looking at the feature branch, asks for the merge again
    project.git('checkout', '-q', 'feature/ledger');
    expect((await owner('POST', `/api/tasks/${resolve.id}/complete`, { variables: { abandonFeature: false } })).status).toBe(200);

    // Then git cannot make the feature branch again while it is checked out, and the developer is asked again, told why
    const again = await waitForTaskOrEnd(instanceId, 'resolve_merge_conflict');
    expect(again.id).not.toBe(resolve.id);
    expect((await app.engine.getInstance(instanceId)).variables.mergeFailure).toEqual(expect.stringMatching(/^feature\/ledger could not be made again from .*already (checked out|used by worktree)/s));
    project.git('checkout', '-q', 'main');
    expect((await owner('POST', `/api/tasks/${again.id}/complete`, { variables: { abandonFeature: false } })).status).toBe(200);

    // Then the branches merge on the second attempt (the feature branch starts again from the base) and the lifecycle goes on to approval
    const approval = await waitForTaskOrEnd(instanceId, 'approval');
    const merged = await app.engine.getInstance(instanceId);
    expect(merged.variables).toMatchObject({ featureBranch: 'feature/ledger', merged: ['feature/ledger--invoice', 'feature/ledger--customer'], quality: 1, gatePassed: true });
    expect(project.git('show', 'feature/ledger:MODELS.md')).toBe('customer.ts invoice.ts');
    expect(project.git('log', '--first-parent', '--format=%s', `${base}..feature/ledger`).split('\n')).toEqual(['merge feature/ledger--customer', 'merge feature/ledger--invoice']);
    const syncs = await app.database.knex('history').where({ instance_id: instanceId, activity_id: 'sync', event: 'start' }).count({ count: '*' }).first();
    expect(Number(syncs?.count)).toBe(3);

    await owner('POST', `/api/tasks/${approval.id}/complete`, { variables: { approved: false } });
    expect(await ended(instanceId)).toMatchObject({ status: 'completed' });
    expect(await endEvents(instanceId)).toContain('rejected');
  });

  it('when two agents conflict and the developer abandons the feature, then the lifecycle ends abandoned after the merge conflict', async () => {
    // Given two agents that conflict on MODELS.md
    const base = indexedBase('models-index-again');
    const started = await owner('POST', '/api/process-instances', { processKey: 'feature-lifecycle', variables: { repository: project.repository, baseRef: base, feature: 'payroll', entities: twoEntities } });
    const instanceId = started.body.id as string;
    const resolve = await waitForTaskOrEnd(instanceId, 'resolve_merge_conflict');

    // When the developer abandons the feature
    expect((await owner('POST', `/api/tasks/${resolve.id}/complete`, { variables: { abandonFeature: true } })).status).toBe(200);

    // Then the instance ends there, merged no second time
    const instance = await ended(instanceId);
    expect(instance.status).toBe('completed');
    const endsAt = await endEvents(instanceId);
    expect(endsAt).toContain('merge_abandoned');
    expect(endsAt).not.toContain('integration_tests');
    expect(await app.database.knex('history').where({ instance_id: instanceId, activity_id: 'sync', event: 'start' })).toHaveLength(1);
  });

  it('when a shipped process runs a topic that throws BPMN errors, then a boundary event catches each code where it is thrown', async () => {
    // Given every built-in topic that declares the BPMN errors it throws
    const throwing = new Map(app.registry.topics().filter((topic) => topic.bpmnErrors?.length).map((topic) => [topic.topic, topic.bpmnErrors!]));
    expect([...throwing.keys()]).toEqual(expect.arrayContaining(['agent.sync', 'deploy.rollback', 'deploy.production', 'validator.unit']));

    // When the shipped diagrams are read
    const { BpmnModdle } = await import('bpmn-moddle');
    const { createRequire } = await import('node:module');
    const moddle = new BpmnModdle({ camunda: createRequire(import.meta.url)('camunda-bpmn-moddle/resources/camunda.json') });
    type Element = { $type: string; id: string; topic?: string; flowElements?: Element[]; attachedToRef?: Element; eventDefinitions?: Array<{ $type: string; errorRef?: { errorCode?: string } }> };
    const uncaught: string[] = [];
    let checked = 0;
    for (const file of (await readdir(join(repositoryRoot, 'processes'))).filter((name) => name.endsWith('.bpmn'))) {
      const { rootElement } = await moddle.fromXML(await readFile(join(repositoryRoot, 'processes', file), 'utf8'), 'bpmn:Definitions');
      const processes = (rootElement as unknown as { rootElements: Element[] }).rootElements.filter((element) => element.$type === 'bpmn:Process');
      // An error thrown in a task is caught by an error boundary event (of its code, or of any) on the task or on a sub-process around it.
      type Scope = { element: Element; siblings: Element[] };
      const catches = (scopes: Scope[], code: string) =>
        scopes.some(({ element, siblings }) =>
          siblings.some(
            (event) =>
              event.$type === 'bpmn:BoundaryEvent' &&
              event.attachedToRef?.id === element.id &&
              event.eventDefinitions?.some((definition) => definition.$type === 'bpmn:ErrorEventDefinition' && (!definition.errorRef?.errorCode || definition.errorRef.errorCode === code)),
          ),
        );
      const visit = (siblings: Element[], enclosing: Scope[]) => {
        for (const element of siblings) {
          const scopes = [{ element, siblings }, ...enclosing];
          if (element.flowElements) visit(element.flowElements, scopes);
          for (const code of (element.topic && throwing.get(element.topic)) || []) {
            checked++;
            if (!catches(scopes, code)) uncaught.push(`${file} ${element.id} (${element.topic}) ${code}`);
          }
        }
      };
      for (const process of processes) visit(process.flowElements ?? [], []);
    }

    // Then each code is caught
    expect(checked).toBeGreaterThan(10);
    expect(uncaught).toEqual([]);
  });

  it('when the nightly timer comes due, then ci-nightly runs the pipeline on the configured repository as a call activity', async () => {
    // 24 hours pass: the timer-start job is due now.
    await app.database.knex('jobs').where({ kind: 'timer-start', activity_id: 'nightly' }).update({ due_at: new Date(Date.now() - 1000) });
    const nightly = await eventually(async () => app.database.knex('process_instances').where({ process_key: 'ci-nightly' }).first(), 10_000);
    const pipeline = await eventually(async () => app.database.knex('process_instances').where({ parent_instance_id: nightly.id }).first(), 10_000);
    const approval = await waitForTask(pipeline.id, 'approval');
    expect((await app.engine.getInstance(pipeline.id)).variables).toMatchObject({ ref: 'main', gatePassed: true, subject: `nightly:${project.repository}` });
    await owner('POST', `/api/tasks/${approval.id}/complete`, { variables: { approved: false } });
    expect(await ended(nightly.id)).toMatchObject({ status: 'completed' });
    expect(await endEvents(pipeline.id)).toContain('release_rejected');
  });
});
