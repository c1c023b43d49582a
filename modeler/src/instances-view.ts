import { api } from './api.js';
import { clear, formatMs, formatTime, h, reportError, toast } from './dom.js';
import { can } from './session.js';
import { createStartForm } from './start-form.js';
import { debounce, type View } from './view.js';

/** Instances with filters, and a form to start one. */
export function createInstancesView(): View {
  const status = h('select', { id: 'rf-filter-status', 'aria-label': 'Status' }, ...['', 'active', 'completed', 'cancelled', 'failed'].map((value) => h('option', { value }, value || 'any status')));
  const processKey = h('select', { id: 'rf-filter-key', 'aria-label': 'Process' });
  const businessKey = h('input', { id: 'rf-filter-business-key', placeholder: 'business key', 'aria-label': 'Business key' });
  const startedAfter = h('input', { id: 'rf-filter-after', type: 'datetime-local', 'aria-label': 'Started after' });
  const incidents = h('select', { id: 'rf-filter-incidents', 'aria-label': 'Incidents' }, h('option', { value: '' }, 'with or without incidents'), h('option', { value: 'open' }, 'with open incidents'), h('option', { value: 'none' }, 'without incidents'));
  const variable = h('input', {
    id: 'rf-filter-variable',
    placeholder: 'variables: amount > 100; customer = acme',
    title: 'one or more conditions separated by ";": name = value, !=, >, >=, <, <=, ~ (like, % any text), or Camunda\'s name_op_value',
    'aria-label': 'Variable filter',
  });
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
    if (incidents.value) query.set('incidents', incidents.value);
    const conditions = variableConditions(variable.value);
    for (const condition of conditions) query.append('variable', condition);
    // The history search answers the same entries, filtered by variables too.
    const instances = await api<any[]>('GET', `${conditions.length ? '/api/history/process-instances' : '/api/process-instances'}?${query}`);
    clear(
      rows,
      ...instances.map((instance) =>
        h(
          'tr',
          { 'data-instance-id': instance.id },
          h('td', {}, h('a', { href: `#/instance/${instance.id}` }, instance.id.slice(0, 8))),
          h('td', {}, instance.processName ?? instance.processKey, instance.processName ? h('div', { class: 'rf-muted rf-small-text' }, instance.processKey) : null),
          h('td', {}, h('a', { href: `#/heatmap/${encodeURIComponent(instance.definitionId)}`, title: 'heatmap of this version' }, instance.definitionId.split(':')[1] ? `v${instance.definitionId.split(':')[1]}` : instance.definitionId)),
          h(
            'td',
            { class: 'rf-state-cell' },
            h('span', { class: `rf-status rf-status-${instance.status}${instance.endOutcome ? ` rf-outcome-${instance.endOutcome}` : instance.status === 'completed' ? ' rf-outcome-neutral' : ''}` }, instance.status),
            instance.endActivityId ? h('div', { class: `rf-end-reached rf-outcome-${instance.endOutcome ?? 'neutral'}`, title: `end event ${instance.endActivityId}` }, instance.endActivityName ?? instance.endActivityId) : null,
          ),
          h('td', { class: 'rf-incident-cell' }, instance.openIncidents ? h('a', { class: 'rf-incident-count', href: `#/instance/${instance.id}`, title: 'open incidents' }, `⚠ ${instance.openIncidents}`) : h('span', { class: 'rf-muted' }, '–')),
          h('td', {}, instance.businessKey ?? ''),
          h('td', {}, formatTime(instance.startedAt)),
          h('td', {}, instance.durationMs === null || instance.durationMs === undefined ? h('span', { class: 'rf-muted', title: 'running' }, `running ${formatMs(Date.now() - new Date(instance.startedAt).getTime())}`) : formatMs(instance.durationMs)),
        ),
      ),
      instances.length ? null : h('tr', {}, h('td', { colspan: 8, class: 'rf-muted' }, 'No instances match.')),
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
  const filters = h('form', { class: 'rf-filters', id: 'rf-filters' }, status, processKey, incidents, businessKey, variable, startedAfter, h('button', { type: 'submit' }, 'Filter'));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    refresh().catch(reportError);
  });
  for (const control of [status, processKey, incidents]) control.addEventListener('change', () => refresh().catch(reportError));

  const element = h(
    'section',
    { class: 'rf-view', id: 'rf-view-instances' },
    h('div', { class: 'rf-columns' },
      h('div', { class: 'rf-grow' },
        h('h2', {}, 'Instances'),
        filters,
        h('table', { class: 'rf-table' }, h('thead', {}, h('tr', {}, ...['Instance', 'Process', 'Version', 'State · end event', 'Incidents', 'Business key', 'Started', 'Duration'].map((title) => h('th', {}, title)))), rows),
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

const OPERATORS: Record<string, string> = { '=': 'eq', '==': 'eq', '!=': 'neq', '>': 'gt', '>=': 'gteq', '<': 'lt', '<=': 'lteq', '~': 'like', like: 'like' };

/** `amount > 100; customer = acme` (or Camunda's `amount_gt_100`) as `name_op_value` conditions. */
export function variableConditions(text: string): string[] {
  return text
    .split(';')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^([^\s=!<>~]+)\s*(==|=|!=|>=|<=|>|<|~|\blike\b)\s*(.*)$/.exec(part);
      if (!match) return part;
      const value = match[3]!.trim().replace(/^"(.*)"$/, '$1');
      return `${match[1]}_${OPERATORS[match[2]!]}_${value}`;
    });
}
