import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpClient, TEST_TOKENS } from '../test/support/server-process.js';
import { SpanSimulator, writeSpans } from '../test/support/span-simulator.js';
import { createTestApp } from '../test/support/test-app.js';
import { launchBrowser } from '../test/e2e/browser.js';
import { buildModeler, repositoryRoot } from './build-modeler.js';

/**
 * npm run screenshots: PNGs of the browser UI and of every processes/*.bpmn, for the README.
 * Runs a server on an in-memory database, deploys the shipped processes and a small demo
 * process (test/fixtures/e2e/change-review.bpmn) with a few instances, and photographs the
 * views in Debian's Chromium. Rewrites the pictures list in README.md between its markers.
 */
const IMAGES = join(repositoryRoot, 'docs', 'images');
const PROCESS_IMAGES = join(IMAGES, 'processes');
const README = join(repositoryRoot, 'README.md');
const START = '<!-- screenshots:start (written by npm run screenshots) -->';
const END = '<!-- screenshots:end -->';

await buildModeler();
await mkdir(IMAGES, { recursive: true });
await rm(PROCESS_IMAGES, { recursive: true, force: true });
await mkdir(PROCESS_IMAGES, { recursive: true });

const app = await createTestApp({ builtIns: true });
const base = `http://127.0.0.1:${await app.listen()}`;
const call = httpClient(base);
const browser = await launchBrowser({ width: 1440, height: 860 });
const { page } = browser;
page.setDefaultTimeout(15_000);

