import { api } from './api.js';
import { DiagramViewer } from './diagram-viewer.js';
import { clear, formatMs, h } from './dom.js';
import { debounce, type View } from './view.js';

interface ActivityStats {
  activityId: string;
  name: string | null;
  started: number;
  completed: number;
  avgMs: number | null;
  maxMs: number | null;
  openIncidents: number;
}

/** Per process version: how often each activity ran and how long it took, on the diagram. */
export function createHeatmapView(): View {
  const canvasHost = h('div', { class: 'rf-canvas rf-viewer', id: 'rf-heatmap-canvas' });
  const viewer = new DiagramViewer(canvasHost);
  const header = h('div', { class: 'rf-instance-header' });
  const table = h('tbody', { id: 'rf-heatmap-rows' });
  const measure = h('select', { id: 'rf-heat-measure', 'aria-label': 'Colour by' }, h('option', { value: 'count' }, 'colour by count'), h('option', { value: 'duration' }, 'colour by mean duration'));
  let definitionId: string | null = null;

  async function refresh(): Promise<void> {
    if (!definitionId) return;
    const id = definitionId;
    const stats = await api<ActivityStats[]>('GET', `/api/process-definitions/${encodeURIComponent(id)}/activity-stats`);
    await viewer.showDefinition(id);
    if (id !== definitionId) return;
    viewer.clear();
    const value = (entry: ActivityStats) => (measure.value === 'count' ? entry.started : (entry.avgMs ?? 0));
    const max = Math.max(1, ...stats.map(value));
    for (const entry of stats) {
      // Five buckets, so the colours stay readable on any diagram.
      const bucket = value(entry) ? Math.min(4, Math.floor((value(entry) / max) * 4.999)) : -1;
      if (bucket >= 0) viewer.mark(entry.activityId, `rf-heat-${bucket}`);
      if (entry.openIncidents) viewer.mark(entry.activityId, 'rf-incident');
      viewer.overlay(
        entry.activityId,
        h('span', { class: 'rf-heat-label', 'data-activity': entry.activityId }, `${entry.started}× · ${formatMs(entry.avgMs)}`),
        { top: -20, left: 0 },
      );
    }
    clear(header, h('h2', {}, `Heatmap of ${id}`), h('p', { class: 'rf-muted' }, 'Runs per activity over every instance of this version, with the mean time from start to end.'), measure);
    clear(
      table,
      ...stats.map((entry) =>
        h('tr', {}, h('td', {}, entry.name ?? entry.activityId), h('td', {}, String(entry.started)), h('td', {}, String(entry.completed)), h('td', {}, formatMs(entry.avgMs)), h('td', {}, formatMs(entry.maxMs)), h('td', {}, String(entry.openIncidents))),
      ),
      stats.length ? null : h('tr', {}, h('td', { colspan: 6, class: 'rf-muted' }, 'No instance of this version has run yet.')),
    );
  }
  measure.addEventListener('change', () => void refresh());

  const element = h(
    'section',
    { class: 'rf-view', id: 'rf-view-heatmap' },
    header,
    h(
      'div',
      { class: 'rf-modeler-body' },
      canvasHost,
      h('aside', { class: 'rf-side' }, h('table', { class: 'rf-table rf-compact' }, h('thead', {}, h('tr', {}, ...['Activity', 'Runs', 'Done', 'Mean', 'Max', 'Incidents'].map((title) => h('th', {}, title)))), table)),
    ),
  );
  const later = debounce(() => void refresh(), 1000);
  return {
    element,
    async show(params) {
      definitionId = params[0] ?? null;
      await refresh();
    },
    onEvent(event) {
      if (event.type === 'transition.committed' || event.type === 'incident.created') later();
    },
  };
}
