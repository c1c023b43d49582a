import { api } from './api.js';
import { clear, formatTime, h, reportError, toast } from './dom.js';
import { can } from './session.js';
import { createStartForm } from './start-form.js';
import { debounce, type View } from './view.js';

/** Instances with filters, and a form to start one. */
export function createInstancesView(): View {
  const status = h('select', { id: 'rf-filter-status', 'aria-label': 'Status' }, ...['', 'active', 'completed', 'cancelled', 'failed'].map((value) => h('option', { value }, value || 'any status')));
  const processKey = h('select', { id: 'rf-filter-key', 'aria-label': 'Process' });
  const businessKey = h('input', { id: 'rf-filter-business-key', placeholder: 'business key', 'aria-label': 'Business key' });
  const startedAfter = h('input', { id: 'rf-filter-after', type: 'datetime-local', 'aria-label': 'Started after' });
  const rows = h('tbody', { id: 'rf-instance-rows' });
  const startKey = h('select', { id: 'rf-start-key', 'aria-label': 'Process to start' });
  const startForm = createStartForm('rf-start', (instance) => {
    toast(`started ${instance.processKey} ${instance.id.slice(0, 8)}`);
    location.hash = `#/instance/${instance.id}`;
  });
  startKey.addEventListener('change', () => startForm.load(startKey.value).catch(reportError));

  async function refresh(): Promise<void> {
    const query = new URLSearchParams({ limit: '200' });
    if (status.value) query.set('status', status.value);
    if (processKey.value) query.set('processKey', processKey.value);
    if (businessKey.value.trim()) query.set('businessKey', businessKey.value.trim());
    if (startedAfter.value) query.set('startedAfter', new Date(startedAfter.value).toISOString());
    const instances = await api<any[]>('GET', `/api/process-instances?${query}`);
    clear(
      rows,
      ...instances.map((instance) =>
        h(
          'tr',
          { 'data-instance-id': instance.id },
          h('td', {}, h('a', { href: `#/instance/${instance.id}` }, instance.id.slice(0, 8))),
          h('td', {}, instance.processKey),
          h('td', {}, h('a', { href: `#/heatmap/${encodeURIComponent(instance.definitionId)}` }, instance.definitionId.split(':')[1] ? `v${instance.definitionId.split(':')[1]}` : instance.definitionId)),
          h('td', {}, h('span', { class: `rf-status rf-status-${instance.status}` }, instance.status)),
          h('td', {}, instance.businessKey ?? ''),
          h('td', {}, formatTime(instance.startedAt)),
          h('td', {}, formatTime(instance.endedAt)),
        ),
      ),
      instances.length ? null : h('tr', {}, h('td', { colspan: 7, class: 'rf-muted' }, 'No instances match.')),
    );
  }

  async function refreshKeys(): Promise<void> {
    const definitions = await api<any[]>('GET', '/api/process-definitions?latest=true');
    const chosen = processKey.value;
    clear(processKey, h('option', { value: '' }, 'any process'), ...definitions.map((definition) => h('option', { value: definition.key, selected: definition.key === chosen }, definition.key)));
    const executable = definitions.filter((definition) => definition.executable);
    const startChosen = startKey.value;
    clear(startKey, ...executable.map((definition) => h('option', { value: definition.key, selected: definition.key === startChosen }, `${definition.name ?? definition.key} (v${definition.version})`)));
    if (startKey.value && startKey.value !== startChosen) await startForm.load(startKey.value);
  }

  const start = h('section', { class: 'rf-start-form', id: 'rf-start-form' }, h('h3', {}, 'Start an instance'), startKey, startForm.element);
  const filters = h('form', { class: 'rf-filters', id: 'rf-filters' }, status, processKey, businessKey, startedAfter, h('button', { type: 'submit' }, 'Filter'));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    refresh().catch(reportError);
  });
  for (const control of [status, processKey]) control.addEventListener('change', () => refresh().catch(reportError));

  const element = h(
    'section',
    { class: 'rf-view', id: 'rf-view-instances' },
    h('div', { class: 'rf-columns' },
      h('div', { class: 'rf-grow' },
        h('h2', {}, 'Instances'),
        filters,
        h('table', { class: 'rf-table' }, h('thead', {}, h('tr', {}, ...['Instance', 'Process', 'Version', 'Status', 'Business key', 'Started', 'Ended'].map((title) => h('th', {}, title)))), rows),
      ),
      can('start') ? h('aside', { class: 'rf-side' }, start) : null,
    ),
  );
  const later = debounce(() => refresh().catch(reportError), 400);
  return {
    element,
    async show() {
      await refreshKeys();
      await refresh();
    },
    onEvent(event) {
      if (event.type === 'instance.started' || event.type === 'instance.ended' || event.type === 'transition.committed') later();
    },
  };
}
