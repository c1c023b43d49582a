import { createFormEditor } from '@bpmn-io/form-js-editor';
import { api, ApiError } from './api.js';
import { clear, formatTime, h, reportError, toast } from './dom.js';
import { loadFormStyles } from './forms-runtime.js';
import { can } from './session.js';
import type { View } from './view.js';

interface FormVersion {
  id: string;
  key: string;
  version: number;
  resourceName: string;
  deployedAt: string;
}

const NEW_FORM = (id: string) => ({
  type: 'default',
  id,
  schemaVersion: 16,
  exporter: { name: 'regenflow', version: '0.1.0' },
  components: [
    { type: 'text', id: 'Text_intro', text: `## ${id}` },
    { type: 'textfield', id: 'Field_name', key: 'name', label: 'Name', validate: { required: true } },
  ],
});

/**
 * Forms: the form-js editor (drag components, properties panel) with deploy and the deployed
 * versions. This view and the editor are one chunk, loaded when the page is first opened. A
 * deploy goes through POST /api/deployments as `<form id>.form`; the server checks the
 * schema (component types, unique keys, patterns) and a refusal names the component.
 */
export function createFormsView(): View {
  loadFormStyles();
  const canvas = h('div', { class: 'rf-forms-editor', id: 'rf-forms-editor' });
  const openSelect = h('select', { id: 'rf-forms-open', 'aria-label': 'Open a deployed form' });
  const title = h('span', { class: 'rf-diagram-title', id: 'rf-forms-title' }, '');
  const deployResult = h('div', { id: 'rf-forms-deploy-result' });
  const versionsList = h('ul', { id: 'rf-forms-versions' });
  const element = h(
    'div',
    { class: 'rf-forms', id: 'rf-forms-view' },
    h(
      'div',
      { class: 'rf-forms-main' },
      h(
        'div',
        { class: 'rf-forms-toolbar' },
        openSelect,
        h('button', { type: 'button', id: 'rf-forms-new', onclick: () => void newForm().catch(reportError) }, 'New form'),
        can('deploy') ? h('button', { type: 'button', class: 'rf-primary', id: 'rf-forms-deploy', onclick: () => void deploy().catch(reportError) }, 'Deploy') : null,
        title,
      ),
      canvas,
      deployResult,
    ),
    h(
      'aside',
      { class: 'rf-forms-side' },
      h('section', {}, h('h2', {}, 'Versions'), versionsList),
      h(
        'section',
        {},
        h('h2', {}, 'Linking a form'),
        h('p', { class: 'rf-muted' }, 'On a user task or start event: camunda:formRef="<form id>" (binding latest, deployment or version), or camunda:formKey="<form id>". Submissions are checked on the server against the deployed version.'),
      ),
    ),
  );

  let editor: Awaited<ReturnType<typeof createFormEditor>> | null = null;
  let opened: FormVersion | null = null;

  async function importSchema(schema: Record<string, unknown>): Promise<void> {
    if (!editor) editor = await createFormEditor({ container: canvas, schema: schema as never });
    else await editor.importSchema(schema as never);
  }

  async function refreshList(selected?: string): Promise<void> {
    const latest = await api<FormVersion[]>('GET', '/api/forms?latest=true');
    clear(openSelect, h('option', { value: '' }, 'Open a deployed form…'), ...latest.map((row) => h('option', { value: row.key }, `${row.key} (v${row.version})`)));
    if (selected) openSelect.value = selected;
  }

  async function open(idOrKey: string): Promise<void> {
    const form = await api<FormVersion & { resourceName: string; schema: Record<string, unknown> }>('GET', `/api/forms/${encodeURIComponent(idOrKey)}`);
    opened = { id: form.id, key: form.key, version: form.version, resourceName: form.resourceName, deployedAt: '' };
    await importSchema(form.schema);
    title.textContent = `${form.key} — version ${form.version}`;
    openSelect.value = form.key;
    await renderVersions(form.key);
  }

  async function renderVersions(key: string): Promise<void> {
    const versions = await api<FormVersion[]>('GET', `/api/forms?key=${encodeURIComponent(key)}`);
    clear(
      versionsList,
      ...versions.map((version) =>
        h(
          'li',
          {},
          h('button', { type: 'button', class: 'rf-link-button', 'data-version': version.version, onclick: () => void open(version.id).catch(reportError) }, `v${version.version}`),
          ` ${formatTime(version.deployedAt)}${opened?.id === version.id ? ' (open)' : ''}`,
        ),
      ),
    );
  }

  async function deploy(): Promise<void> {
    if (!editor) return;
    const schema = editor.saveSchema() as Record<string, unknown>;
    const key = typeof schema.id === 'string' ? schema.id : (opened?.key ?? 'form');
    clear(deployResult);
    try {
      const deployment = await api<{ forms: Array<{ id: string; key: string; version: number; created: boolean }> }>('POST', '/api/deployments', {
        name: opened?.key === key ? opened.resourceName : `${key}.form`,
        xml: JSON.stringify(schema, null, 2),
      });
      const summary = deployment.forms.map((form) => `${form.key} v${form.version}${form.created ? ' (new)' : ' (unchanged)'}`).join(', ');
      toast(`deployed ${summary}`);
      clear(deployResult, h('p', { id: 'rf-forms-deployed' }, `Deployed: ${summary}`));
      const target = deployment.forms.find((form) => form.key === key) ?? deployment.forms[0];
      await refreshList(target?.key);
      if (target) await open(target.id);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      clear(deployResult, h('p', { class: 'rf-error', id: 'rf-forms-deploy-error' }, error.message));
    }
  }

  async function newForm(): Promise<void> {
    const key = `form_${Math.random().toString(36).slice(2, 8)}`;
    opened = null;
    await importSchema(NEW_FORM(key));
    title.textContent = `${key} — not deployed (its id is set in the properties panel of the form)`;
    clear(versionsList);
  }

  openSelect.addEventListener('change', () => {
    if (openSelect.value) void open(openSelect.value).catch(reportError);
  });

  return {
    element,
    async show(params) {
      await refreshList();
      const wanted = params[0];
      if (wanted) await open(wanted);
      else if (!editor) await newForm();
    },
  };
}
