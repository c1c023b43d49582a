import { api } from './api.js';
import { clear, formatTime, h, reportError, toast } from './dom.js';
import { debounce, type View } from './view.js';
import { mountLinkedForm, showSubmissionProblem, type LinkedForm } from './forms-linked.js';

const USER_KEY = 'regenflow.user';
const FILTER_KEY = 'regenflow.taskFilter';

interface SavedFilter {
  id: string;
  name: string;
  owner: string | null;
  query: Record<string, unknown>;
  properties: { color?: string; description?: string };
  itemCount?: number;
}

interface FormField {
  id: string;
  label?: string;
  type?: string;
  defaultValue?: unknown;
}

/**
 * The task inbox: open user tasks, claim and complete. A task that links a form-js form
 * (camunda:formRef / camunda:formKey) shows it; otherwise a form from its camunda:formData fields.
 */
export function createTasksView(): View {
  const list = h('ul', { class: 'rf-task-list', id: 'rf-task-list' });
  const detail = h('div', { class: 'rf-task-detail', id: 'rf-task-detail' }, h('p', { class: 'rf-muted' }, 'Choose a task.'));
  const user = h('input', { id: 'rf-user', placeholder: 'your user id', value: sessionStorage.getItem(USER_KEY) ?? '', 'aria-label': 'Your user id' });
  const mine = h('input', { type: 'checkbox', id: 'rf-only-mine' });
  user.addEventListener('change', () => sessionStorage.setItem(USER_KEY, user.value.trim()));
  mine.addEventListener('change', () => void refresh());
  // Saved filters (Camunda 7's /engine-rest/filter): the token's own and the shared ones.
  const filterPicker = h('select', { id: 'rf-task-filter', 'aria-label': 'Task filter' });
  const saveFilter = h('button', { type: 'button', id: 'rf-save-filter', class: 'rf-small', title: 'save what the inbox shows now (only mine) as a filter' }, 'Save as filter…');
  const deleteFilter = h('button', { type: 'button', id: 'rf-delete-filter', class: 'rf-small rf-danger', hidden: true }, 'Delete filter');
  let filters: SavedFilter[] = [];
  filterPicker.addEventListener('change', () => {
    sessionStorage.setItem(FILTER_KEY, filterPicker.value);
    void refresh().catch(reportError);
  });
  saveFilter.addEventListener('click', async () => {
    const name = prompt('Name of the filter');
    if (!name?.trim()) return;
    const query = mine.checked && user.value.trim() ? { assignee: user.value.trim() } : {};
    try {
      const created = await api<SavedFilter>('POST', '/engine-rest/filter/create', { resourceType: 'Task', name: name.trim(), query, properties: {} });
      sessionStorage.setItem(FILTER_KEY, created.id);
      toast(`filter “${created.name}” saved`);
      await refresh();
    } catch (error) {
      reportError(error);
    }
  });
  deleteFilter.addEventListener('click', async () => {
    const filter = filters.find((candidate) => candidate.id === filterPicker.value);
    if (!filter || !confirm(`Delete the filter “${filter.name}”?`)) return;
    try {
      await api('DELETE', `/engine-rest/filter/${filter.id}`);
      sessionStorage.removeItem(FILTER_KEY);
      await refresh();
    } catch (error) {
      reportError(error);
    }
  });
  let selectedId: string | null = null;
  let tasks: any[] = [];

  /** The saved filters, in the picker with their task counts; keeps the chosen one while it exists. */
  async function loadFilters(): Promise<void> {
    filters = await api<SavedFilter[]>('GET', '/engine-rest/filter?resourceType=Task&itemCount=true').catch(() => []);
    const chosen = sessionStorage.getItem(FILTER_KEY) ?? '';
    clear(
      filterPicker,
      h('option', { value: '' }, 'All open tasks'),
      ...filters.map((filter) => h('option', { value: filter.id, title: filter.properties?.description ?? '' }, `${filter.name}${filter.owner === null ? ' (shared)' : ''} (${filter.itemCount ?? '?'})`)),
    );
    filterPicker.value = filters.some((filter) => filter.id === chosen) ? chosen : '';
    deleteFilter.hidden = !filterPicker.value || filters.find((filter) => filter.id === filterPicker.value)?.owner === null;
  }

  async function refresh(): Promise<void> {
    await loadFilters();
    const query = mine.checked && user.value.trim() ? `?assignee=${encodeURIComponent(user.value.trim())}` : '';
    const filterId = filterPicker.value;
    const [open, selected] = await Promise.all([
      api<any[]>('GET', `/api/tasks${query}`),
      filterId ? api<Array<{ id: string }>>('GET', `/engine-rest/filter/${filterId}/list?maxResults=1000`) : Promise.resolve(null),
    ]);
    const all = open;
    // A saved filter picks the tasks and their order; the inbox's own rows carry what it shows.
    tasks = selected ? selected.map((task) => all.find((candidate) => candidate.id === task.id)).filter(Boolean) : all;
    clear(
      list,
      ...tasks.map((task) =>
        h(
          'li',
          { class: task.id === selectedId ? 'rf-selected' : '', 'data-task-id': task.id },
          h('a', { href: `#/tasks/${task.id}` }, h('strong', {}, task.name ?? task.activityId)),
          h('div', { class: 'rf-muted' }, `${task.processKey} · ${task.assignee ? `claimed by ${task.assignee}` : 'unclaimed'} · ${formatTime(task.createdAt)}`),
        ),
      ),
      tasks.length ? null : h('li', { class: 'rf-muted', id: 'rf-inbox-empty' }, filterPicker.value ? 'No open task matches this filter.' : 'The inbox is empty.'),
    );
    renderDetail();
  }

  function input(field: FormField): HTMLInputElement {
    const id = `rf-field-${field.id}`;
    switch (field.type) {
      case 'boolean':
        return h('input', { id, name: field.id, type: 'checkbox', checked: field.defaultValue === true || field.defaultValue === 'true' });
      case 'long':
      case 'double':
      case 'number':
        return h('input', { id, name: field.id, type: 'number', step: field.type === 'long' ? '1' : 'any', value: field.defaultValue === undefined ? '' : String(field.defaultValue) });
      case 'date':
        return h('input', { id, name: field.id, type: 'date', value: field.defaultValue === undefined ? '' : String(field.defaultValue) });
      default:
        return h('input', { id, name: field.id, type: 'text', value: field.defaultValue === undefined ? '' : String(field.defaultValue) });
    }
  }

  function valueOf(field: FormField, control: HTMLInputElement): unknown {
    if (field.type === 'boolean') return control.checked;
    if (['long', 'double', 'number'].includes(field.type ?? '')) return control.value === '' ? null : Number(control.value);
    return control.value;
  }

  /** What the detail shows; a refresh that changes none of it keeps the form and its input. */
  let shown = '';

  function renderDetail(): void {
    const task = tasks.find((candidate) => candidate.id === selectedId);
    const showing = task ? `${task.id}:${task.assignee ?? ''}` : `none:${selectedId ?? ''}`;
    if (showing === shown) return;
    shown = showing;
    if (!task) {
      clear(detail, h('p', { class: 'rf-muted' }, selectedId ? 'This task is done or gone.' : 'Choose a task.'));
      return;
    }
    const formHost = h('div', { id: 'rf-task-form-host' }, h('p', { class: 'rf-muted' }, 'Loading the form…'));
    const fields: FormField[] = Array.isArray(task.formFields) ? task.formFields : [];
    const controls = fields.map((field) => ({ field, control: input(field) }));
    const form = h(
      'form',
      { class: 'rf-task-form', id: 'rf-task-form' },
      ...controls.map(({ field, control }) => h('div', { class: 'rf-field' }, h('label', { for: control.id }, field.label ?? field.id), control)),
      fields.length ? null : h('p', { class: 'rf-muted' }, 'This task has no form fields.'),
      h('button', { type: 'submit', class: 'rf-primary', id: 'rf-complete-task' }, 'Complete'),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const variables = Object.fromEntries(controls.map(({ field, control }) => [field.id, valueOf(field, control)]));
      try {
        await api('POST', `/api/tasks/${task.id}/complete`, { variables });
        toast(`completed ${task.name ?? task.activityId}`);
        selectedId = null;
        await refresh();
      } catch (error) {
        reportError(error);
      }
    });
    const claim = h('button', { type: 'button', id: 'rf-claim-task' }, task.assignee ? 'Unclaim' : 'Claim');
    claim.addEventListener('click', async () => {
      try {
        if (task.assignee) await api('POST', `/api/tasks/${task.id}/unclaim`);
        else {
          if (!user.value.trim()) return toast('enter your user id first', 'error');
          await api('POST', `/api/tasks/${task.id}/claim`, { userId: user.value.trim() });
        }
        await refresh();
      } catch (error) {
        reportError(error);
      }
    });
    clear(
      detail,
      h('h3', {}, task.name ?? task.activityId),
      h(
        'p',
        { class: 'rf-muted' },
        `${task.processKey} · `,
        h('a', { href: `#/instance/${task.instanceId}` }, `instance ${task.instanceId.slice(0, 8)}`),
        ` · ${task.assignee ? `claimed by ${task.assignee}` : 'unclaimed'}${task.candidateGroups?.length ? ` · groups ${task.candidateGroups.join(', ')}` : ''}${task.dueAt ? ` · due ${formatTime(task.dueAt)}` : ''}`,
      ),
      h('p', { id: 'rf-task-assignee' }, task.assignee ? `Assignee: ${task.assignee}` : 'Nobody has claimed this task.', ' ', claim),
      formHost,
    );
    void showForm(task, formHost, form).catch(reportError);
  }

  /** The task's form-js form when it links one (its own Complete checks it first), else the generated form. */
  async function showForm(task: any, host: HTMLElement, generated: HTMLFormElement): Promise<void> {
    const { form: linked, variables } = await api<{ form: LinkedForm | null; variables: Record<string, unknown> }>('GET', `/api/tasks/${task.id}/form`);
    if (!host.isConnected) return;
    if (!linked) return clear(host, generated);
    const rendered = await mountLinkedForm(host, linked, variables);
    const problem = h('div', { class: 'rf-error rf-form-problem', id: 'rf-form-problem', role: 'alert' });
    const complete = h('button', { type: 'button', class: 'rf-primary', id: 'rf-complete-task' }, 'Complete');
    complete.addEventListener('click', async () => {
      clear(problem);
      const { data, valid } = rendered.submit();
      if (!valid) return void clear(problem, 'Fix the marked fields first.');
      try {
        await api('POST', `/api/tasks/${task.id}/complete`, { variables: data });
        toast(`completed ${task.name ?? task.activityId}`);
        rendered.destroy();
        selectedId = null;
        await refresh();
      } catch (error) {
        showSubmissionProblem(problem, error);
      }
    });
    host.append(complete, problem);
  }

  const element = h(
    'section',
    { class: 'rf-view', id: 'rf-view-tasks' },
    h('h2', {}, 'Task inbox'),
    h('div', { class: 'rf-row' }, h('label', { for: 'rf-user' }, 'You: '), user, h('label', {}, mine, ' only mine'), h('label', { for: 'rf-task-filter' }, 'Filter: '), filterPicker, saveFilter, deleteFilter),
    h('div', { class: 'rf-columns' }, h('div', { class: 'rf-task-column' }, list), h('div', { class: 'rf-grow' }, detail)),
  );
  const later = debounce(() => refresh().catch(reportError), 300);
  return {
    element,
    async show(params) {
      selectedId = params[0] ?? null;
      await refresh();
    },
    onEvent(event) {
      if (event.type === 'transition.committed' || event.type === 'instance.ended') later();
    },
  };
}
