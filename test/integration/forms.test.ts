import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployFolder } from '../../src/app.js';
import { validateSubmission } from '../../src/forms/index.js';
import { httpClient, repositoryRoot, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp } from '../support/test-app.js';

type Call = ReturnType<typeof httpClient>;

/** A form-js schema as the form-js editor saves it. */
const reviewForm = (extra: object[] = [], id = 'review') => ({
  type: 'default',
  id,
  schemaVersion: 16,
  components: [
    { type: 'text', id: 'Intro', text: '# Review' },
    { type: 'textfield', id: 'Reviewer', key: 'reviewer', label: 'Your name', validate: { required: true, minLength: 2, maxLength: 40 } },
    { type: 'number', id: 'Amount', key: 'amount', label: 'Amount', validate: { min: 1, max: 1000 }, decimalDigits: 0 },
    { type: 'textfield', id: 'Ticket', key: 'ticket', label: 'Ticket', validate: { pattern: '^(a+)+$' } },
    { type: 'checkbox', id: 'Approved', key: 'approved', label: 'Approve?' },
    {
      type: 'select',
      id: 'Severity',
      key: 'severity',
      label: 'Severity',
      values: [
        { label: 'Low', value: 'low' },
        { label: 'High', value: 'high' },
      ],
    },
    { type: 'textarea', id: 'Reason', key: 'reason', label: 'Why not?', validate: { required: true }, conditional: { hide: '=approved = true' } },
    { type: 'group', id: 'Contact', path: 'contact', components: [{ type: 'textfield', id: 'Email', key: 'email', validate: { validationType: 'email' } }] },
    ...extra,
  ],
});

const process = (id: string, taskAttributes: string, startAttributes = '') => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_${id}" targetNamespace="http://regenflow.dev/test">
  <bpmn:process id="${id}" isExecutable="true">
    <bpmn:startEvent id="start" ${startAttributes}><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review_task" name="Review" ${taskAttributes}><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review_task" />
    <bpmn:sequenceFlow id="f2" sourceRef="review_task" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>`;

let base = '';
async function multipart(path: string, files: Array<{ name: string; text: string }>, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const file of files) form.append(file.name, new Blob([file.text], { type: 'application/octet-stream' }), file.name);
  const response = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKENS.admin}` }, body: form });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
const formFile = (schema: object, name = 'review.form') => ({ name, text: JSON.stringify(schema, null, 2) });

