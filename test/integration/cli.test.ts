import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bpmn } from '../support/bpmn.js';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(repositoryRoot, 'src/cli/main.ts')];

/** The client commands against a real server, as a user types them. */
describe('regenflow CLI client commands', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let base: string;
  const call = () => httpClient(base);

  const cli = async (args: string[], token: string | null = TEST_TOKENS.operator) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [...CLI, '--url', base, ...args], {
        cwd: repositoryRoot,
        env: { ...process.env, REGENFLOW_TOKEN: token ?? '' },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    const xml = bpmn(
      'cli_flow',
      `<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="approve" name="Approve the change"><bpmn:extensionElements><camunda:formData>
        <camunda:formField id="approved" type="boolean" /></camunda:formData></bpmn:extensionElements>
        <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
      <bpmn:serviceTask id="notify" name="Notify" camunda:type="external" camunda:topic="cli.notify"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>
      <bpmn:intermediateCatchEvent id="pause" name="Pause"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
        <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
      <bpmn:endEvent id="done" name="Done"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
      <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="notify" />
      <bpmn:sequenceFlow id="f3" sourceRef="notify" targetRef="pause" />
      <bpmn:sequenceFlow id="f4" sourceRef="pause" targetRef="done" />`,
    );
    await app.engine.deploy([{ name: 'cli.bpmn', xml }]);
  });
  afterAll(async () => {
    await app.dispose();
  });

  it('when no server listens or the token is refused, then the CLI says what to do, not a stack trace', async () => {
    // A port nobody listens on: bound once, then closed.
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const refused = (await run(process.execPath, [...CLI, '--url', `http://127.0.0.1:${port}`, 'instances'], { cwd: repositoryRoot }).then(() => ({ code: 0, stderr: '' }), (error) => error)) as { code: number; stderr: string };
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`no regenflow server answers at http://127.0.0.1:${port}`);
    expect(refused.stderr).toContain('regenflow serve');

    const wrong = await cli(['instances'], 'not-the-token');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('refused the token in REGENFLOW_TOKEN');
    expect(wrong.stderr).toContain('cat data/admin-token');
    const none = await cli(['instances'], null);
    expect(none.stderr).toContain('set REGENFLOW_TOKEN');
    const forbidden = await cli(['jobs', 'list'], TEST_TOKENS.alert);
    expect(forbidden.stderr).toContain('regenflow whoami');

    const version = await cli(['--version']);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')).version);
  });

  it('when an instance is started with --follow, then each step is printed as it commits, and tasks, complete, incidents, retry and jobs run move it to its end', async () => {
    const following = spawn(process.execPath, [...CLI, '--url', base, 'start', 'cli_flow', '--var', 'ticket=CHG-1', '--follow'], {
      cwd: repositoryRoot,
      env: { ...process.env, REGENFLOW_TOKEN: TEST_TOKENS.operator },
    });
    let printed = '';
    following.stdout.on('data', (chunk) => (printed += String(chunk)));
    const exited = new Promise<number>((resolve) => following.on('exit', (code) => resolve(code ?? -1)));
    await eventually(async () => printed.includes('→ user task Approve the change (approve)'), 20_000);

    const tasks = await cli(['tasks', '--key', 'cli_flow']);
    expect(tasks.stdout).toContain('Approve the change');
    expect(tasks.stdout).toContain('fields: approved:boolean');
    const taskId = tasks.stdout.trim().split(/\s+/)[0]!;
    expect((await cli(['complete', taskId, '--var', 'approved=true'])).code).toBe(0);
    await eventually(async () => printed.includes('✓ user task Approve the change (approve)'));

    // The worker fails the external task with no retries left: an incident, which follow reports.
    const worker = httpClient(base, TEST_TOKENS.worker);
    const [locked] = (await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'cli-worker', maxTasks: 1, topics: [{ topicName: 'cli.notify', lockDuration: 10_000 }] })).body;
    const issues = JSON.stringify([{ code: 'invalid_type', path: ['smtpHost'], message: 'Invalid input: expected string, received undefined' }], null, 2);
    await worker('POST', `/engine-rest/external-task/${locked.id}/failure`, { workerId: 'cli-worker', errorMessage: issues, retries: 0, retryTimeout: 0 });
    const incidents = await cli(['incidents', '--key', 'cli_flow']);
    expect(incidents.stdout).toContain('failedExternalTask');
    expect(incidents.stdout).toContain('input `smtpHost` is missing');
    await eventually(async () => printed.includes('incident at notify: input `smtpHost` is missing'));
    expect((await cli(['retry', incidents.stdout.trim().split(/\s+/)[0]!])).stdout).toContain('retried incident');
    expect((await cli(['incidents', '--key', 'cli_flow'])).stdout).toContain('no incidents');
    const [again] = (await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'cli-worker', maxTasks: 1, topics: [{ topicName: 'cli.notify', lockDuration: 10_000 }] })).body;
    expect((await worker('POST', `/engine-rest/external-task/${again.id}/complete`, { workerId: 'cli-worker', variables: {} })).status).toBe(204);

    // The one-hour timer, run now.
    const jobs = await cli(['jobs']);
    const timerLine = jobs.stdout.split('\n').find((line) => line.includes('pause'))!;
    expect(timerLine).toContain('timer');
    expect((await cli(['jobs', 'run', timerLine.split(/\s+/)[0]!])).code).toBe(0);

    expect(await exited).toBe(0);
    expect(printed).toContain('→ intermediate catch event Pause (pause)');
    expect(printed).toContain('✓ end event Done (done)');
    expect(printed.trim().split('\n').at(-1)).toBe('instance completed');
    const [instance] = (await call()('GET', '/api/process-instances?processKey=cli_flow')).body;
    expect(instance).toMatchObject({ status: 'completed', variables: { ticket: 'CHG-1', approved: true } });
  });

  it('when a start lacks its start variables, then the CLI shows the server naming them and exits 1', async () => {
    const xml = bpmn(
      'cli_form',
      `<bpmn:startEvent id="start"><bpmn:extensionElements><camunda:formData><camunda:formField id="repository" type="string"><camunda:validation><camunda:constraint name="required" /></camunda:validation></camunda:formField></camunda:formData></bpmn:extensionElements><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />`,
    );
    await app.engine.deploy([{ name: 'cli-form.bpmn', xml }]);
    const refused = await cli(['start', 'cli_form']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("missing 'repository'");
  });
});
