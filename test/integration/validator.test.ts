import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readFile } from 'node:fs/promises';
import { assessAudit } from '../../service-tasks/validator/npm-audit.js';
import { loadPhases, DEFAULT_PHASES_FILE } from '../../service-tasks/validator/phase-config.js';
import { loadProfiles } from '../../service-tasks/agent/profiles.js';
import { score } from '../../service-tasks/validator/scoring.js';
import { checkRegistry, checkSpans, RegistrySchema } from '../../service-tasks/validator/semconv.js';
import type { PhaseResult } from '../../src/store/validation-runs.js';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

const phase = (name: string, weight: number, passed: boolean, required = false, value = passed ? 1 : 0): PhaseResult => ({ name, weight, passed, required, score: value, durationMs: 1, summary: '' });

describe('80/20 scoring and the quality gate', () => {
  it('when every phase passes, then the score is 1 and the gate passes', () => {
    const verdict = score([phase('unit', 3, true, true), phase('e2e', 2, true), phase('performance', 1, true)], 0.8);
    expect(verdict).toMatchObject({ score: 1, passed: true, reasons: [] });
  });

  it('when a light optional phase fails, then the score drops but stays above the gate', () => {
    const phases = [phase('setup', 1, true, true), phase('unit', 3, true, true), phase('integration', 2, true, true), phase('performance', 1, false), phase('security', 2, true, true), phase('otel', 1, true), phase('registry', 0.5, true), phase('e2e', 2, true, true)];
    const verdict = score(phases, 0.8);
    expect(verdict.score).toBeCloseTo(11.5 / 12.5, 3);
    expect(verdict).toMatchObject({ passed: true, vitalFew: ['unit', 'e2e', 'integration', 'security', 'otel'] });
  });

  it('when a phase of the vital few fails, then the gate fails even with a score above it', () => {
    const phases = [phase('unit', 10, true, true), phase('otel', 2, false), phase('lint', 1, true), phase('docs', 0.5, true), phase('style', 0.5, true)];
    const verdict = score(phases, 0.8);
    expect(verdict.score).toBeGreaterThan(0.8);
    expect(verdict).toMatchObject({ passed: false, reasons: ['vital phase otel failed'] });
  });

  it('when a required phase fails or the score is below the gate, then each reason is named', () => {
    const verdict = score([phase('unit', 1, false, true), phase('e2e', 1, true)], 0.8);
    expect(verdict).toMatchObject({ passed: false, score: 0.5 });
    expect(verdict.reasons).toEqual(['score 0.5 is below the gate 0.8', 'required phase unit failed', ]);
  });

  it('when an optional phase was skipped, then it scores 0 with its weight kept, and a skipped vital phase fails the gate', () => {
    const skipped = (name: string, weight: number): PhaseResult => ({ ...phase(name, weight, false), skipped: true });
    const light = score([phase('unit', 3, true, true), phase('e2e', 2, true, true), phase('integration', 2, true, true), phase('security', 2, true, true), phase('otel', 1, true), skipped('performance', 1)], 0.8);
    expect(light).toMatchObject({ score: 0.909, passed: true, skipped: ['performance'] });
    const vital = score([phase('unit', 3, true, true), skipped('otel', 3), phase('e2e', 2, true, true), phase('performance', 1, true)], 0.5);
    expect(vital).toMatchObject({ score: 0.667, vitalFew: ['otel', 'unit', 'e2e'], passed: false, reasons: ['vital phase otel was skipped'] });
  });

  it('when a phases or profiles file uses --if-present, then it is refused: a missing script would pass', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'regenflow-phases-'));
    try {
      await writeFile(join(folder, 'phases.yaml'), 'phases:\n  - { name: e2e, kind: command, argv: [npm, run, --if-present, test:e2e], weight: 1, timeoutMs: 1000, required: true }\n');
      await expect(loadPhases(join(folder, 'phases.yaml'))).rejects.toThrow('--if-present makes a missing script pass');
      await writeFile(join(folder, 'profiles.yaml'), 'profiles:\n  deploy.staging:\n    commands:\n      - { argv: [npm, run, --if-present, deploy:staging], timeoutMs: 1000 }\n');
      await expect(loadProfiles(join(folder, 'profiles.yaml'))).rejects.toThrow('--if-present makes a missing script pass');
      const shipped = await loadProfiles();
      expect(shipped['deploy.staging']!.commands).toEqual([{ argv: ['npm', 'run', 'deploy:staging'], script: 'deploy:staging', timeoutMs: 600000 }]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('when the shipped phases file is read, then it holds the nine phases in order', async () => {
    const file = await loadPhases(DEFAULT_PHASES_FILE);
    expect(file.phases.map((p) => p.name)).toEqual(['setup', 'unit', 'integration', 'performance', 'security', 'otel', 'registry', 'e2e', 'score']);
  });
});

describe('npm audit and semantic conventions', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'regenflow-audit-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('when npm audit reports on a real project, then its counts are read; high findings fail and errors are not passes', async () => {
    await writeFile(join(folder, 'package.json'), JSON.stringify({ name: 'audited', version: '1.0.0' }));
    const noLock = spawnAudit(folder);
    expect(assessAudit(noLock)).toMatchObject({ passed: false, score: 0, summary: expect.stringContaining('ENOLOCK') });
    await writeFile(join(folder, 'package-lock.json'), JSON.stringify({ name: 'audited', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'audited', version: '1.0.0' } } }));
    expect(assessAudit(spawnAudit(folder))).toMatchObject({ passed: true, score: 1, counts: { total: 0 } });
    const risky = JSON.stringify({ auditReportVersion: 2, vulnerabilities: {}, metadata: { vulnerabilities: { info: 0, low: 1, moderate: 2, high: 1, critical: 0, total: 4 } } });
    expect(assessAudit(risky)).toMatchObject({ passed: false, score: 0.65 });
  });

  it("when spans are checked against the regenflow registry, then missing required attributes, unknown attributes and wrong types are named", async () => {
    const registry = RegistrySchema.parse(parse(await readFile(join(repositoryRoot, 'semconv/registry.yaml'), 'utf8')));
    expect(checkRegistry(registry)).toEqual([]);
    const ok = { name: 'bpmn.activity serviceTask', attributes: { 'bpmn.process.key': 'p', 'bpmn.process.version': 1, 'bpmn.instance.id': 'i', 'bpmn.activity.id': 'a', 'bpmn.activity.type': 'bpmn:ServiceTask' } };
    expect(checkSpans(registry, [ok]).violations).toEqual([]);
    const bad = { name: 'bpmn.activity x', attributes: { 'bpmn.process.key': 'p', 'bpmn.process.version': '1', 'bpmn.instance.id': 'i', 'bpmn.activity.type': 't', 'custom.thing': true } };
    expect(checkSpans(registry, [bad, { name: 'http.get', attributes: {} }]).violations).toEqual([
      'span "bpmn.activity x" lacks required attribute bpmn.activity.id',
      'span "bpmn.activity x" attribute bpmn.process.version is string, not int',
      'span "bpmn.activity x" has attribute custom.thing, which the registry does not define',
      'span "http.get" matches no span group',
    ]);
  });

  it('when a registry refers to attributes nobody defines, then the registry check names them', () => {
    const registry = RegistrySchema.parse({ groups: [{ id: 'span.x', type: 'span', span_name_prefix: 'x', attributes: [{ ref: 'x.missing' }] }] });
    expect(checkRegistry(registry)).toEqual(['group span.x refers to undefined attribute x.missing']);
  });
});

