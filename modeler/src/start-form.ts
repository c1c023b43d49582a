import { api, ApiError } from './api.js';
import { clear, h } from './dom.js';
import { mountLinkedForm, showSubmissionProblem, type LinkedForm } from './forms-linked.js';
import type { RenderedForm } from './forms-runtime.js';

interface FormField {
  id: string;
  label?: string;
  type: string;
  required: boolean;
  defaultValue?: string;
  values?: Array<{ id: string; name?: string }>;
}
interface StartEvent {
  activityId: string;
  name?: string;
  trigger: 'none' | 'timer' | 'message' | 'signal' | 'other';
  fields: FormField[];
}

const TRIGGER_WORDS: Record<string, string> = { timer: 'a timer', message: 'a message', signal: 'a signal', other: 'an event' };

/**
 * The start form of a process: the fields its start event declares (camunda:formData), typed,
 * required ones marked, and free JSON for anything else. A process that only a timer, message
 * or signal starts gets "Run now" instead of Start, which fires that start event once.
 * The server checks the same fields; its 400 is shown under the form, naming what is missing.
 */
export function createStartForm(prefix: string, onStarted: (instance: any) => void): { element: HTMLFormElement; load(processKey: string): Promise<void> } {
  const fieldsHost = h('div', { class: 'rf-start-fields', id: `${prefix}-fields` });
  const note = h('p', { class: 'rf-muted', id: `${prefix}-note` });
  const businessKey = h('input', { id: `${prefix}-business-key`, placeholder: 'business key (optional)', 'aria-label': 'Business key' });
  const extra = h('textarea', { id: `${prefix}-variables`, rows: 2, placeholder: 'more variables as JSON: {"name": "value"}', 'aria-label': 'More variables (JSON)' });
  const submit = h('button', { type: 'submit', class: 'rf-primary', id: `${prefix}-submit` }, 'Start');
  const problem = h('div', { class: 'rf-error', id: `${prefix}-problem`, role: 'alert' });
  const element = h('form', { class: 'rf-start-fields-form', id: `${prefix}-fields-form` }, note, fieldsHost, businessKey, extra, submit, problem);
  let key = '';
  let start: StartEvent | null = null;
  let runNow = false;
  const inputs = new Map<string, { field: FormField; input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement }>();
  /** The start event's form-js form, when it links one: shown instead of the formData fields. */
  let linked: RenderedForm | null = null;

  function inputFor(field: FormField): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement {
    const id = `${prefix}-field-${field.id}`;
    if (field.type === 'boolean') return h('input', { id, type: 'checkbox', checked: field.defaultValue === 'true' });
    if (field.type === 'enum') return h('select', { id }, ...(field.required ? [] : [h('option', { value: '' }, '')]), ...(field.values ?? []).map((value) => h('option', { value: value.id, selected: value.id === field.defaultValue }, value.name ?? value.id)));
    if (field.type === 'json') return h('textarea', { id, rows: 3, placeholder: 'JSON', required: field.required }, field.defaultValue ?? '');
    const type = field.type === 'long' || field.type === 'double' ? 'number' : field.type === 'date' ? 'datetime-local' : 'text';
    return h('input', { id, type, step: field.type === 'double' ? 'any' : null, value: field.defaultValue ?? '', required: field.required });
  }

  function valueOf(field: FormField, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement): unknown {
    if (field.type === 'boolean') return (input as HTMLInputElement).checked;
    const text = input.value.trim();
    if (!text) return undefined;
    if (field.type === 'long' || field.type === 'double') return Number(text);
    if (field.type === 'date') return new Date(text).toISOString();
    if (field.type === 'json') {
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`${field.label ?? field.id}: not valid JSON`);
      }
    }
    return text;
  }

  async function load(processKey: string): Promise<void> {
    key = processKey;
    clear(problem);
    inputs.clear();
    linked?.destroy();
    linked = null;
    const [definition] = await api<any[]>('GET', `/api/process-definitions?key=${encodeURIComponent(processKey)}&latest=true`);
    const info = typeof definition?.info === 'string' ? JSON.parse(definition.info) : definition?.info;
    const starts: StartEvent[] = info?.startEvents ?? [];
    start = starts.find((candidate) => candidate.trigger === 'none') ?? starts.find((candidate) => candidate.trigger !== 'other') ?? null;
    runNow = Boolean(start && start.trigger !== 'none');
    submit.textContent = runNow ? 'Run now' : 'Start';
    note.textContent = runNow
      ? `${definition?.name ?? processKey} starts by ${TRIGGER_WORDS[start!.trigger]} (${start!.name ?? start!.activityId}). Run now fires that start event once; its schedule stays as it is.`
      : start?.fields.length
        ? 'Fields marked * are required.'
        : 'This process declares no start variables.';
    clear(
      fieldsHost,
      ...(start?.fields ?? []).map((field) => {
        const input = inputFor(field);
        inputs.set(field.id, { field, input });
        return h('label', { class: 'rf-field', for: input.id }, h('span', {}, `${field.label ?? field.id}${field.required ? ' *' : ''}`, h('code', { class: 'rf-muted' }, ` ${field.id} (${field.type})`)), input);
      }),
    );
    if (runNow) return;
    const { form } = await api<{ form: LinkedForm | null }>('GET', `/api/process-definitions/key/${encodeURIComponent(processKey)}/start-form`);
    if (!form || key !== processKey) return;
    inputs.clear();
    note.textContent = `The start form ${form.key} (version ${form.version}).`;
    linked = await mountLinkedForm(fieldsHost, form, {});
  }

  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(problem);
    try {
      const variables: Record<string, unknown> = extra.value.trim() ? JSON.parse(extra.value) : {};
      for (const { field, input } of inputs.values()) {
        const value = valueOf(field, input);
        if (value !== undefined) variables[field.id] = value;
      }
      if (linked) {
        const { data, valid } = linked.submit();
        if (!valid) return void (problem.textContent = 'Fix the marked fields first.');
        Object.assign(variables, data);
      }
      const body = { variables, ...(businessKey.value.trim() ? { businessKey: businessKey.value.trim() } : {}) };
      const instance = runNow
        ? await api<any>('POST', `/api/process-definitions/key/${encodeURIComponent(key)}/run-now`, { ...body, startEventId: start!.activityId })
        : await api<any>('POST', '/api/process-instances', { processKey: key, ...body });
      onStarted(instance);
    } catch (error) {
      const missing: string[] = error instanceof ApiError ? (error.problem?.details?.missing ?? []) : [];
      for (const name of missing) inputs.get(name)?.input.setAttribute('aria-invalid', 'true');
      showSubmissionProblem(problem, error);
    }
  });
  return { element, load };
}
