import { api, camelRows } from './api.js';
import { clear, formatTime, h, reportError, toast } from './dom.js';
import { debounce, type View } from './view.js';
import { mountLinkedForm, showSubmissionProblem, type LinkedForm } from './forms-linked.js';

const USER_KEY = 'regenflow.user';

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
  let selectedId: string | null = null;
  let tasks: any[] = [];

  async function refresh(): Promise<void> {
    const query = mine.checked && user.value.trim() ? `?assignee=${encodeURIComponent(user.value.trim())}` : '';
    tasks = camelRows(await api<any[]>('GET', `/api/tasks${query}`));
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
      tasks.length ? null : h('li', { class: 'rf-muted', id: 'rf-inbox-empty' }, 'The inbox is empty.'),
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
    h('div', { class: 'rf-row' }, h('label', { for: 'rf-user' }, 'You: '), user, h('label', {}, mine, ' only mine')),
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
