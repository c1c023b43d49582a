import { api, camelRows, optional } from './api.js';
import { lineChart } from './charts.js';
import { clear, formatTime, h, reportError } from './dom.js';
import { debounce, type View } from './view.js';

const METRICS = ['latency_p95', 'error_rate', 'throughput'] as const;

/** Three significant digits for measured values; anything else as given. */
const round = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? String(Number(value.toPrecision(3))) : String(value ?? '–'));

const notAvailable = (what: string) => h('p', { class: 'rf-muted rf-not-available' }, `${what}: not available on this server.`);

/**
 * Health: systems with their entropy level over time, control charts with limits and rule
 * violations, open alerts and incidents, recent DMEDI cycles. The entropy and alert
 * endpoints belong to other modules: a 404 shows "not available" instead of failing.
 */
export function createHealthView(): View {
  const systemsSection = h('section', { class: 'rf-card', id: 'rf-health-systems' });
  const alertsSection = h('section', { class: 'rf-card', id: 'rf-health-alerts' });
  const incidentsSection = h('section', { class: 'rf-card', id: 'rf-health-incidents' });
  const cyclesSection = h('section', { class: 'rf-card', id: 'rf-health-cycles' });

  async function renderSystems(): Promise<void> {
    const systems = await optional<Array<{ system: string; latest: any }>>('/api/entropy/systems');
    if (!systems) return clear(systemsSection, h('h3', {}, 'Systems'), notAvailable('Entropy measurements'));
    if (!systems.length) return clear(systemsSection, h('h3', {}, 'Systems'), h('p', { class: 'rf-muted' }, 'No system has been measured yet.'));
    const cards = await Promise.all(
      systems.map(async ({ system, latest }) => {
        const [measurements, ...charts] = await Promise.all([
          optional<any[]>(`/api/entropy/measurements?system=${encodeURIComponent(system)}&limit=50`),
          ...METRICS.map((metric) => optional<any>(`/api/entropy/control-charts?system=${encodeURIComponent(system)}&metric=${metric}`)),
        ]);
        const history = (measurements ?? [])
          .map((measurement) => ({ at: measurement.measuredAt, value: Number(measurement.score ?? measurement.level) }))
          .filter((point) => Number.isFinite(point.value))
          .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
        return h(
          'div',
          { class: 'rf-system', 'data-system': system },
          h('h4', {}, system, ' ', latest ? h('span', { class: `rf-level rf-level-${String(latest.level).toLowerCase()}` }, `level ${latest.level}`) : h('span', { class: 'rf-muted' }, 'not measured')),
          latest
            ? h('p', { class: 'rf-muted' }, `score ${round(latest.score)} · health ${latest.healthState ?? round(latest.health)} · drift ${round(latest.drift)} · validation errors ${latest.validationErrors} · ${formatTime(latest.measuredAt)}`)
            : null,
          h('div', { class: 'rf-chart-title' }, 'Entropy score over time'),
          measurements ? lineChart(history) : notAvailable('Measurements'),
          h(
            'div',
            { class: 'rf-charts' },
            ...METRICS.map((metric, index) => {
              const chart = charts[index];
              return h(
                'div',
                { class: 'rf-control-chart', 'data-metric': metric },
                h('div', { class: 'rf-chart-title' }, `${metric}${chart?.violations?.length ? ` · ${chart.violations.length} violation(s)` : ''}`),
                chart ? lineChart(chart.points ?? [], { centre: chart.centre, upper: chart.upper, lower: chart.lower, violations: chart.violations }, { width: 270, height: 120 }) : notAvailable('Control chart'),
              );
            }),
          ),
        );
      }),
    );
    clear(systemsSection, h('h3', {}, 'Systems'), ...cards);
  }

  async function renderAlerts(): Promise<void> {
    const alerts = await optional<any[]>('/api/alerts');
    if (!alerts) return clear(alertsSection, h('h3', {}, 'Open alerts'), notAvailable('Alerts'));
    const open = alerts.filter((alert) => alert.status !== 'resolved');
    clear(
      alertsSection,
      h('h3', {}, `Open alerts (${open.length})`),
      open.length
        ? h(
            'ul',
            {},
            ...open.map((alert) =>
              h(
                'li',
                {},
                h('strong', {}, alert.labels?.alertname ?? alert.fingerprint),
                ` ${alert.labels?.severity ?? ''} · ${alert.annotations?.summary ?? ''} · since ${formatTime(alert.startsAt)} `,
                alert.instanceId ? h('a', { href: `#/instance/${alert.instanceId}` }, 'its instance') : null,
              ),
            ),
          )
        : h('p', { class: 'rf-muted' }, 'No open alerts.'),
    );
  }

  async function renderIncidents(): Promise<void> {
    const incidents = camelRows(await api<any[]>('GET', '/api/incidents'));
    clear(
      incidentsSection,
      h('h3', {}, `Open incidents (${incidents.length})`),
      incidents.length
        ? h('ul', {}, ...incidents.map((incident) => h('li', {}, h('a', { href: `#/instance/${incident.instanceId}` }, incident.processKey), ` ${incident.type} at ${incident.activityId ?? '–'}: ${incident.message}`)))
        : h('p', { class: 'rf-muted' }, 'No open incidents.'),
    );
  }

  async function renderCycles(): Promise<void> {
    const definitions = await api<any[]>('GET', '/api/process-definitions?latest=true');
    const keys = definitions.map((definition) => definition.key).filter((key: string) => /dmedi/i.test(key));
    const instances = (await Promise.all(keys.map((key: string) => api<any[]>('GET', `/api/process-instances?processKey=${encodeURIComponent(key)}&limit=10`)))).flat();
    instances.sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
    clear(
      cyclesSection,
      h('h3', {}, 'Recent DMEDI cycles'),
      !keys.length
        ? h('p', { class: 'rf-muted rf-not-available' }, 'No DMEDI process is deployed.')
        : instances.length
          ? h('ul', {}, ...instances.slice(0, 10).map((instance) => h('li', {}, h('a', { href: `#/instance/${instance.id}` }, `${instance.processKey} ${instance.id.slice(0, 8)}`), ` ${instance.status} · ${instance.businessKey ?? ''} · ${formatTime(instance.startedAt)}`)))
          : h('p', { class: 'rf-muted' }, 'No DMEDI cycle has run yet.'),
    );
  }

  async function refresh(): Promise<void> {
    const results = await Promise.allSettled([renderSystems(), renderAlerts(), renderIncidents(), renderCycles()]);
    for (const result of results) if (result.status === 'rejected') reportError(result.reason);
  }

  const element = h(
    'section',
    { class: 'rf-view', id: 'rf-view-health' },
    h('h2', {}, 'Health'),
    h('div', { class: 'rf-health-grid' }, systemsSection, h('div', {}, alertsSection, incidentsSection, cyclesSection)),
  );
  const later = debounce(() => void refresh(), 2000);
  return {
    element,
    show: refresh,
    onEvent(event) {
      if (event.type === 'instance.ended' || event.type === 'instance.started' || event.type === 'incident.created') later();
    },
  };
}
