import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpClient, TEST_TOKENS } from '../test/support/server-process.js';
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
  // The health view shows measured systems: measure the demo process where the entropy
  // module is present (its endpoint answers 404 otherwise, and the view says so).
  for (let round = 0; round < 3; round++) {
    const measured = await call('POST', '/api/entropy/measure', { system: 'change-review' });
    if (measured.status === 404) break;
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
  await settle();
  await shoot('ui-instances.png');

  await page.goto(`${base}/#/instance/${instances[5]}`);
  await page.waitForSelector('#rf-view-instance g.djs-element.rf-active[data-element-id="review"]');
  await settle();
  await shoot('ui-instance.png');

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
  await settle();
  await shoot('ui-health.png');

  // Diagrams at scale 1 (scaled down only when larger than the page), cropped to the drawing.
  await page.setViewportSize({ width: 1920, height: 1200 });
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
    '| ![Modeler](docs/images/ui-modeler.png) Modeler: properties panel, lint, topic picker | ![Instance](docs/images/ui-instance.png) An instance on its diagram |',
    '| ![Task inbox](docs/images/ui-inbox.png) Task inbox with the task\'s form | ![Heatmap](docs/images/ui-heatmap.png) Heatmap of a process version |',
    '| ![Instances](docs/images/ui-instances.png) Instances with filters | ![Health](docs/images/ui-health.png) Health dashboard |',
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
