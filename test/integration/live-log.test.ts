import { jest } from '@jest/globals';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LiveLog } from '../../service-tasks/agent/live-log.js';
import { followInstance, lastLine } from '../../src/cli/follow.js';
import { httpRequest } from '../../src/cli/http-client.js';
import type { CommandOutputEntry } from '../../src/store/command-output.js';
import { deleteEndedInstances } from '../../src/store/transitions.js';
import { sequence } from '../support/bpmn.js';
import { createNodeProject } from '../support/node-project.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

/**
 * The live log of a long validation phase: its output reaches the store in batches while it
 * runs, a reader follows it over HTTP from a cursor (long poll), and it ends with the phase's
 * result. The phase here prints until the test lets it finish, so "while it runs" is a fact.
 */
describe('live log of long phases over HTTP', () => {
  jest.setTimeout(60_000);
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let project: Awaited<ReturnType<typeof createNodeProject>>;
  let operator: ReturnType<typeof httpClient>;
  let base: string;
  const release = () => join(project.root, 'release');

  beforeAll(async () => {
    project = await createNodeProject();
    // Prints a line every 50 ms until the release file exists, then one last line; never longer than 20 s.
    const script = `const fs=require('fs');let i=0;const t=setInterval(()=>{console.log('tick '+(++i));if(fs.existsSync(process.argv[1])||i>400){clearInterval(t);console.error('released after '+i);}},50);`;
    const phases = join(project.root, 'phases.yaml');
    await writeFile(
      phases,
      `gate: 0.5\nregistry: semconv/registry.yaml\nphases:\n  - { name: unit, kind: command, argv: [node, -e, ${JSON.stringify(script)}, ${JSON.stringify(join(project.root, 'release'))}], weight: 1, timeoutMs: 30000, required: true }\n`,
    );
    app = await createTestApp({
      builtIns: true,
      env: {
        REGENFLOW_DATA_DIR: join(project.root, 'data'),
        REGENFLOW_AGENT_REPOSITORIES: join(project.root, 'repos'),
        REGENFLOW_VALIDATOR_PHASES: phases,
        REGENFLOW_WORKER_RETRY_MS: '100',
      },
    });
    base = `http://127.0.0.1:${await app.listen()}`;
    operator = httpClient(base, TEST_TOKENS.operator);
    const xml = sequence('long_phase', [{ id: 'unit', xml: '<bpmn:serviceTask id="unit" name="Unit tests" camunda:type="external" camunda:topic="validator.unit" />' }]);
    await app.engine.deploy([{ name: 'long-phase.bpmn', xml }]);
  });
  afterAll(async () => {
    await app?.dispose();
    await project?.remove();
  });

  it('when a phase runs, then its output is readable before it ends, in order from a cursor, and the log ends with its result', async () => {
    // Given a phase that prints until released
    const started = await operator('POST', '/api/process-instances', { processKey: 'long_phase', variables: { repository: project.repository, ref: 'main' } });
    expect(started.status).toBe(201);
    const id = started.body.id as string;

    // When the log is long-polled while it runs
    const entries: Array<{ cursor: number; kind: string; run: string; activityId: string; text: string; data: any }> = [];
    let cursor = 0;
    const poll = async () => {
      const answer = await operator('GET', `/api/process-instances/${id}/logs?after=${cursor}&waitMs=5000`);
      expect(answer.status).toBe(200);
      entries.push(...answer.body.entries);
      cursor = answer.body.cursor;
      return answer.body;
    };
    const live = await eventually(async () => {
      const answer = await poll();
      return entries.some((entry) => entry.kind === 'output' && entry.text.includes('tick 3')) && answer;
    }, 30_000);

    // Then output is there while the instance is still active, under the phase's start
    expect(live.status).toBe('active');
    expect((await app.engine.getInstance(id)).status).toBe('active');
    expect(entries[0]).toMatchObject({ kind: 'start', run: 'unit', activityId: 'unit' });
    expect(entries[0]!.text).toContain('phase unit: node -e');
    expect(entries.some((entry) => entry.kind === 'end')).toBe(false);

    // When the phase is let go, the rest of the log follows from the cursor
    await writeFile(release(), '');
    await eventually(async () => (await poll(), entries.some((entry) => entry.kind === 'end')), 30_000);
    const output = entries.filter((entry) => entry.kind === 'output').map((entry) => entry.text).join('');
    const ticks = [...output.matchAll(/tick (\d+)/g)].map((match) => Number(match[1]));
    // Every line once, in order: the cursor neither skips nor repeats a batch.
    expect(ticks).toEqual(ticks.map((_tick, index) => index + 1));
    expect(output).toMatch(/released after \d+/);
    expect(new Set(entries.map((entry) => entry.cursor)).size).toBe(entries.length);
    // Batches, not a row per line.
    expect(entries.filter((entry) => entry.kind === 'output').length).toBeLessThan(ticks.length);
    const end = entries.at(-1)!;
    expect(end).toMatchObject({ kind: 'end', run: 'unit', data: { passed: true, exitCode: 0, timedOut: false } });
    expect(end.text).toContain('passed');

    // And a long poll after the end answers at once once the instance ended, with nothing new
    await eventually(async () => (await app.engine.getInstance(id)).status === 'completed', 30_000);
    const before = Date.now();
    const after = await operator('GET', `/api/process-instances/${id}/logs?after=${cursor}&waitMs=20000`);
    expect(after.body).toMatchObject({ status: 'completed', cursor, entries: [] });
    expect(Date.now() - before).toBeLessThan(15_000);

    // And the log goes with the instance when history retention deletes it
    expect(await app.database.knex('command_output').where({ instance_id: id }).count('* as n').first()).toMatchObject({ n: expect.anything() });
    await app.database.knex('process_instances').where({ id }).update({ ended_at: new Date(Date.now() - 3 * 86_400_000) });
    await deleteEndedInstances(app.database.knex, 1);
    expect(Number((await app.database.knex('command_output').where({ instance_id: id }).count('* as n').first())!.n)).toBe(0);
  });

  it('when `regenflow start --follow` follows an instance, then its progress line shows what the running phase prints, and the phase result is printed', async () => {
    await rm(release(), { force: true });
    const started = await operator('POST', '/api/process-instances', { processKey: 'long_phase', variables: { repository: project.repository, ref: 'main' } });
    const lines: string[] = [];
    const progress: string[] = [];
    const request = httpRequest(() => ({ url: base, token: TEST_TOKENS.operator }));
    const followed = followInstance(request, started.body.id, { intervalMs: 100, out: (line) => lines.push(line), progress: (line) => progress.push(line) });
    await eventually(async () => progress.some((line) => /│ unit: tick \d+/.test(line)), 30_000);
    await writeFile(release(), '');
    expect(await followed).toBe('completed');
    expect(progress.find((line) => line.includes('│ unit: tick'))).toMatch(/^… unit \(validator\.unit\) .*\(\d+ s\) │ unit: tick \d+$/);
    expect(lines).toContainEqual(expect.stringMatching(/^ {3}✓ unit: .*passed/));
    expect(lines.at(-1)).toBe('instance completed');
  });

  it('when the query is careless or the instance unknown, then the answer is a problem', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const check = async (path: string, status: number) => {
      const response = await fetch(base + path, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
    };
    await check(`/api/process-instances/${unknown}/logs`, 404);
    await check(`/api/process-instances/not-a-uuid/logs`, 400);
    await check(`/api/process-instances/${unknown}/logs?after=-1`, 400);
    await check(`/api/process-instances/${unknown}/logs?waitMs=600000`, 400);
    await check(`/api/process-instances/${unknown}/logs?after=1&tail=yes`, 400);
    const anonymous = await fetch(`${base}/api/process-instances/${unknown}/logs`);
    expect(anonymous.status).toBe(401);
  });
});

