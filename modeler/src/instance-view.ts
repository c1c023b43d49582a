import { api } from './api.js';
import { DiagramViewer } from './diagram-viewer.js';
import { clear, formatMs, formatTime, h, reportError, toast } from './dom.js';
import { incidentSentence } from './incident-text.js';
import { jsonTree } from './json-tree.js';
import { createLiveLogPanel } from './live-log.js';
import { createDecisionHistory } from './decision-history.js';
import { qualityGatePanel } from './quality-gate.js';
import { can } from './session.js';
import { debounce, type View } from './view.js';

/**
 * One instance on its diagram: done activities, active tokens and incidents marked, a count
 * per activity; variables, tasks, incidents and history beside it; cancel, retry, set variables.
 */
export function createInstanceView(): View {
  const canvasHost = h('div', { class: 'rf-canvas rf-viewer', id: 'rf-instance-canvas' });
  const viewer = new DiagramViewer(canvasHost);
  const header = h('div', { class: 'rf-instance-header', id: 'rf-instance-header' });
  // Re-rendered on every refresh, around the variables form, which is made once.
  const sideTop = h('div');
  const variablesTable = h('table', { class: 'rf-table rf-compact', id: 'rf-variables' });
  const sideBottom = h('div');
  // Made once and kept across refreshes: it follows the log itself, with its own cursor.
  const liveLog = createLiveLogPanel();
  const decisions = createDecisionHistory((activityId) => viewer.nameOf(activityId));
  let instanceId: string | null = null;

  async function refresh(): Promise<void> {
    if (!instanceId) return;
    const id = instanceId;
    const [detail, historyRows] = await Promise.all([api<any>('GET', `/api/process-instances/${id}`), api<any[]>('GET', `/api/process-instances/${id}/history`)]);
    const instance = {
      ...detail,
      activeActivities: detail.activeActivities ?? [],
      userTasks: detail.userTasks ?? [],
      externalTasks: detail.externalTasks ?? [],
      timers: detail.timers ?? [],
      subscriptions: detail.subscriptions ?? [],
      incidents: detail.incidents ?? [],
    };
    const history = historyRows;
    if (id !== instanceId) return;
    await viewer.showDefinition(instance.definitionId);
    viewer.clear();

    const completed = new Map<string, number>();
    for (const entry of history) {
      if (entry.event === 'end' && entry.activityId) completed.set(entry.activityId, (completed.get(entry.activityId) ?? 0) + 1);
    }
    const active = new Set<string>(instance.activeActivities);
    const failing = new Map<string, any>();
    for (const incident of instance.incidents) if (incident.activityId) failing.set(incident.activityId, incident);
    // A failed instance's error names the activity it failed at.
    const failedAt = instance.status === 'failed' ? ([...history].reverse().find((entry) => entry.event === 'instance.failed')?.data?.activityId ?? null) : null;
    if (failedAt) failing.set(failedAt, { message: instance.errorMessage, activityId: failedAt });
    // What runs or fails inside a sub-process marks the sub-process too: collapsed, it is all
    // the top plane shows of it.
    const activeInside = new Map<string, number>();
    const failingInside = new Map<string, number>();
    for (const id of active) for (const scope of viewer.ancestors(id)) activeInside.set(scope, (activeInside.get(scope) ?? 0) + 1);
    for (const id of failing.keys()) for (const scope of viewer.ancestors(id)) failingInside.set(scope, (failingInside.get(scope) ?? 0) + 1);

    // Drilled into a sub-process where nothing runs or fails any more: back to the top.
    const plane = viewer.plane();
    if (plane && !activeInside.has(plane) && !failingInside.has(plane)) viewer.top();
    for (const activityId of completed.keys()) if (!active.has(activityId) && !activeInside.has(activityId)) viewer.mark(activityId, 'rf-done');
    for (const activityId of active) viewer.mark(activityId, 'rf-active');
    for (const activityId of activeInside.keys()) viewer.mark(activityId, 'rf-active');
    for (const activityId of [...failing.keys(), ...failingInside.keys()]) viewer.mark(activityId, 'rf-incident');
    for (const [activityId, count] of completed) {
      viewer.overlay(activityId, h('span', { class: 'rf-count', title: `${count} completed run(s)`, 'data-activity': activityId }, String(count)));
    }
    for (const activityId of active) {
      viewer.overlay(activityId, h('span', { class: 'rf-token', title: 'active token', 'data-activity': activityId }, '●'), { top: -10, left: -10 });
    }
    for (const [scope, count] of activeInside) {
      viewer.overlay(scope, h('button', { type: 'button', class: 'rf-inside rf-inside-active', 'data-activity': scope, title: 'show what runs inside', onclick: () => viewer.reveal([...active].find((id) => viewer.ancestors(id).includes(scope))!) }, `${count} active inside`), { top: -12, left: 0 });
    }
    for (const [activityId, incident] of failing) {
      viewer.overlay(activityId, h('span', { class: 'rf-incident-badge', 'data-activity': activityId, title: incidentSentence({ ...incident, activityName: viewer.nameOf(activityId) }) }, '!'), { top: -10, right: 10 });
    }
    for (const [scope, count] of failingInside) {
      viewer.overlay(scope, h('button', { type: 'button', class: 'rf-inside rf-inside-incident', 'data-activity': scope, title: 'show the failure inside', onclick: () => viewer.reveal([...failing.keys()].find((id) => viewer.ancestors(id).includes(scope))!) }, `${count} incident${count > 1 ? 's' : ''} inside`), { bottom: -12, left: 0 });
    }
    // The end event it reached, coloured by its declared outcome.
    const ended = instance.status !== 'active' ? [...history].reverse().find((entry) => entry.event === 'end' && entry.activityType === 'bpmn:EndEvent' && !viewer.ancestors(entry.activityId).length) : null;
    const outcome = ended ? (viewer.outcomeOf(ended.activityId) ?? 'neutral') : null;
    if (ended) viewer.mark(ended.activityId, `rf-end-${outcome}`);

    clear(
      header,
      h(
        'h2',
        {},
        `${viewer.processName() ?? instance.processKey} `,
        h('span', { class: `rf-status rf-status-${instance.status}${outcome ? ` rf-outcome-${outcome}` : ''}`, id: 'rf-instance-status' }, instance.status),
        ended ? h('span', { class: `rf-end-reached rf-outcome-${outcome}`, id: 'rf-end-reached' }, ` ended at “${ended.activityName ?? ended.activityId}”`) : null,
      ),
      h('p', { class: 'rf-muted' }, `${instance.processKey} · instance ${instance.id} · version ${instance.definitionId} · started ${formatTime(instance.startedAt)}${instance.endedAt ? ` · ended ${formatTime(instance.endedAt)} (${formatMs(new Date(instance.endedAt).getTime() - new Date(instance.startedAt).getTime())})` : ''}${instance.businessKey ? ` · business key ${instance.businessKey}` : ''}`),
      viewer.documentation() ? h('p', { class: 'rf-documentation', id: 'rf-process-documentation' }, viewer.documentation()) : null,
      instance.errorMessage ? h('p', { class: 'rf-bad' }, instance.errorMessage) : null,
      h(
        'div',
        { class: 'rf-legend' },
        h('span', { class: 'rf-legend-done' }, 'done'),
        h('span', { class: 'rf-legend-active' }, 'active'),
        h('span', { class: 'rf-legend-incident' }, 'incident'),
        h('span', { class: 'rf-muted' }, 'a collapsed sub-process opens with its ⤵ button; the breadcrumb leads back'),
        h('a', { href: `#/heatmap/${encodeURIComponent(instance.definitionId)}` }, 'heatmap of this version'),
      ),
    );
    renderSide(instance, history);
    await decisions.show(id);
  }

  // Made once: a live refresh must not wipe what the operator is typing.
  const variablesText = h('textarea', { id: 'rf-variables-edit', rows: 4, placeholder: '{"name": "value"}' });
  const setVariablesButton = h('button', { type: 'submit' }, 'Set variables');
  const setVariables = h('form', { class: 'rf-inline-form' }, variablesText, setVariablesButton);
  setVariables.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!instanceId) return;
    try {
      await api('PUT', `/api/process-instances/${instanceId}/variables`, JSON.parse(variablesText.value || '{}'));
      variablesText.value = '';
      toast('variables set');
      await refresh();
    } catch (error) {
      reportError(error);
    }
  });

  const side = h(
    'aside',
    { class: 'rf-side rf-instance-side', id: 'rf-instance-side' },
    sideTop,
    liveLog.element,
    decisions.element,
    // The heading lives here, not in sideTop: the live log and decisions sit between the two.
    h('section', { class: 'rf-side-section rf-variables-section' }, h('h3', {}, 'Variables'), variablesTable, can('setVariables') ? setVariables : null),
    sideBottom,
  );

  function renderSide(instance: any, history: any[]): void {
    const isActive = instance.status === 'active';
    setVariablesButton.disabled = !isActive;
    const cancel = h('button', { type: 'button', id: 'rf-cancel-instance', class: 'rf-danger', disabled: !isActive }, 'Cancel instance');
    cancel.addEventListener('click', async () => {
      if (!confirm('Cancel this instance?')) return;
      await api('DELETE', `/api/process-instances/${instance.id}?reason=${encodeURIComponent('cancelled in the operations UI')}`).catch(reportError);
      await refresh();
    });

    const activeTasks = [
      ...instance.userTasks.map((task: any) => h('li', {}, 'user task ', h('strong', {}, task.name ?? task.activityId), ' ', h('a', { href: `#/tasks/${task.id}` }, 'open in inbox'))),
      ...instance.externalTasks.map((task: any) =>
        h(
          'li',
          {},
          'external task ',
          h('strong', {}, viewer.nameOf(task.activityId)),
          ` on topic "${task.topic}"${task.workerId ? ` locked by ${task.workerId}` : ''}`,
          viewer.ancestors(task.activityId).length ? ` inside ${viewer.ancestors(task.activityId).map((id) => viewer.nameOf(id)).join(' › ')} ` : ' ',
          h('button', { type: 'button', class: 'rf-small rf-link', onclick: () => viewer.reveal(task.activityId) }, 'show'),
        ),
      ),
      ...instance.timers.map((job: any) => h('li', {}, `timer ${job.activityId} due ${formatTime(job.dueAt)}`)),
      ...instance.subscriptions.map((subscription: any) => h('li', {}, `waits for ${subscription.kind} "${subscription.name}" at ${subscription.activityId}`)),
    ];
    const incidents = instance.incidents.map((incident: any) => {
      const retry = h('button', { type: 'button', class: 'rf-small' }, 'Retry');
      retry.addEventListener('click', async () => {
        await api('POST', `/api/incidents/${incident.id}/retry`, { retries: 1 }).then(() => toast('retried')).catch(reportError);
        await refresh();
      });
      const name = viewer.nameOf(incident.activityId ?? '');
      const show = h('button', { type: 'button', class: 'rf-small rf-link', onclick: () => viewer.reveal(incident.activityId) }, 'show');
      return h(
        'li',
        { class: 'rf-incident-item' },
        h('p', { class: 'rf-bad rf-incident-sentence' }, incidentSentence({ ...incident, activityName: name })),
        h('div', { class: 'rf-row' }, can('retryIncidents') ? retry : null, incident.activityId ? show : null, h('span', { class: 'rf-muted' }, `${incident.type} · ${formatTime(incident.createdAt)}`)),
        h('details', { class: 'rf-raw' }, h('summary', {}, 'details'), h('pre', {}, String(incident.message ?? '')), incident.stack ? h('pre', { class: 'rf-muted' }, String(incident.stack)) : null),
      );
    });
    clear(
      sideTop,
      h('section', { class: 'rf-side-section' }, h('h3', {}, 'Waiting on'), activeTasks.length ? h('ul', { id: 'rf-waiting' }, ...activeTasks) : h('p', { class: 'rf-muted' }, 'nothing')),
      incidents.length ? h('section', { class: 'rf-side-section', id: 'rf-incidents' }, h('h3', {}, 'Incidents'), h('ul', { class: 'rf-plain-list' }, ...incidents)) : null,
      qualityGatePanel(instance.variables ?? {}),
    );
    clear(variablesTable, ...Object.entries(instance.variables ?? {}).map(([name, value]) => h('tr', {}, h('th', {}, name), h('td', {}, jsonTree(value)))));
    clear(
      sideBottom,
      can('cancel') ? h('section', { class: 'rf-side-section' }, cancel) : null,
      h(
        'section',
        { class: 'rf-side-section' },
        h('h3', {}, 'History'),
        h(
          'table',
          { class: 'rf-table rf-compact', id: 'rf-history' },
          ...history.map((entry) => h('tr', {}, h('td', {}, new Date(entry.at).toLocaleTimeString()), h('td', {}, entry.event), h('td', {}, entry.activityName ?? entry.activityId ?? ''))),
        ),
      ),
    );
  }

  const element = h('section', { class: 'rf-view', id: 'rf-view-instance' }, header, h('div', { class: 'rf-modeler-body' }, canvasHost, side));
  const later = debounce(() => refresh().catch(reportError), 200);
  return {
    element,
    async show(params) {
      if ((params[0] ?? null) !== instanceId) variablesText.value = '';
      instanceId = params[0] ?? null;
      liveLog.follow(instanceId);
      if (!instanceId) {
        location.hash = '#/instances';
        return;
      }
      await refresh();
    },
    hide() {
      liveLog.follow(null);
    },
    onEvent(event) {
      // Only this instance's (or its called instances') moves; new external tasks carry only topics.
      const concerns = (id: unknown) => id !== undefined && id !== null && id === instanceId;
      if (event.type === 'transition.committed' && (concerns(event.data?.instanceId) || concerns(event.data?.parentInstanceId))) later();
      if (event.type === 'instance.ended' && concerns(event.data?.id)) later();
      if (event.type === 'incident.created' && concerns(event.data?.instanceId)) later();
      if (event.type === 'external-tasks.created') later();
    },
  };
}
