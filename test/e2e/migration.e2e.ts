import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { sequence } from '../support/bpmn.js';
import { openUi, type UiSession } from './browser.js';

jest.setTimeout(90_000);

/**
 * Issue 16's "done when" for moving running instances: in a real browser an operator picks two
 * versions, sees the plan on both diagrams with the instances it applies to, maps a renamed
 * task, validates, runs the batch and watches it finish; the instances are then on v2.
 */
describe('browser migration of running instances', () => {
  let ui: UiSession;
  let page: Page;
  let call: UiSession['call'];
  const key = 'e2e_migration';
  const task = (id: string, name: string) => ({ id, xml: `<bpmn:userTask id="${id}" name="${name}" />` });
  let v1 = '';
  let v2 = '';
  const instanceIds: string[] = [];

  /** The ids of the elements that carry `marker` on one of the two diagrams. */
  const marked = (canvas: 'source' | 'target', marker: string) =>
    page.locator(`#rf-migration-${canvas}-canvas g.djs-element.${marker}`).evaluateAll((elements) => elements.map((element) => element.getAttribute('data-element-id')).sort());
  /** The instance-count badges on one diagram, by activity. */
  const counts = (canvas: 'source' | 'target') =>
    page.locator(`#rf-migration-${canvas}-canvas .rf-migration-count`).evaluateAll((badges) => Object.fromEntries(badges.map((badge) => [badge.getAttribute('data-activity'), badge.textContent])));
  /** The plan table in one read (the view re-renders it when instances move). */
  const planRows = () =>
    page.locator('#rf-migration-plan tbody tr').evaluateAll((rows) =>
      rows.map((row) => ({
        source: row.getAttribute('data-source'),
        target: row.getAttribute('data-target'),
        waiting: row.querySelector('.rf-migration-waiting')?.textContent ?? '',
        unmapped: row.classList.contains('rf-migration-unmapped-row'),
      })),
    );

  beforeAll(async () => {
    ui = await openUi();
    ({ page, call } = ui);
    // v1: review, then ship. v2 renames review to approve and adds notify after ship.
    const deploy = async (xml: string) => {
      const response = await call('POST', '/api/deployments', { name: `${key}.bpmn`, xml });
      expect(response.status).toBe(201);
      return response.body.definitions[0].id as string;
    };
    v1 = await deploy(sequence(key, [task('review', 'Review'), task('ship', 'Ship')]));
    for (let i = 0; i < 3; i++) instanceIds.push((await call('POST', '/api/process-instances', { processKey: key })).body.id);
    // One instance is past review: it waits at ship, which v2 has under the same id.
    const first = await call('GET', `/api/process-instances/${instanceIds[0]}`);
    expect((await call('POST', `/api/tasks/${first.body.userTasks[0].id}/complete`, { variables: {} })).status).toBe(200);
    v2 = await deploy(sequence(key, [task('approve', 'Approve'), task('ship', 'Ship'), task('notify', 'Notify')]).replace(`id="defs_${key}"`, `id="defs_${key}_v2"`));
  }, 120_000);

  afterAll(() => ui?.close());

  it('when an operator opens Migrations and picks the two versions, then both diagrams show the generated plan and where the instances wait', async () => {
    await ui.signIn('operator');
    await page.click('.rf-nav a[data-view="migrations"]');
    await page.waitForSelector('.rf-nav a.rf-active-nav[data-view="migrations"]');
    await page.waitForSelector(`#rf-migration-key option[value="${key}"]`, { state: 'attached' });
    await page.selectOption('#rf-migration-key', key);
    await expect(page.inputValue('#rf-migration-source')).resolves.toBe(v1);
    await expect(page.inputValue('#rf-migration-target')).resolves.toBe(v2);

    await page.waitForSelector('#rf-migration-source-canvas g.djs-element[data-element-id="review"]');
    await page.waitForSelector('#rf-migration-target-canvas g.djs-element[data-element-id="notify"]');
    await page.waitForSelector('#rf-migration-plan tbody tr[data-source="review"]');
    await page.waitForSelector('#rf-migration-instances:has-text("3 running instances of v1")');

    // review is gone from v2: its two instances would be left behind, and say so.
    expect(await marked('source', 'rf-migration-unmapped')).toEqual(['review']);
    expect(await marked('source', 'rf-migration-mapped')).toEqual(['end', 'ship']);
    expect(await marked('target', 'rf-migration-mapped')).toEqual(['end', 'ship']);
    expect(await counts('source')).toEqual({ review: '2', ship: '1' });
    expect(await counts('target')).toEqual({ ship: '1' });
    const rows = await planRows();
    expect(rows.find((row) => row.source === 'review')).toEqual({ source: 'review', target: '', waiting: '2', unmapped: true });
    expect(rows.find((row) => row.source === 'ship')).toEqual({ source: 'ship', target: 'ship', waiting: '1', unmapped: false });

    await page.click('#rf-migration-validate');
    await page.waitForSelector('#rf-migration-failures');
    await expect(page.textContent('#rf-migration-failures')).resolves.toContain("there is no migration instruction for active activity 'review'");
    await ui.shot('migration-unmapped');
  });

  it('when the renamed task is mapped in the table, then the markers follow, the plan validates, and the batch moves every instance to v2', async () => {
    await page.selectOption('select[aria-label="target of review"]', 'approve');
    expect(await marked('source', 'rf-migration-unmapped')).toEqual([]);
    expect(await marked('source', 'rf-migration-mapped')).toEqual(['end', 'review', 'ship']);
    expect(await marked('target', 'rf-migration-mapped')).toEqual(['approve', 'end', 'ship']);
    expect(await counts('target')).toEqual({ approve: '2', ship: '1' });
    expect((await planRows()).find((row) => row.source === 'review')).toMatchObject({ target: 'approve', unmapped: false });

    await page.click('#rf-migration-validate');
    await page.waitForSelector('#rf-migration-valid');
    await ui.shot('migration-plan');

    await page.click('#rf-migration-run');
    await page.waitForSelector('#rf-migration-batches tr[data-status="completed"]');
    const batches = await page.locator('#rf-migration-batches tbody tr').evaluateAll((rows) =>
      rows.map((row) => ({ status: row.getAttribute('data-status'), cells: [...row.querySelectorAll('td')].map((cell) => cell.textContent?.trim()) })),
    );
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ status: 'completed', cells: [expect.any(String), 'instance-migration', 'completed', '3/3', '0', ''] });
    // The source's instances follow the batch: none is left on v1.
    await page.waitForSelector('#rf-migration-instances:has-text("0 running instances of v1")');
    expect(await counts('source')).toEqual({});
    await ui.shot('migration-done');

    const waitingAt: string[] = [];
    for (const id of instanceIds) {
      const instance = (await call('GET', `/api/process-instances/${id}`)).body;
      expect(instance).toMatchObject({ status: 'active', definitionId: v2 });
      waitingAt.push(...instance.activeActivities);
    }
    expect(waitingAt.sort()).toEqual(['approve', 'approve', 'ship']);
  });

  it('when the page logged anything, then it was no script error and no CSP violation', () => {
    const serious = ui.browser.problems.filter((problem) => !/Failed to load resource: the server responded with a status of (400|401|403|404)/.test(problem));
    expect(serious).toEqual([]);
  });
});
