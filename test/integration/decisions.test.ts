import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployFolder } from '../../src/app.js';
import { dmn } from '../support/dmn.js';
import { httpClient, TEST_TOKENS } from '../support/server-process.js';
import { createTestApp, eventually } from '../support/test-app.js';

type Call = ReturnType<typeof httpClient>;

const discount = (threshold: number, id = 'discount') =>
  dmn(
    [
      {
        id,
        name: 'Discount',
        inputs: [{ expression: 'amount', typeRef: 'number' }],
        outputs: [{ name: 'discount', typeRef: 'integer' }],
        rules: [
          [[`< ${threshold}`], ['0']],
          [[`>= ${threshold}`], ['10']],
        ],
      },
    ],
    { id: `${id}_drg` },
  );

const orderProcess = (attributes: string) => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://regenflow.dev/test">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="price" name="Price" ${attributes}><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>
    <bpmn:userTask id="wait"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="price" />
    <bpmn:sequenceFlow id="f2" sourceRef="price" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>`;

let base = '';
async function multipart(_call: Call, path: string, files: Array<{ name: string; xml: string }>, fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const file of files) form.append(file.name, new Blob([file.xml], { type: 'application/octet-stream' }), file.name);
  const response = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKENS.admin}` }, body: form });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

describe('decisions (DMN)', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let admin: Call;

  beforeAll(async () => {
    app = await createTestApp();
    base = `http://127.0.0.1:${await app.listen()}`;
    admin = httpClient(base);
  });
  afterAll(async () => app.dispose());

  it('when a .dmn is deployed beside a .bpmn, then both are stored in one deployment and the decision is versioned per key', async () => {
    const first = await multipart(admin, '/api/deployments', [
      { name: 'discount.dmn', xml: discount(100) },
      { name: 'order.bpmn', xml: orderProcess('camunda:decisionRef="discount" camunda:resultVariable="discount" camunda:mapDecisionResult="singleEntry"') },
    ]);
    expect(first.status).toBe(201);
    expect(first.body.decisions).toEqual([expect.objectContaining({ key: 'discount', version: 1, created: true })]);
    expect(first.body.definitions).toEqual([expect.objectContaining({ key: 'order', version: 1 })]);
    // A task that calls a decision is no external task: no warning about a missing topic.
    expect(first.body.definitions[0].warnings.filter((warning: { elementId: string; rule: string }) => warning.elementId === 'price' && warning.rule !== 'no-bpmndi')).toEqual([]);

    // The same content again keeps its version; a change makes version 2.
    const same = await admin('POST', '/api/deployments', { name: 'discount.dmn', xml: discount(100) });
    expect(same.body.decisions).toEqual([expect.objectContaining({ version: 1, created: false })]);
    const changed = await admin('POST', '/api/deployments', { name: 'discount.dmn', xml: discount(50) });
    expect(changed.body).toMatchObject({ definitions: [], decisions: [expect.objectContaining({ key: 'discount', version: 2, created: true })] });
    const versions = await admin('GET', '/api/decision-definitions?key=discount');
    expect(versions.body.map((row: { version: number }) => row.version)).toEqual([2, 1]);
  });

  it('when a .dmn has a FEEL error or overlapping UNIQUE rules, then the deploy is a 400 naming the element and nothing is stored', async () => {
    const before = await app.database.knex('decision_definitions').count({ n: '*' }).first();
    const broken = dmn([{ id: 'broken', inputs: [{ expression: 'x' }], outputs: [{ name: 'y' }], rules: [[['> 1'], ['"a" +']]] }]);
    const feel = await multipart(admin, '/api/deployments', [
      { name: 'broken.dmn', xml: broken },
      { name: 'order2.bpmn', xml: orderProcess('camunda:decisionRef="broken"').replace('id="order"', 'id="order2"') },
    ]);
    expect(feel.status).toBe(400);
    expect(feel.body).toMatchObject({ code: 'INVALID_DEFINITION', details: { errors: [expect.objectContaining({ rule: 'feel-syntax', elementId: 'broken_r1_o0' })] } });
    const overlap = dmn([{ id: 'overlap', inputs: [{ expression: 'x' }], outputs: [{ name: 'y' }], rules: [[['[1..10]'], ['1']], [['> 5'], ['2']]] }]);
    const unique = await admin('POST', '/api/deployments', { name: 'overlap.dmn', xml: overlap });
    expect(unique.status).toBe(400);
    expect(unique.body.detail).toMatch(/overlap_r1.*overlap_r2.*overlap/);
    expect(await app.database.knex('decision_definitions').count({ n: '*' }).first()).toEqual(before);
    expect(await app.database.knex('process_definitions').where({ key: 'order2' }).first()).toBeUndefined();
  });

  it('when a business rule task calls the decision, then the mapped result is a variable and the evaluation is recorded on the instance', async () => {
    const started = await admin('POST', '/api/process-instances', { processKey: 'order', variables: { amount: 70 } });
    expect(started.status).toBe(201);
    const detail = await admin('GET', `/api/process-instances/${started.body.id}`);
    // Latest binding: version 2 (threshold 50) decides.
    expect(detail.body.variables).toMatchObject({ amount: 70, discount: 10 });
    const decisions = await admin('GET', `/api/process-instances/${started.body.id}/decisions`);
    expect(decisions.body).toEqual([
      expect.objectContaining({
        decisionKey: 'discount',
        decisionVersion: 2,
        activityId: 'price',
        inputs: [expect.objectContaining({ value: 70 })],
        matchedRules: [expect.objectContaining({ id: 'discount_r2', index: 2 })],
        outputs: [{ discount: 10 }],
      }),
    ]);
  });

  it('when the binding is version or deployment, then that version decides, not the latest', async () => {
    const byVersion = orderProcess('camunda:decisionRef="discount" camunda:decisionRefBinding="version" camunda:decisionRefVersion="1" camunda:resultVariable="discount" camunda:mapDecisionResult="singleEntry"').replace('id="order"', 'id="order_v1"');
    expect((await admin('POST', '/api/deployments', { name: 'order_v1.bpmn', xml: byVersion })).status).toBe(201);
    const v1 = await admin('POST', '/api/process-instances', { processKey: 'order_v1', variables: { amount: 70 } });
    expect((await admin('GET', `/api/process-instances/${v1.body.id}`)).body.variables.discount).toBe(0);

    // Deployment binding: the decision deployed with the process (threshold 80), even after a newer one.
    const withDeployment = orderProcess('camunda:decisionRef="discount" camunda:decisionRefBinding="deployment" camunda:resultVariable="result"').replace('id="order"', 'id="order_dep"');
    const deployed = await multipart(admin, '/api/deployments', [
      { name: 'discount.dmn', xml: discount(80) },
      { name: 'order_dep.bpmn', xml: withDeployment },
    ]);
    expect(deployed.body.decisions[0].version).toBe(3);
    await admin('POST', '/api/deployments', { name: 'discount.dmn', xml: discount(10) });
    const dep = await admin('POST', '/api/process-instances', { processKey: 'order_dep', variables: { amount: 70 } });
    // resultList (the default mapping): every entry.
    expect((await admin('GET', `/api/process-instances/${dep.body.id}`)).body.variables.result).toEqual([{ discount: 0 }]);
  });

  it('when a mixed deployment re-deploys an unchanged .dmn with a changed .bpmn, then binding deployment finds the decision in the new deployment', async () => {
    const caller = (name: string) =>
      orderProcess('camunda:decisionRef="rebate" camunda:decisionRefBinding="deployment" camunda:resultVariable="rebate" camunda:mapDecisionResult="singleResult"')
        .replace('id="order"', 'id="order_rebate"')
        .replace('name="Price"', `name="${name}"`);
    const first = await multipart(admin, '/api/deployments', [
      { name: 'rebate.dmn', xml: discount(55, 'rebate') },
      { name: 'order_rebate.bpmn', xml: caller('Price') },
    ]);
    expect(first.status).toBe(201);
    const second = await multipart(admin, '/api/deployments', [
      { name: 'rebate.dmn', xml: discount(55, 'rebate') },
      { name: 'order_rebate.bpmn', xml: caller('Price it') },
    ]);
    expect(second.status).toBe(201);
    // The decision keeps its version (same content) and belongs to the new deployment too.
    expect(second.body.decisions).toEqual([expect.objectContaining({ key: 'rebate', version: 1, created: false })]);
    await admin('POST', '/api/deployments', { name: 'rebate.dmn', xml: discount(5, 'rebate') });
    const started = await admin('POST', '/api/process-instances', { processKey: 'order_rebate', variables: { amount: 50 } });
    const detail = (await admin('GET', `/api/process-instances/${started.body.id}`)).body;
    expect(detail.activeActivities).toEqual(['wait']);
    expect(detail.variables.rebate).toEqual({ discount: 0 });
  });

  it('when the decision cannot decide, then the task gets an incident with the code, and a retry after a fixed deploy goes on', async () => {
    const strict = dmn([{ id: 'strict', inputs: [{ expression: 'x' }], outputs: [{ name: 'y', typeRef: 'integer' }], rules: [[['< limit'], ['1']], [['< 10'], ['2']]] }]);
    await multipart(admin, '/api/deployments', [
      { name: 'strict.dmn', xml: strict },
      { name: 'strict.bpmn', xml: orderProcess('camunda:decisionRef="strict" camunda:resultVariable="y" camunda:mapDecisionResult="singleEntry"').replace('id="order"', 'id="strict_order"') },
    ]);
    const started = await admin('POST', '/api/process-instances', { processKey: 'strict_order', variables: { x: 1, limit: 5 } });
    expect(started.status).toBe(201);
    const incidents = await eventually(async () => {
      const rows = (await admin('GET', `/api/incidents?instanceId=${started.body.id}`)).body as Array<Record<string, any>>;
      return rows.length ? rows : undefined;
    });
    expect(incidents[0]).toMatchObject({ activityId: 'price' });
    expect(JSON.stringify(incidents[0])).toContain('DECISION_UNIQUE_VIOLATION');
    expect((await admin('GET', `/api/process-instances/${started.body.id}/decisions`)).body).toEqual([]);

    const fixed = dmn([{ id: 'strict', hitPolicy: 'FIRST', inputs: [{ expression: 'x' }], outputs: [{ name: 'y', typeRef: 'integer' }], rules: [[['< limit'], ['1']], [['< 10'], ['2']]] }]);
    await admin('POST', '/api/deployments', { name: 'strict.dmn', xml: fixed });
    const retried = await admin('POST', `/api/incidents/${incidents[0]!.id}/retry`);
    expect(retried.status).toBeLessThan(300);
    const detail = await eventually(async () => {
      const body = (await admin('GET', `/api/process-instances/${started.body.id}`)).body;
      return body.variables.y === 1 ? body : undefined;
    });
    expect(detail.activeActivities).toEqual(['wait']);
  });

  it('when the Camunda 7 REST deploys a .dmn and evaluates it by key and id, then it answers in Camunda 7 shapes', async () => {
    const dish = dmn(
      [
        {
          id: 'dish',
          name: 'Dish',
          hitPolicy: 'COLLECT',
          inputs: [{ expression: 'season', typeRef: 'string' }, { expression: 'guests', typeRef: 'integer' }],
          outputs: [{ name: 'dish', typeRef: 'string' }],
          rules: [
            [['"Winter"', '<= 8'], ['"Spareribs"']],
            [['"Winter"', '-'], ['"Stew"']],
            [['"Summer"', '-'], ['"Salad"']],
          ],
        },
      ],
      { id: 'dish_drg' },
    );
    const created = await multipart(admin, '/engine-rest/deployment/create', [{ name: 'dish.dmn', xml: dish }], { 'deployment-name': 'dinner' });
    expect(created.status).toBe(200);
    const [definitionId] = Object.keys(created.body.deployedDecisionDefinitions);
    expect(created.body.deployedDecisionDefinitions[definitionId!]).toMatchObject({ key: 'dish', version: 1, resource: 'dish.dmn', deploymentId: created.body.id });

    const list = await admin('GET', '/engine-rest/decision-definition?key=dish&latestVersion=true');
    expect(list.body).toEqual([expect.objectContaining({ id: definitionId, key: 'dish', name: 'Dish', version: 1, decisionRequirementsDefinitionKey: 'dish_drg' })]);
    expect((await admin('GET', '/engine-rest/decision-definition/count?key=dish')).body).toEqual({ count: 1 });
    expect((await admin('GET', '/engine-rest/decision-definition/key/dish')).body).toMatchObject({ id: definitionId });
    expect((await admin('GET', '/engine-rest/decision-definition/key/dish/xml')).body).toEqual({ id: definitionId, dmnXml: dish });

    const variables = { season: { value: 'Winter', type: 'String' }, guests: { value: 4, type: 'Integer' } };
    const byKey = await admin('POST', '/engine-rest/decision-definition/key/dish/evaluate', { variables });
    expect(byKey.status).toBe(200);
    expect(byKey.body).toEqual([{ dish: { value: 'Spareribs', type: 'String', valueInfo: {} } }, { dish: { value: 'Stew', type: 'String', valueInfo: {} } }]);
    const byId = await admin('POST', `/engine-rest/decision-definition/${definitionId}/evaluate`, { variables: { season: { value: 'Summer', type: 'String' }, guests: { value: 2, type: 'Integer' } } });
    expect(byId.body).toEqual([{ dish: { value: 'Salad', type: 'String', valueInfo: {} } }]);

    // Standalone evaluations are history too, with inputs and outputs on request.
    const history = await admin('GET', '/engine-rest/history/decision-instance?decisionDefinitionKey=dish&includeInputs=true&includeOutputs=true');
    expect(history.body).toHaveLength(2);
    expect(history.body[0]).toMatchObject({
      decisionDefinitionId: definitionId,
      decisionDefinitionKey: 'dish',
      processInstanceId: null,
      inputs: [expect.objectContaining({ clauseName: 'season', value: 'Winter', type: 'String' }), expect.objectContaining({ value: 4, type: 'Integer' })],
      outputs: [expect.objectContaining({ ruleId: 'dish_r1', ruleOrder: 1, variableName: 'dish', value: 'Spareribs' }), expect.objectContaining({ ruleId: 'dish_r2', value: 'Stew' })],
    });

    const unknown = await admin('POST', '/engine-rest/decision-definition/key/nope/evaluate', { variables });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ type: expect.any(String), message: expect.stringContaining("'nope'") });
    const badType = await admin('POST', '/engine-rest/decision-definition/key/dish/evaluate', { variables: { guests: { value: 'many', type: 'Integer' } } });
    expect(badType.status).toBe(400);
  });

  it('when a Camunda 7 evaluation cannot decide, then it is a 500 RestException with the code; natively a 422 problem', async () => {
    const clash = dmn([{ id: 'clash', hitPolicy: 'ANY', inputs: [{ expression: 'x' }], outputs: [{ name: 'y' }], rules: [[['> 0'], ['"a"']], [['> 1'], ['"b"']]] }]);
    await admin('POST', '/api/deployments', { name: 'clash.dmn', xml: clash });
    const c7 = await admin('POST', '/engine-rest/decision-definition/key/clash/evaluate', { variables: { x: { value: 5, type: 'Integer' } } });
    expect(c7).toMatchObject({ status: 500, body: { type: 'RestException', message: expect.stringContaining('ANY') } });
    const native = await admin('POST', '/api/decision-definitions/clash/evaluate', { variables: { x: 5 } });
    expect(native).toMatchObject({ status: 422, body: { code: 'DECISION_ANY_VIOLATION' } });
    const fine = await admin('POST', '/api/decision-definitions/clash/evaluate', { variables: { x: 1 } });
    expect(fine.body).toMatchObject({ key: 'clash', version: 1, result: [{ y: 'a' }], evaluated: [expect.objectContaining({ matchedRules: [expect.objectContaining({ id: 'clash_r1' })] })] });
  });

  it('when the input is huge or hostile, then it is refused before evaluation, and prototype keys never reach FEEL', async () => {
    const big = { x: 'a'.repeat(2 * 1024 * 1024) };
    const refused = await admin('POST', '/api/decision-definitions/clash/evaluate', { variables: big });
    expect(refused.status).toBe(413);
    const proto = await fetch(`${base}/api/decision-definitions/clash/evaluate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.admin}`, 'content-type': 'application/json' },
      body: '{"variables": {"__proto__": {"x": 1}}}',
    });
    expect(proto.status).toBe(400);
    const lint = await admin('POST', '/api/decision-definitions/lint', { name: 'clash.dmn', xml: '<definitions' });
    expect(lint.body).toMatchObject({ ok: false, errors: [expect.objectContaining({ rule: 'dmn-parse' })] });
  });

  it('when a process holds a large variable the decision never reads, then only what it reads is sent and it decides', async () => {
    expect((await admin('POST', '/api/deployments', { name: 'bulky.dmn', xml: discount(50, 'bulky') })).status).toBe(201);
    const blob = 'x'.repeat(2 * 1024 * 1024);
    const outcome = await app.decisions.evaluate({ key: 'bulky' }, { amount: 70, blob, nested: { blob } });
    expect(outcome.evaluation.result).toEqual([{ discount: 10 }]);
    // A decision that reads the large variable is still refused before evaluation.
    await expect(app.decisions.evaluate({ key: 'bulky' }, { amount: blob })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('when lint gets a DOCTYPE, more than 1 MiB or a 4,000-rule UNIQUE table, then it refuses as deploy would, in the worker, while the server keeps answering', async () => {
    const doctype = discount(10).replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>');
    const refused = await admin('POST', '/api/decision-definitions/lint', { name: 'doctype.dmn', xml: doctype });
    expect(refused.body).toMatchObject({ ok: false, errors: [expect.objectContaining({ rule: 'no-doctype' })] });
    const huge = discount(10).replace('</definitions>', `<!-- ${'x'.repeat(1024 * 1024)} --></definitions>`);
    expect((await admin('POST', '/api/decision-definitions/lint', { name: 'huge.dmn', xml: huge })).status).toBe(413);

    // Rules that never overlap: the old pairwise check compared all 8 million pairs on the event loop.
    const rules = Array.from({ length: 4000 }, (_, n): [string[], string[]] => [[`${n}`], ['1']]);
    const wide = dmn([{ id: 'wide', inputs: [{ expression: 'n', typeRef: 'number' }], outputs: [{ name: 'y', typeRef: 'integer' }], rules }]);
    const order: string[] = [];
    const linting = admin('POST', '/api/decision-definitions/lint', { name: 'wide.dmn', xml: wide }).then((response) => {
      order.push('lint');
      return response;
    });
    // Asked once lint is under way: answered before it, the event loop is free.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const health = await fetch(`${base}/healthz`);
    order.push('health');
    const report = (await linting).body;
    expect(health.status).toBe(200);
    expect(order).toEqual(['health', 'lint']);
    expect(report.ok).toBe(false);
    expect(report.errors).toEqual([expect.objectContaining({ rule: 'dmn-size', elementId: 'table_wide' })]);
    // Within the limit, the overlap check stops at its budget and says so.
    const many = dmn([{ id: 'many', inputs: [{ expression: 'n', typeRef: 'number' }], outputs: [{ name: 'y', typeRef: 'integer' }], rules: rules.slice(0, 700) }]);
    const partial = (await admin('POST', '/api/decision-definitions/lint', { name: 'many.dmn', xml: many })).body;
    expect(partial).toMatchObject({ ok: true, errors: [], warnings: [expect.objectContaining({ rule: 'dmn-unique-overlap-partial' })] });
  });

  it('when a decision runs over its time budget, then it fails with DECISION_TIMEOUT, the server stays responsive, and the next evaluation works', async () => {
    const slow = dmn([{ id: 'slow', literal: 'count(for i in 1..50000000 return i)' } as never, { id: 'quick', literal: '1 + 1' } as never]);
    expect((await admin('POST', '/api/deployments', { name: 'slow.dmn', xml: slow })).status).toBe(201);
    const started = Date.now();
    const [timedOut, health] = await Promise.all([
      admin('POST', '/api/decision-definitions/slow/evaluate', { variables: {} }),
      // Asked while the decision runs: answered at once, the event loop is free.
      new Promise((resolve) => setTimeout(resolve, 200)).then(async () => {
        const asked = Date.now();
        const response = await fetch(`${base}/healthz`);
        return { status: response.status, ms: Date.now() - asked };
      }),
    ]);
    expect(timedOut).toMatchObject({ status: 422, body: { code: 'DECISION_TIMEOUT' } });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(health.status).toBe(200);
    expect(health.ms).toBeLessThan(500);
    expect((await admin('POST', '/api/decision-definitions/quick/evaluate', { variables: {} })).body.result).toEqual([{ quick: 2 }]);
  });

  it('when a folder holds .dmn and .bpmn files (processes/ at start), then both deploy, decisions first, and unchanged files keep their versions', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'regenflow-dmn-'));
    try {
      await writeFile(join(folder, 'a-rates.bpmn'), orderProcess('camunda:decisionRef="rates" camunda:resultVariable="rate" camunda:mapDecisionResult="singleEntry"').replace('id="order"', 'id="rated_order"'));
      await writeFile(join(folder, 'rates.dmn'), dmn([{ id: 'rates', inputs: [{ expression: 'amount' }], outputs: [{ name: 'rate', typeRef: 'double' }], rules: [[['-'], ['0.19']]] }]));
      expect(await deployFolder(app, folder)).toEqual(['rates v1 (new)', 'rated_order v1 (new)']);
      expect(await deployFolder(app, folder)).toEqual(['rates v1', 'rated_order v1']);
      const started = await admin('POST', '/api/process-instances', { processKey: 'rated_order', variables: { amount: 1 } });
      expect((await admin('GET', `/api/process-instances/${started.body.id}`)).body.variables.rate).toBe(0.19);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('when two deploys create the first versions of one decision at once, then versions stay unique and no deploy is a 500', async () => {
    const answers = await Promise.all([1, 2, 3].map((n) => admin('POST', '/api/deployments', { name: 'race.dmn', xml: discount(n, 'race') })));
    expect(answers.every((answer) => answer.status === 201 || (answer.status === 409 && answer.body.code === 'CONCURRENT_UPDATE'))).toBe(true);
    const versions = (await admin('GET', '/api/decision-definitions?key=race')).body.map((row: { version: number }) => row.version);
    expect(versions).toEqual([...versions].sort((a: number, b: number) => b - a));
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions.length).toBe(answers.filter((answer) => answer.status === 201).length);
  });
});