function spawnAudit(cwd: string): string {
  try {
    return execFileSync('npm', ['audit', '--json'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? '');
  }
}

describe('validation runs over HTTP', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let operator: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    app = await createTestApp({ builtIns: true });
    operator = httpClient(`http://127.0.0.1:${await app.listen()}`, TEST_TOKENS.operator);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it("when an instance's spans are checked, then missing and slow activities fail it and the run is stored", async () => {
    const instance = await app.engine.start({ definitionId: await deployDmediLike(app) });
    const knex = app.database.knex;
    const at = Date.now();
    const span = (activityId: string, durationMs: number) => ({
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: Math.random().toString(16).slice(2, 18).padEnd(16, '0'),
      service_name: 'regenflow',
      name: `bpmn.activity ${activityId}`,
      start_time: new Date(at),
      end_time: new Date(at + durationMs),
      duration_ms: durationMs,
      instance_id: instance.id,
      activity_id: activityId,
      attributes: JSON.stringify({ 'bpmn.activity.id': activityId }),
    });
    // The spans the engine writes for the five DMEDI phases; improve ran too long and control never ran.
    await knex('spans').insert([span('define', 20), span('measure', 30), span('explore', 25), span('develop', 900)]);
    const expectations = ['define', 'measure', 'explore', 'develop', 'implement'].map((activityId) => ({ activityId, maxDurationMs: 500 }));
    const checked = await operator('POST', '/api/validation-runs/span-checks', { instanceId: instance.id, expectations });
    expect(checked.status).toBe(201);
    expect(checked.body).toMatchObject({ passed: false, score: 0.6, problems: ['develop took 900 ms, target 500 ms', 'implement did not run'] });
    const stored = await operator('GET', `/api/validation-runs/${checked.body.id}`);
    expect(stored.body.phases).toHaveLength(5);

    await knex('spans').insert([span('implement', 10)]);
    await knex('spans').where({ instance_id: instance.id, activity_id: 'develop' }).update({ duration_ms: 100 });
    const again = await operator('POST', '/api/validation-runs/span-checks', { instanceId: instance.id, expectations });
    expect(again.body).toMatchObject({ passed: true, score: 1 });
    const trend = await operator('GET', `/api/validation-runs/trend?subject=process-instance:${instance.id}`);
    expect(trend.body).toMatchObject({ runs: [{ score: 0.6 }, { score: 1 }], direction: 'improving', passRate: 0.5 });
  });

  it("when an instance ran on the engine, then its own activity spans pass the check and a missing activity fails it", async () => {
    // Given an instance that waited in a user task and was completed: the engine wrote its spans
    const instance = await app.engine.start({ definitionId: await deployDmediLike(app) });
    const [task] = await app.database.knex('user_tasks').where({ instance_id: instance.id });
    await app.engine.completeUserTask(task.id);
    await app.telemetry.flush();

    // When its spans are checked against what should have run
    const ran = await operator('POST', '/api/validation-runs/span-checks', {
      instanceId: instance.id,
      expectations: [{ activityId: 'hold', maxDurationMs: 60_000 }],
    });
    const missing = await operator('POST', '/api/validation-runs/span-checks', {
      instanceId: instance.id,
      expectations: [{ activityId: 'hold' }, { activityId: 'approve' }],
    });

    // Then the real span of the user task counts; an activity the diagram never ran does not
    expect(ran.body).toMatchObject({ passed: true, score: 1, problems: [] });
    expect((await operator('GET', `/api/validation-runs/${ran.body.id}`)).body.phases).toMatchObject([{ name: 'hold', passed: true }]);
    expect(missing.body).toMatchObject({ passed: false, score: 0.5, problems: ['approve did not run'] });
  });

  it('when a query is malformed, then the answer is a 400 problem', async () => {
    const response = await operator('POST', '/api/validation-runs/span-checks', { instanceId: 'nope', expectations: [] });
    expect(response.status).toBe(400);
    expect((await operator('GET', '/api/validation-runs/trend')).status).toBe(400);
    expect((await operator('GET', '/api/validation-runs/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});

async function deployDmediLike(app: Awaited<ReturnType<typeof createTestApp>>): Promise<string> {
  const { sequence } = await import('../support/bpmn.js');
  const xml = sequence('span_checked', [{ id: 'hold', xml: '<bpmn:userTask id="hold" />' }]);
  const deployment = await app.engine.deploy([{ name: 'span-checked.bpmn', xml }]);
  return deployment.definitions[0]!.id;
}
