import { api, ApiError } from './api.js';
import { DiagramViewer } from './diagram-viewer.js';
import { clear, formatTime, h, reportError, toast } from './dom.js';
import { debounce, type View } from './view.js';

interface Definition {
  id: string;
  key: string;
  version: number;
}

interface Instruction {
  sourceActivityIds: string[];
  targetActivityIds: string[];
  updateEventTrigger?: boolean;
}

interface Plan {
  sourceProcessDefinitionId: string;
  targetProcessDefinitionId: string;
  instructions: Instruction[];
  variables?: Record<string, unknown> | null;
}

interface Batch {
  id: string;
  type: string;
  status: 'running' | 'completed' | 'cancelled';
  total: number;
  done: number;
  failed: number;
  pending: number;
  createdAt: string;
  failures?: Array<{ instanceId: string; error: string | null }>;
}

/** Marks a source activity the plan maps, and the target activity it maps to. */
const MAPPED = 'rf-migration-mapped';
/** Marks a source activity where instances wait and that the plan leaves out: validation refuses those instances. */
const UNMAPPED = 'rf-migration-unmapped';

/**
 * Migration (#migrations): pick a process and two of its versions, see the generated plan on
 * both diagrams with the instances waiting at each source activity, edit the target of any
 * source activity, validate the plan against the instances of the source version, run it as a
 * batch and watch the batch's progress and failures.
 */