describe('forms (form-js)', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Call;

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    admin = httpClient(base);
  });
  afterAll(async () => app.dispose());

  async function openTask(processKey: string, variables: object = {}) {
    const started = await admin('POST', '/api/process-instances', { processKey, variables });
    expect(started.status).toBe(201);
    const tasks = await admin('GET', `/api/tasks?instanceId=${started.body.id}`);
    return { instanceId: started.body.id as string, taskId: tasks.body[0].id as string };
  }

  it('when a .form is deployed beside the .bpmn that links it, then it is versioned per form id and the task shows it', async () => {
    const first = await multipart('/api/deployments', [formFile(reviewForm()), { name: 'reviewed.bpmn', text: process('reviewed', 'camunda:formRef="review" camunda:formRefBinding="deployment"') }]);
    expect(first.status).toBe(201);
    expect(first.body.forms).toEqual([expect.objectContaining({ key: 'review', version: 1, created: true })]);

    const { taskId } = await openTask('reviewed');
    const shown = await admin('GET', `/api/tasks/${taskId}/form`);
    expect(shown.status).toBe(200);
    expect(shown.body.form).toEqual(expect.objectContaining({ key: 'review', version: 1 }));
    expect(shown.body.form.schema.components[1].key).toBe('reviewer');

    // Unchanged: the same version; changed: the next one. The open task keeps its deployment's version.
    const again = await multipart('/api/deployments', [formFile(reviewForm())]);
    expect(again.body.forms).toEqual([expect.objectContaining({ version: 1, created: false })]);
    const changed = await multipart('/api/deployments', [formFile(reviewForm([{ type: 'textfield', id: 'Extra', key: 'extra' }]))]);
    expect(changed.body.forms).toEqual([expect.objectContaining({ version: 2, created: true })]);
    expect((await admin('GET', `/api/tasks/${taskId}/form`)).body.form.version).toBe(1);
    expect((await admin('GET', '/api/forms/review')).body.version).toBe(2);
    expect((await admin('GET', '/api/forms?key=review')).body.map((form: { version: number }) => form.version)).toEqual([2, 1]);
  });

  it('when a form is broken, then the deploy is a 400 naming the form and the component, and nothing is stored', async () => {
    const cases: Array<[object | string, RegExp]> = [
      ['{ not json', /broken\.form .*not JSON/],
      [reviewForm([{ type: 'slider', id: 'Slide', key: 'slide' }], 'broken'), /broken\.form was rejected \(component Slide\): unknown component type 'slider'/],
      [reviewForm([{ type: 'textfield', id: 'Again', key: 'reviewer' }], 'broken'), /\(component Again\): key 'reviewer' is also the key of component Reviewer/],
      [reviewForm([{ type: 'textfield', id: 'Back', key: 'back', validate: { pattern: '^(a)\\1$' } }], 'broken'), /\(component Back\): its pattern cannot be matched in linear time/],
      [reviewForm([{ type: 'textfield', id: 'Proto', key: '__proto__.polluted' }], 'broken'), /\(component Proto\).*prototype/],
      [reviewForm([{ type: 'number', id: 'NoKey' }], 'broken'), /\(component NoKey\): a number needs a key/],
    ];
    for (const [schema, message] of cases) {
      const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
      const refused = await multipart('/api/deployments', [{ name: 'broken.form', text }, { name: 'broken.bpmn', text: process('broken', 'camunda:formRef="broken"') }]);
      expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 400, code: 'INVALID_DEFINITION' });
      expect(refused.body.detail).toMatch(message);
    }
    expect((await admin('GET', '/api/forms?key=broken')).body).toEqual([]);
    expect((await admin('GET', '/api/process-definitions?key=broken')).body).toEqual([]);
  });

  it('when a diagram links a form that is not deployed, then the deploy is a 400 naming the element', async () => {
    const missing = await multipart('/api/deployments', [{ name: 'orphan.bpmn', text: process('orphan', 'camunda:formRef="nowhere"') }]);
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toMatch(/review_task links form 'nowhere'/);
    const byResource = await multipart('/api/deployments', [{ name: 'orphan.bpmn', text: process('orphan', 'camunda:formKey="camunda-forms:deployment:gone.form"') }]);
    expect(byResource.status).toBe(400);
    expect(byResource.body.detail).toMatch(/review_task links form resource 'gone.form' in this deployment/);
    // binding=deployment: a form deployed earlier is not in this deployment.
    const otherDeployment = await multipart('/api/deployments', [{ name: 'orphan.bpmn', text: process('orphan', 'camunda:formRef="review" camunda:formRefBinding="deployment"') }]);
    expect(otherDeployment.status).toBe(400);
    // A plain formKey that names no form stays an opaque key, as Camunda 7 keeps it.
    expect((await multipart('/api/deployments', [{ name: 'opaque.bpmn', text: process('opaque', 'camunda:formKey="embedded:app:forms/review.html"') }])).status).toBe(201);
    // A plain formKey naming a form id is that form once it is deployed, even after the diagram.
    expect((await multipart('/api/deployments', [{ name: 'late.bpmn', text: process('late', 'camunda:formKey="late-form"') }])).status).toBe(201);
    const { taskId } = await openTask('late');
    expect((await admin('GET', `/api/tasks/${taskId}/form`)).body.form).toBeNull();
    expect((await admin('POST', '/api/deployments', { name: 'late-form.form', xml: JSON.stringify(reviewForm([], 'late-form')) })).status).toBe(201);
    expect((await admin('GET', `/api/tasks/${taskId}/form`)).body.form).toEqual(expect.objectContaining({ key: 'late-form', version: 1 }));
    expect((await admin('POST', `/api/tasks/${taskId}/complete`, { variables: {} })).body.detail).toMatch(/'reviewer' is required/);
  });

  it('when a task completion breaks the form, then it is a 400 naming each field, whatever the input', async () => {
    await multipart('/api/deployments', [formFile(reviewForm([], 'checked'), 'checked.form'), { name: 'checked.bpmn', text: process('checked', 'camunda:formKey="camunda-forms:deployment:checked.form"') }]);
    const { taskId, instanceId } = await openTask('checked');
    const complete = (variables: unknown) => admin('POST', `/api/tasks/${taskId}/complete`, { variables });

    const wrong = await complete({ reviewer: 7, amount: '12.5', severity: 'apocalyptic', approved: 'yes', contact: { email: 'nope' } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.code).toBe('FORM_VALIDATION_FAILED');
    const fields = wrong.body.details.violations.map((violation: { field: string }) => violation.field).sort();
    expect(fields).toEqual(['amount', 'approved', 'contact.email', 'reason', 'reviewer', 'severity']);
    expect(wrong.body.detail).toMatch(/'severity' must be one of "low", "high"/);

    // A catastrophic pattern on a long input answers (RE2, linear time), and refuses it.
    const catastrophic = await complete({ reviewer: 'ana', approved: true, ticket: `${'a'.repeat(5000)}b` });
    expect(catastrophic.status).toBe(400);
    expect(catastrophic.body.details.violations).toEqual([expect.objectContaining({ field: 'ticket', component: 'Ticket' })]);
    expect((await complete({ reviewer: 'ana', approved: true, ticket: 'a'.repeat(20_000) })).body.detail).toMatch(/'ticket' must have at most 10000 characters/);

    // Huge strings, bounds, and keys that reach a prototype.
    expect((await complete({ reviewer: 'x'.repeat(200_000), approved: true })).body.detail).toMatch(/'reviewer' must have at most 40 characters/);
    expect((await complete({ reviewer: 'ana', approved: true, amount: 1001 })).body.detail).toMatch(/'amount' must be at most 1000/);
    const proto = await fetch(`${base}/api/tasks/${taskId}/complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/json' },
      body: '{"variables":{"reviewer":"ana","approved":true,"contact":{"__proto__":{"polluted":true}}}}',
    });
    expect(proto.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    // The hidden field is not required; fields the form does not declare pass through, as Camunda takes them.
    const done = await complete({ reviewer: 'ana', approved: true, amount: 3, severity: 'high', ticket: 'aaa', contact: { email: 'ana@example.org' }, note: 'extra' });
    expect(done.status).toBe(200);
    const instance = await admin('GET', `/api/process-instances/${instanceId}`);
    expect(instance.body.status).toBe('completed');
    expect(instance.body.variables).toEqual(expect.objectContaining({ reviewer: 'ana', note: 'extra' }));
  });

  it('when the Camunda 7 form endpoints are used, then they show the form and refuse a bad submission before completing', async () => {
    const deployed = await multipart('/engine-rest/deployment/create', [formFile(reviewForm([], 'c7review'), 'c7.form'), { name: 'c7form.bpmn', text: process('c7form', 'camunda:formKey="camunda-forms:deployment:c7.form"', 'camunda:formRef="c7review"') }], {
      'deployment-name': 'c7form',
    });
    expect(deployed.status).toBe(200);

    // The start event's form: a submission without the required reviewer is refused, with one it starts.
    const startForm = await admin('GET', '/engine-rest/process-definition/key/c7form/startForm');
    expect(startForm.body).toEqual({ key: 'camunda-forms:deployment:c7.form', contextPath: null, camundaFormRef: { key: 'c7review', binding: 'version', version: 1 } });
    const badStart = await admin('POST', '/engine-rest/process-definition/key/c7form/submit-form', { variables: { approved: { value: true, type: 'Boolean' } } });
    expect(badStart.status).toBe(400);
    expect(badStart.body.message).toMatch(/'reviewer' is required/);
    expect((await admin('POST', '/engine-rest/process-definition/key/c7form/start', { variables: {} })).status).toBe(400);
    const started = await admin('POST', '/engine-rest/process-definition/key/c7form/submit-form', { variables: { reviewer: { value: 'ana', type: 'String' }, approved: { value: true, type: 'Boolean' } } });
    expect(started.status).toBe(200);

    const [task] = (await admin('GET', `/engine-rest/task?processInstanceId=${started.body.id}`)).body;
    expect((await admin('GET', `/engine-rest/task/${task.id}/form`)).body.camundaFormRef).toEqual({ key: 'c7review', binding: 'version', version: 1 });
    expect((await admin('GET', `/engine-rest/task/${task.id}/deployed-form`)).body.id).toBe('c7review');
    expect((await admin('GET', `/engine-rest/task/${task.id}/form-variables`)).body.reviewer).toEqual({ type: 'String', value: 'ana', valueInfo: {} });

    const badSubmit = await admin('POST', `/engine-rest/task/${task.id}/submit-form`, { variables: { reviewer: { value: 'ana', type: 'String' }, amount: { value: 0, type: 'Integer' }, approved: { value: true, type: 'Boolean' } } });
    expect(badSubmit.status).toBe(400);
    expect(badSubmit.body).toEqual(expect.objectContaining({ type: 'InvalidRequestException', message: expect.stringMatching(/'amount' must be at least 1/) }));
    const badComplete = await admin('POST', `/engine-rest/task/${task.id}/complete`, { variables: { reviewer: { value: 'a', type: 'String' } } });
    expect(badComplete.status).toBe(400);
    expect(badComplete.body.message).toMatch(/'reviewer' must have at least 2 characters/);
    expect((await admin('POST', `/engine-rest/task/${task.id}/submit-form`, { variables: { reviewer: { value: 'ana', type: 'String' }, approved: { value: true, type: 'Boolean' } } })).status).toBe(204);

    // The form routers sit in front of the task router under one authentication: a request counts once.
    const remaining = async () => {
      const response = await fetch(`${base}/engine-rest/task`, { headers: { authorization: `Bearer ${TEST_TOKENS.admin}` } });
      return Number(/remaining=(\d+)/.exec(response.headers.get('ratelimit') ?? '')?.[1]);
    };
    const first = await remaining();
    expect(first - (await remaining())).toBe(1);
  });

  it('when a task binds a form version, then later versions do not change the form it shows', async () => {
    expect((await multipart('/api/deployments', [{ name: 'pinned.bpmn', text: process('pinned', 'camunda:formRef="review" camunda:formRefBinding="version" camunda:formRefVersion="1"') }])).status).toBe(201);
    const { taskId } = await openTask('pinned');
    const shown = (await admin('GET', `/api/tasks/${taskId}/form`)).body.form;
    expect({ key: shown.key, version: shown.version }).toEqual({ key: 'review', version: 1 });
    const missingVersion = await multipart('/api/deployments', [{ name: 'pinned.bpmn', text: process('pinned', 'camunda:formRef="review" camunda:formRefBinding="version" camunda:formRefVersion="9"') }]);
    expect(missingVersion.status).toBe(400);
    expect(missingVersion.body.detail).toMatch(/form 'review' version 9/);
  });

  it('when the shipped processes are deployed from their folder, then their forms come first and the review tasks link them', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'regenflow-forms-'));
    try {
      for (const file of ['incident-response.bpmn', 'incident-automation-level.dmn', 'incident-approve-fix.form', 'incident-manual-review.form']) {
        await copyFile(join(repositoryRoot, 'processes', file), join(folder, file));
      }
      const lines = await deployFolder(app, folder);
      expect(lines.slice(0, 2)).toEqual(['incident-approve-fix v1 (new)', 'incident-manual-review v1 (new)']);
      const [definition] = (await admin('GET', '/api/process-definitions?key=incident-response&latest=true')).body;
      const review = await app.forms.formOf(definition.id, 'manual_review');
      expect(review?.key).toBe('incident-manual-review');
      expect(validateSubmission(review!.fields, { fixTopic: 'rm -rf /', reviewer: 'ana' })).toEqual([expect.objectContaining({ field: 'fixTopic' })]);
      expect(validateSubmission(review!.fields, { fixTopic: 'remediation.feature-flag', fixParams: { flag: 'a', value: false } })).toEqual([]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('when two deploys create the first version of one form at once, then both answer and there is one version', async () => {
    const text = JSON.stringify(reviewForm([], 'raced'));
    const answers = await Promise.all([1, 2].map(() => multipart('/api/deployments', [{ name: 'raced.form', text }])));
    expect(answers.map((answer) => answer.status)).toEqual([201, 201]);
    expect(answers.map((answer) => answer.body.forms[0].version)).toEqual([1, 1]);
    expect((await admin('GET', '/api/forms?key=raced')).body).toHaveLength(1);
  });
});