describe('LiveLog', () => {
  it('when output ends in blank lines or colour codes, then the progress line shows its last words, cut to fit', () => {
    expect(lastLine('one\n\x1b[32mtwo ok\x1b[0m\n\n')).toBe('two ok');
    expect(lastLine('50%\r75%\r')).toBe('75%');
    expect(lastLine('x'.repeat(200), 10)).toBe(`${'x'.repeat(9)}…`);
  });

  const store = () => {
    const written: CommandOutputEntry[][] = [];
    return { written, append: async (entries: CommandOutputEntry[]) => void written.push(entries) };
  };
  const target = { instanceId: 'i', activityId: 'a', run: 'unit' };

  it('when output comes faster than the flush interval, then it is written in one batch, and the end comes after it', async () => {
    const sink = store();
    const log = new LiveLog(sink, target, { flushMs: 60_000 });
    log.start('phase unit');
    for (let line = 0; line < 100; line++) log.write(`line ${line}\n`);
    await log.end({ passed: true, summary: 'ok' });
    const rows = sink.written.flat();
    expect(rows.map((row) => row.kind)).toEqual(['start', 'output', 'end']);
    expect(rows[1]!.text.split('\n')).toHaveLength(101);
  });

  it('when a run prints more than the bound, then what is kept stops there and one marker says how much was left out', async () => {
    const sink = store();
    const log = new LiveLog(sink, target, { flushMs: 60_000, maxBytes: 1000 });
    for (let chunk = 0; chunk < 50; chunk++) log.write('x'.repeat(100));
    await log.end({ passed: false, summary: 'failed' });
    const rows = sink.written.flat();
    const kept = rows.filter((row) => row.kind === 'output' && !row.text.includes('not kept'));
    expect(kept.map((row) => row.text).join('')).toHaveLength(1000);
    expect(rows.find((row) => row.text.includes('not kept'))!.text).toContain('4000 more bytes');
    expect(rows.at(-1)).toMatchObject({ kind: 'end', data: { passed: false } });
  });

  it('when the store fails, then the run goes on and the failure is reported', async () => {
    const errors: unknown[] = [];
    const log = new LiveLog({ append: async () => Promise.reject(new Error('database gone')) }, target, { flushMs: 1, onError: (error) => errors.push(error) });
    log.write('a');
    await expect(log.end({ passed: true, summary: 'ok' })).resolves.toBeUndefined();
    expect(errors.length).toBeGreaterThan(0);
  });
});