export function createMigrationView(): View {
  const keySelect = h('select', { id: 'rf-migration-key', 'aria-label': 'Process' });
  const sourceSelect = h('select', { id: 'rf-migration-source', 'aria-label': 'Source version' });
  const targetSelect = h('select', { id: 'rf-migration-target', 'aria-label': 'Target version' });
  const triggers = h('input', { type: 'checkbox', id: 'rf-migration-triggers' });
  const sourceTitle = h('h3', { id: 'rf-migration-source-title' });
  const targetTitle = h('h3', { id: 'rf-migration-target-title' });
  const sourceCanvas = h('div', { class: 'rf-canvas', id: 'rf-migration-source-canvas' });
  const targetCanvas = h('div', { class: 'rf-canvas', id: 'rf-migration-target-canvas' });
  const sourceViewer = new DiagramViewer(sourceCanvas);
  const targetViewer = new DiagramViewer(targetCanvas);
  const instancesLine = h('p', { id: 'rf-migration-instances' });
  const planTable = h('table', { class: 'rf-table rf-compact', id: 'rf-migration-plan' });
  const report = h('div', { id: 'rf-migration-report' });
  const batchBox = h('div', { id: 'rf-migration-batch' });
  const element = h(
    'section',
    { class: 'rf-view', id: 'rf-migration-view' },
    h('h2', {}, 'Migrate running instances'),
    h(
      'div',
      { class: 'rf-toolbar' },
      keySelect,
      ' from ',
      sourceSelect,
      ' to ',
      targetSelect,
      h('label', {}, triggers, ' update event triggers'),
      h('button', { type: 'button', id: 'rf-migration-generate', title: 'map every activity whose id the target has (drops your edits)', onclick: () => void generate().catch(reportError) }, 'Generate plan'),
      h('button', { type: 'button', id: 'rf-migration-validate', onclick: () => void validate().catch(reportError) }, 'Validate'),
      h('button', { type: 'button', class: 'rf-primary', id: 'rf-migration-run', onclick: () => void run().catch(reportError) }, 'Migrate all instances'),
    ),
    h(
      'div',
      { class: 'rf-migration-diagrams' },
      h('div', { class: 'rf-migration-pane' }, sourceTitle, sourceCanvas),
      h('div', { class: 'rf-migration-pane' }, targetTitle, targetCanvas),
    ),
    h(
      'div',
      { class: 'rf-legend' },
      h('span', { class: 'rf-legend-mapped' }, 'mapped (source and target)'),
      h('span', { class: 'rf-legend-unmapped' }, 'instances wait here, not mapped'),
      h('span', { class: 'rf-muted' }, 'the badge counts the instances waiting at a source activity, and where they will wait on the target'),
    ),
    instancesLine,
    planTable,
    report,
    h('h3', {}, 'Batches'),
    batchBox,
  );

  let definitions: Definition[] = [];
  let plan: Plan | null = null;
  /** Source activity id -> active instances of the source version waiting there. */
  let waitingAt = new Map<string, number>();
  /** The source and target shown: an answer for a pair no longer selected is dropped. */
  let shownPair = '';
  let watching: ReturnType<typeof setInterval> | undefined;

  const versionsOf = (key: string) => definitions.filter((definition) => definition.key === key).sort((a, b) => b.version - a.version);
  const versionLabel = (id: string) => `v${definitions.find((definition) => definition.id === id)?.version ?? '?'}`;
  const targetOf = (sourceId: string) => plan?.instructions.find((instruction) => instruction.sourceActivityIds[0] === sourceId)?.targetActivityIds[0];

  /** New versions of the process: the newest as target, the one before as source (or the operator's picks, if still there). */
  function fillVersions(): void {
    const versions = versionsOf(keySelect.value);
    const [previousSource, previousTarget] = [sourceSelect.value, targetSelect.value];
    const options = () => versions.map((definition) => h('option', { value: definition.id }, `v${definition.version}`));
    clear(sourceSelect, ...options());
    clear(targetSelect, ...options());
    const has = (id: string) => versions.some((definition) => definition.id === id);
    sourceSelect.value = has(previousSource) ? previousSource : (versions[1] ?? versions[0])?.id ?? '';
    targetSelect.value = has(previousTarget) ? previousTarget : (versions[0]?.id ?? '');
  }

  async function load(): Promise<void> {
    definitions = (await api<Definition[]>('GET', '/api/process-definitions')).map((row) => ({ id: row.id, key: row.key, version: row.version }));
    const keys = [...new Set(definitions.map((definition) => definition.key))].sort();
    const previous = keySelect.value;
    clear(keySelect, ...keys.map((key) => h('option', { value: key }, key)));
    if (previous && keys.includes(previous)) keySelect.value = previous;
    fillVersions();
  }

  /** Both diagrams and the waiting instances for the selected pair; a plan generated for it when the versions differ. */
  async function showVersions(): Promise<void> {
    const [sourceId, targetId] = [sourceSelect.value, targetSelect.value];
    shownPair = `${sourceId} ${targetId}`;
    plan = null;
    clear(planTable);
    clear(report);
    if (!sourceId || !targetId) return;
    await Promise.all([sourceViewer.showDefinition(sourceId), targetViewer.showDefinition(targetId)]);
    if (shownPair !== `${sourceId} ${targetId}`) return;
    sourceTitle.textContent = `Source: ${versionLabel(sourceId)}`;
    targetTitle.textContent = `Target: ${versionLabel(targetId)}`;
    await refreshWaiting();
    if (sourceId === targetId) {
      clear(report, h('p', { class: 'rf-muted' }, 'Pick two different versions (deploy a new version to have one).'));
      return;
    }
    await generate();
  }

  /** Where the active instances of the source version wait now (they move, end or start while the page is open). */
  async function refreshWaiting(): Promise<void> {
    const sourceId = sourceSelect.value;
    if (!sourceId) return;
    const [stats, running] = await Promise.all([
      api<Array<{ activityId: string; waiting?: number }>>('GET', `/api/process-definitions/${encodeURIComponent(sourceId)}/activity-stats`),
      api<{ count: number }>('GET', `/engine-rest/process-instance/count?processDefinitionId=${encodeURIComponent(sourceId)}`),
    ]);
    if (sourceId !== sourceSelect.value) return;
    waitingAt = new Map(stats.filter((entry) => entry.waiting).map((entry) => [entry.activityId, entry.waiting!]));
    const where = [...waitingAt].map(([activityId, count]) => `${count} at ${sourceViewer.nameOf(activityId)}`);
    clear(instancesLine, `${running.count} running instance${running.count === 1 ? '' : 's'} of ${versionLabel(sourceId)}`, where.length ? `: ${where.join(', ')}.` : '.');
    markPlan();
    // The table's waiting column follows too; the plan itself, with the operator's edits, stays.
    if (plan) renderPlan();
  }

  /** The plan on both diagrams: what maps where, what is left behind, how many instances move. */
  function markPlan(): void {
    sourceViewer.clear();
    targetViewer.clear();
    for (const instruction of plan?.instructions ?? []) {
      sourceViewer.mark(instruction.sourceActivityIds[0]!, MAPPED);
      targetViewer.mark(instruction.targetActivityIds[0]!, MAPPED);
    }
    for (const [activityId, count] of waitingAt) {
      // A token inside a sub-process makes the sub-process active too: it needs a mapping of its own.
      if (plan) for (const id of [activityId, ...sourceViewer.ancestors(activityId)]) if (!targetOf(id)) sourceViewer.mark(id, UNMAPPED);
      sourceViewer.overlay(activityId, h('span', { class: 'rf-migration-count', 'data-activity': activityId, title: `${count} instance(s) waiting here` }, String(count)));
      const target = targetOf(activityId);
      if (target) targetViewer.overlay(target, h('span', { class: 'rf-migration-count', 'data-activity': target, title: `${count} instance(s) will wait here` }, String(count)));
    }
  }

  /**
   * One row per source activity, those with waiting instances first: its target is picked from
   * the target's activities ("not mapped" leaves it out of the plan).
   */
  function renderPlan(): void {
    if (!plan) return;
    const current = plan;
    const targets = targetViewer.activities();
    const sources = [...new Set([...sourceViewer.activities().map((activity) => activity.id), ...current.instructions.map((instruction) => instruction.sourceActivityIds[0]!)])];
    sources.sort((a, b) => (waitingAt.get(b) ?? 0) - (waitingAt.get(a) ?? 0));
    const label = (viewer: DiagramViewer, id: string) => (viewer.nameOf(id) === id ? id : `${viewer.nameOf(id)} (${id})`);
    const row = (sourceId: string) => {
      const instruction = current.instructions.find((candidate) => candidate.sourceActivityIds[0] === sourceId);
      const targetId = instruction?.targetActivityIds[0] ?? '';
      const choice = h(
        'select',
        { 'aria-label': `target of ${sourceId}` },
        h('option', { value: '' }, '— not mapped —'),
        ...targets.map((activity) => h('option', { value: activity.id }, label(targetViewer, activity.id))),
        // A target the diagram lacks (an edited plan): shown, so validation can name it.
        targetId && !targets.some((activity) => activity.id === targetId) ? h('option', { value: targetId }, targetId) : null,
      );
      choice.value = targetId;
      choice.addEventListener('change', () => setTarget(sourceId, choice.value));
      const waiting = waitingAt.get(sourceId) ?? 0;
      return h(
        'tr',
        { 'data-source': sourceId, 'data-target': targetId, class: waiting && !targetId ? 'rf-migration-unmapped-row' : null },
        h('td', {}, label(sourceViewer, sourceId)),
        h('td', { class: 'rf-migration-waiting' }, waiting ? String(waiting) : ''),
        h('td', {}, choice),
        h('td', {}, instruction?.updateEventTrigger ? 'yes' : ''),
      );
    };
    clear(
      planTable,
      h('thead', {}, h('tr', {}, h('th', {}, 'Source activity'), h('th', {}, 'Waiting'), h('th', {}, 'Target activity'), h('th', {}, 'Update trigger'))),
      h('tbody', {}, ...sources.map(row)),
    );
  }

  function setTarget(sourceId: string, targetId: string): void {
    if (!plan) return;
    const at = plan.instructions.findIndex((instruction) => instruction.sourceActivityIds[0] === sourceId);
    if (at >= 0 && !targetId) plan.instructions.splice(at, 1);
    else if (at >= 0) plan.instructions[at]!.targetActivityIds = [targetId];
    else if (targetId) plan.instructions.push({ sourceActivityIds: [sourceId], targetActivityIds: [targetId] });
    // A report on the plan before the edit would mislead.
    clear(report);
    markPlan();
    renderPlan();
  }

  async function generate(): Promise<void> {
    const [sourceId, targetId] = [sourceSelect.value, targetSelect.value];
    const generated = await api<Plan>('POST', '/api/migrations/generate', { sourceDefinitionId: sourceId, targetDefinitionId: targetId, updateEventTriggers: triggers.checked });
    if (shownPair !== `${sourceId} ${targetId}`) return;
    plan = generated;
    markPlan();
    renderPlan();
    clear(report, h('p', { class: 'rf-muted' }, `${plan.instructions.length} activities map by id. Pick a target for a renamed activity.`));
  }

  async function validate(): Promise<boolean> {
    if (!plan) await generate();
    const result = await api<{ valid: boolean; instructionReports: Array<{ failures: string[] }>; instanceReports: Array<{ processInstanceId: string; failures: string[]; activityInstanceValidationReports: Array<{ failures: string[] }> }> }>(
      'POST',
      '/api/migrations/validate',
      { plan, query: { definitionId: sourceSelect.value } },
    );
    const failures = [
      ...result.instructionReports.flatMap((entry) => entry.failures),
      ...result.instanceReports.flatMap((entry) => [...entry.failures, ...entry.activityInstanceValidationReports.flatMap((activity) => activity.failures)].map((failure) => `${entry.processInstanceId}: ${failure}`)),
    ];
    clear(report, result.valid ? h('p', { id: 'rf-migration-valid' }, 'The plan is valid for every running instance of the source version.') : h('ul', { class: 'rf-errors', id: 'rf-migration-failures' }, ...failures.slice(0, 50).map((failure) => h('li', {}, failure))));
    return result.valid;
  }

  async function run(): Promise<void> {
    if (!(await validate())) return;
    try {
      const batch = await api<Batch>('POST', '/api/migrations/execute', { plan, query: { definitionId: sourceSelect.value }, async: true });
      toast(`batch ${batch.id} migrates ${batch.total} instances`);
      await refreshBatches();
    } catch (error) {
      if (error instanceof ApiError) clear(report, h('p', { class: 'rf-errors' }, error.message));
      else throw error;
    }
  }

  async function cancel(id: string): Promise<void> {
    await api('POST', `/api/batches/${id}/cancel`);
    await refreshBatches();
  }

  async function refreshBatches(): Promise<void> {
    const batches = await api<Batch[]>('GET', '/api/batches');
    clear(
      batchBox,
      batches.length
        ? h(
            'table',
            { class: 'rf-table', id: 'rf-migration-batches' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Started'), h('th', {}, 'Type'), h('th', {}, 'Status'), h('th', {}, 'Progress'), h('th', {}, 'Failed'), h('th', {}, ''))),
            h(
              'tbody',
              {},
              ...batches.map((batch) =>
                h(
                  'tr',
                  { 'data-batch': batch.id, 'data-status': batch.status },
                  h('td', {}, formatTime(batch.createdAt)),
                  h('td', {}, batch.type),
                  h('td', {}, batch.status),
                  h('td', {}, h('progress', { max: String(batch.total || 1), value: String(batch.done + batch.failed) }), ` ${batch.done + batch.failed}/${batch.total}`),
                  h('td', {}, batch.failed ? h('button', { type: 'button', class: 'rf-link-button', onclick: () => void showFailures(batch.id).catch(reportError) }, String(batch.failed)) : '0'),
                  h('td', {}, batch.status === 'running' ? h('button', { type: 'button', onclick: () => void cancel(batch.id).catch(reportError) }, 'Cancel') : ''),
                ),
              ),
            ),
          )
        : h('p', { class: 'rf-muted' }, 'No batches yet.'),
    );
  }

  async function showFailures(id: string): Promise<void> {
    const batch = await api<Batch>('GET', `/api/batches/${id}`);
    clear(report, h('ul', { class: 'rf-errors' }, ...(batch.failures ?? []).map((failure) => h('li', {}, h('a', { href: `#instance/${failure.instanceId}` }, failure.instanceId), `: ${failure.error ?? ''}`))));
  }

  keySelect.addEventListener('change', () => (fillVersions(), void showVersions().catch(reportError)));
  sourceSelect.addEventListener('change', () => void showVersions().catch(reportError));
  targetSelect.addEventListener('change', () => void showVersions().catch(reportError));
  // Instances move while the page is open (the batch itself moves them): the counts follow.
  const later = debounce(() => void refreshWaiting().catch(reportError), 1000);

  return {
    element,
    async show() {
      await load();
      await Promise.all([showVersions(), refreshBatches()]);
      clearInterval(watching);
      watching = setInterval(() => void refreshBatches().catch(() => undefined), 2000);
    },
    hide() {
      clearInterval(watching);
    },
    onEvent(event) {
      const moves = event.type === 'transition.committed' || event.type === 'instance.started' || event.type === 'instance.ended';
      if (moves && event.data?.processKey === keySelect.value) later();
    },
  };
}
