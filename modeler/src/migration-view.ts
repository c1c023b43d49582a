import { api, ApiError } from './api.js';
import { clear, formatTime, h, reportError, toast } from './dom.js';
import type { View } from './view.js';

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

/**
 * Migration (#migrations): pick a process and two of its versions, see the generated plan (edit a
 * target per source activity), validate it against the instances of the source version, run it as
 * a batch and watch the batch's progress and failures.
 */
export function createMigrationView(): View {
  const keySelect = h('select', { id: 'rf-migration-key', 'aria-label': 'Process' });
  const sourceSelect = h('select', { id: 'rf-migration-source', 'aria-label': 'Source version' });
  const targetSelect = h('select', { id: 'rf-migration-target', 'aria-label': 'Target version' });
  const triggers = h('input', { type: 'checkbox', id: 'rf-migration-triggers' });
  const planTable = h('table', { class: 'rf-table', id: 'rf-migration-plan' });
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
      h('button', { type: 'button', id: 'rf-migration-generate', onclick: () => void generate().catch(reportError) }, 'Generate plan'),
      h('button', { type: 'button', id: 'rf-migration-validate', onclick: () => void validate().catch(reportError) }, 'Validate'),
      h('button', { type: 'button', class: 'rf-primary', id: 'rf-migration-run', onclick: () => void run().catch(reportError) }, 'Migrate all instances'),
    ),
    planTable,
    report,
    h('h3', {}, 'Batches'),
    batchBox,
  );

  let definitions: Definition[] = [];
  let plan: Plan | null = null;
  let watching: ReturnType<typeof setInterval> | undefined;

  const versionsOf = (key: string) => definitions.filter((definition) => definition.key === key).sort((a, b) => b.version - a.version);

  function fillVersions(): void {
    const versions = versionsOf(keySelect.value);
    const options = () => versions.map((definition) => h('option', { value: definition.id }, `v${definition.version}`));
    clear(sourceSelect, ...options());
    clear(targetSelect, ...options());
    if (versions.length > 1) sourceSelect.value = versions[1]!.id;
    if (versions.length) targetSelect.value = versions[0]!.id;
    plan = null;
    clear(planTable);
    clear(report);
  }

  async function load(): Promise<void> {
    definitions = (await api<Definition[]>('GET', '/api/process-definitions')).map((row) => ({ id: row.id, key: row.key, version: row.version }));
    const keys = [...new Set(definitions.map((definition) => definition.key))].sort();
    const previous = keySelect.value;
    clear(keySelect, ...keys.map((key) => h('option', { value: key }, key)));
    if (previous && keys.includes(previous)) keySelect.value = previous;
    fillVersions();
  }

  function renderPlan(): void {
    if (!plan) return;
    const current = plan;
    clear(
      planTable,
      h('thead', {}, h('tr', {}, h('th', {}, 'Source activity'), h('th', {}, 'Target activity'), h('th', {}, 'Update trigger'), h('th', {}, ''))),
      h(
        'tbody',
        {},
        ...current.instructions.map((instruction, index) => {
          const target = h('input', { value: instruction.targetActivityIds[0] ?? '', 'aria-label': `target of ${instruction.sourceActivityIds[0]}` });
          target.addEventListener('change', () => (instruction.targetActivityIds = [target.value.trim()]));
          return h(
            'tr',
            {},
            h('td', {}, instruction.sourceActivityIds[0] ?? ''),
            h('td', {}, target),
            h('td', {}, instruction.updateEventTrigger ? 'yes' : ''),
            h('td', {}, h('button', { type: 'button', class: 'rf-link-button', onclick: () => (current.instructions.splice(index, 1), renderPlan()) }, 'remove')),
          );
        }),
        h('tr', {}, h('td', { colspan: '4' }, h('button', { type: 'button', class: 'rf-link-button', id: 'rf-migration-add', onclick: () => addInstruction() }, 'add a mapping'))),
      ),
    );
  }

  function addInstruction(): void {
    if (!plan) return;
    const source = prompt('Source activity id')?.trim();
    const target = source && prompt('Target activity id', source)?.trim();
    if (!source || !target) return;
    plan.instructions.push({ sourceActivityIds: [source], targetActivityIds: [target] });
    renderPlan();
  }

  async function generate(): Promise<void> {
    plan = await api<Plan>('POST', '/api/migrations/generate', { sourceDefinitionId: sourceSelect.value, targetDefinitionId: targetSelect.value, updateEventTriggers: triggers.checked });
    renderPlan();
    clear(report, h('p', { class: 'rf-muted' }, `${plan.instructions.length} activities map by id. Edit a target to map a renamed activity.`));
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
                  { 'data-batch': batch.id },
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

  keySelect.addEventListener('change', fillVersions);
  sourceSelect.addEventListener('change', () => ((plan = null), clear(planTable)));
  targetSelect.addEventListener('change', () => ((plan = null), clear(planTable)));

  return {
    element,
    async show() {
      await load();
      await refreshBatches();
      clearInterval(watching);
      watching = setInterval(() => void refreshBatches().catch(() => undefined), 2000);
    },
    hide() {
      clearInterval(watching);
    },
  };
}