try {
  const processesDir = join(repositoryRoot, 'processes');
  const files = (await readdir(processesDir).catch(() => [] as string[])).filter((file) => file.endsWith('.bpmn')).sort();
  const shipped: Array<{ file: string; key: string; id: string; name: string | null }> = [];
  for (const file of files) {
    const deployed = await call('POST', '/api/deployments', { name: file, xml: await readFile(join(processesDir, file), 'utf8') });
    if (deployed.status !== 201) throw new Error(`${file} does not deploy: ${deployed.body?.detail}`);
    for (const definition of deployed.body.definitions) shipped.push({ file, key: definition.key, id: definition.id, name: definition.name });
  }

  // A demo with some history, so the operations views have something to show.
  // (The fixture's markup-like name proves escaping in the browser test; pictures get a plain one.)
  const demo = (await readFile(join(repositoryRoot, 'test/fixtures/e2e/change-review.bpmn'), 'utf8'))
    .replace('Review &lt;b&gt;change&lt;/b&gt;', 'Review change')
    .replace(/ &lt;img[^<]*must show as text\./, '');
  await call('POST', '/api/deployments', { name: 'change-review.bpmn', xml: demo });
  const instances: string[] = [];
  for (let index = 0; index < 6; index++) {
    instances.push((await call('POST', '/api/process-instances', { processKey: 'change-review', businessKey: `CHG-${1040 + index}`, variables: { change: `CHG-${1040 + index}` } })).body.id);
  }
  const tasks = (await call('GET', '/api/tasks?processKey=change-review')).body;
  for (const [index, task] of tasks.slice(0, 4).entries()) {
    await call('POST', `/api/tasks/${task.id}/complete`, { variables: { approved: index % 3 !== 2, comment: index % 3 !== 2 ? 'fine' : 'needs a rollback plan' } });
  }
  const demoDefinition = (await call('GET', '/api/process-definitions?key=change-review')).body[0].id as string;

  // A process with a collapsed sub-process and end events with outcomes: one instance waits
  // inside it, one failed inside it (an incident), one ended on its failure end, one shipped.
  await call('POST', '/api/deployments', { name: 'ops-review.bpmn', xml: await readFile(join(repositoryRoot, 'test/fixtures/e2e/ops-review.bpmn'), 'utf8') });
  const worker = httpClient(base, TEST_TOKENS.worker);
  const lint = async () => (await worker('POST', '/engine-rest/external-task/fetchAndLock', { workerId: 'lint-worker', maxTasks: 1, topics: [{ topicName: 'e2e.lint', lockDuration: 60_000 }] })).body[0];
  const review = async (ticket: string) => (await call('POST', '/api/process-instances', { processKey: 'ops-review', businessKey: ticket, variables: { ticket, priority: 2 } })).body.id as string;
  for (const [ticket, passed] of [['CHG-2001', true], ['CHG-2002', false]] as const) {
    await review(ticket);
    const task = await lint();
    await worker('POST', `/engine-rest/external-task/${task.id}/complete`, { workerId: 'lint-worker', variables: { passed: { value: passed, type: 'Boolean' }, report: { value: JSON.stringify({ files: 12, findings: passed ? [] : [{ rule: 'no-unused-vars', file: 'src/cart.ts', line: 41 }] }), type: 'Json' } } });
  }
  const failing = await review('CHG-2003');
  const failed = await lint();
  const issues = JSON.stringify([{ expected: 'string', code: 'invalid_type', path: ['repository'], message: 'Invalid input: expected string, received undefined' }], null, 2);
  await worker('POST', `/engine-rest/external-task/${failed.id}/failure`, { workerId: 'lint-worker', errorMessage: issues, errorDetails: 'ZodError: at parse (validator.ts:12)', retries: 0, retryTimeout: 0 });
  await review('CHG-2004');

  // Spans of a service, its last minute failing often, measured: the health charts have data.
  const now = Date.now();
  const simulator = new SpanSimulator({ system: 'checkout', seed: 7, requestsPerSecond: 1 });
  simulator.inject({ kind: 'error-burst', at: new Date(now - 120_000), magnitude: 0.4 });
  await writeSpans(app.database.knex, simulator.generate(new Date(now - 1_200_000), new Date(now)));
  for (const window of [300, 180, 120]) {
    const measured = await call('POST', '/api/entropy/measure', { system: 'checkout', windowSeconds: window, baselineSeconds: 1080 - window });
    if (measured.status !== 201) console.log(`entropy measure: ${measured.status} ${measured.body?.detail ?? ''}`);
  }

  await page.goto(`${base}/`);
  await page.fill('#rf-token', TEST_TOKENS.admin);
  await page.click('#rf-login button[type=submit]');
  await page.waitForSelector('#rf-modeler-canvas .djs-container');

  const settle = () => page.waitForTimeout(400);
  const shoot = async (name: string) => {
    await page.evaluate("document.getElementById('rf-toast').className = 'rf-toast'");
    await page.screenshot({ path: join(IMAGES, name) });
    console.log(`docs/images/${name}`);
  };

  await page.goto(`${base}/#/modeler/${encodeURIComponent(demoDefinition)}`);
  await page.waitForSelector('g.djs-element[data-element-id="review"]');
  await page.click('g.djs-element[data-element-id="review"]');
  await page.click('[data-group-id="group-CamundaPlatform__Form"] .bio-properties-panel-group-header-title').catch(() => undefined);
  await settle();
  await shoot('ui-modeler.png');

  await page.goto(`${base}/#/instances`);
  await page.waitForSelector(`#rf-instance-rows tr[data-instance-id="${instances[0]}"]`);
  await page.waitForSelector('#rf-start-key option[value="ops-review"]', { state: 'attached' });
  await page.selectOption('#rf-start-key', 'ops-review');
  await page.waitForSelector('#rf-start-field-ticket');
  await settle();
  await shoot('ui-instances.png');

  await page.goto(`${base}/#/instance/${failing}`);
  await page.waitForSelector('#rf-view-instance .rf-inside-incident[data-activity="checks"]');
  await page.click('#rf-incidents details.rf-raw summary');
  await settle();
  await shoot('ui-instance.png');
  await page.click('.rf-inside-incident[data-activity="checks"]');
  await page.waitForSelector('#rf-view-instance g.djs-element.rf-incident[data-element-id="lint"]');
  await settle();
  await shoot('ui-instance-inside.png');
  const ended = (await call('GET', '/api/process-instances?processKey=ops-review&status=completed')).body.find((instance: { businessKey: string }) => instance.businessKey === 'CHG-2002');
  await page.goto(`${base}/#/instance/${ended.id}`);
  await page.waitForSelector('#rf-instance-status.rf-outcome-failure');
  await settle();
  await shoot('ui-instance-ended.png');

  await page.goto(`${base}/#/heatmap/${encodeURIComponent(demoDefinition)}`);
  await page.waitForSelector('#rf-view-heatmap .rf-heat-label[data-activity="review"]');
  await settle();
  await shoot('ui-heatmap.png');

  const open = (await call('GET', '/api/tasks?processKey=change-review')).body;
  await page.goto(`${base}/#/tasks/${open[0].id}`);
  await page.waitForSelector('#rf-task-form');
  await settle();
  await shoot('ui-inbox.png');

  await page.goto(`${base}/#/health`);
  await page.waitForSelector('#rf-health-incidents h3');
  await page.waitForSelector('#rf-health-systems .uplot');
  await settle();
  await shoot('ui-health.png');

  // Diagrams at scale 1 (scaled down only when larger than the page), cropped to the drawing.
  await page.setViewportSize({ width: 1920, height: 1200 });
  await page.addStyleTag({ content: '.rf-zoom-controls { display: none !important; }' });
  for (const process of shipped) {
    await page.goto(`${base}/#/diagram/${encodeURIComponent(process.id)}`);
    await page.waitForSelector(`#rf-diagram-canvas[data-shown="${process.id}"] .djs-container`);
    await settle();
    const drawing = (await page.locator('#rf-diagram-canvas svg g.viewport').boundingBox())!;
    const frame = (await page.locator('#rf-diagram-canvas').boundingBox())!;
    const x = Math.max(frame.x, drawing.x - 24);
    const y = Math.max(frame.y, drawing.y - 24);
    const clip = {
      x,
      y,
      width: Math.min(frame.x + frame.width, drawing.x + drawing.width + 24) - x,
      height: Math.min(frame.y + frame.height, drawing.y + drawing.height + 24) - y,
    };
    await page.screenshot({ path: join(PROCESS_IMAGES, `${process.key}.png`), clip });
    console.log(`docs/images/processes/${process.key}.png`);
  }

  const lines = [
    START,
    '| | |',
    '| --- | --- |',
    '| ![Modeler](docs/images/ui-modeler.png) Modeler: properties panel, lint, topic picker | ![Heatmap](docs/images/ui-heatmap.png) Heatmap of a process version |',
    '| ![Task inbox](docs/images/ui-inbox.png) Task inbox with the task\'s form | ![Ended on a failure end event](docs/images/ui-instance-ended.png) Ended on a failure end event; variables as a JSON tree |',
    '| ![Instances](docs/images/ui-instances.png) Instances: incidents, end event reached, duration; the start form | ![Health](docs/images/ui-health.png) Health: entropy and control charts (uPlot) |',
    '| ![Incident inside a sub-process](docs/images/ui-instance.png) An incident inside a collapsed sub-process, said as a sentence | ![Drilled in](docs/images/ui-instance-inside.png) Drilled into the sub-process |',
    '',
    shipped.length ? 'Shipped processes (`processes/`):' : 'No process is shipped in `processes/` yet.',
    '',
    ...shipped.map((process) => `- \`${process.file}\`${process.name ? ` – ${process.name}` : ''}\n\n  ![${process.key}](docs/images/processes/${process.key}.png)\n`),
    END,
  ];
  const readme = await readFile(README, 'utf8');
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from >= 0 && to > from) {
    await writeFile(README, readme.slice(0, from) + lines.join('\n') + readme.slice(to + END.length));
    console.log('README.md: pictures list updated');
  } else {
    console.log('README.md has no screenshot markers; pictures list not written');
  }
  const serious = browser.problems.filter((problem) => !/status of 404/.test(problem));
  if (serious.length) throw new Error(`the page logged errors:\n${serious.join('\n')}`);
} finally {
  await browser.close();
  await app.dispose();
}
