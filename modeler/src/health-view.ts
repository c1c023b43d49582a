import { api, optional } from './api.js';
import { QUANTITIES, timeChart } from './charts.js';
import { clear, formatTime, h, reportError } from './dom.js';
import { incidentSentence } from './incident-text.js';
import { debounce, type View } from './view.js';

const METRICS = ['latency_p95', 'error_rate', 'throughput'] as const;

/** Three significant digits for measured values; anything else as given. */
const round = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? String(Number(value.toPrecision(3))) : String(value ?? '–'));

const LEVEL_WORDS: Record<string, string> = {
  LOW: 'little disorder (score below 0.3): routine tuning is enough',
  MEDIUM: 'noticeable disorder (0.3–0.6): a regeneration cycle is worth planning',
  HIGH: 'serious disorder (0.6–0.8): regeneration strategies are ranked and one runs',
  CRITICAL: 'the system is breaking down (0.8 and above): regenerate now',
};
const HEALTH_WORDS: Record<string, string> = {
  HEALTHY: 'spans look like the baseline (health above 0.9)',
  WARNING: 'errors or latency drift from the baseline (0.7–0.9)',
  CRITICAL: 'clearly degraded against the baseline (0.5–0.7)',
  FAILING: 'most requests fail or crawl (below 0.5)',
};
const number = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : null);

/** The latest measurement said in words; every field is read defensively (the module adds fields). */
function describeMeasurement(latest: Record<string, any>): HTMLElement {
  const level = String(latest.level ?? '').toUpperCase();
  const health = String(latest.healthState ?? '').toUpperCase();
  const score = number(latest.score);
  const healthScore = number(latest.health);
  const drift = number(latest.drift);
  const errors = number(latest.validationErrors);
  return h(
    'div',
    { class: 'rf-measurement' },
    h(
      'p',
      {},
      h('span', { class: `rf-level rf-level-${level.toLowerCase()}` }, `entropy ${level || '–'}`),
      ` ${score === null ? '' : round(score)} — ${LEVEL_WORDS[level] ?? 'no level'}.`,
    ),
    h(
      'p',
      {},
      h('span', { class: `rf-level rf-health-${health.toLowerCase()}` }, `span health ${health || '–'}`),
      ` ${healthScore === null ? '' : round(healthScore)} — ${HEALTH_WORDS[health] ?? 'not measured'}.`,
    ),
    h('p', { class: 'rf-muted' }, `drift ${drift === null ? '–' : round(drift)} · validation errors ${errors ?? '–'} · measured ${formatTime(latest.measuredAt)}`),
  );
}

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
    // The most disordered first: that is where to look.
    const ranked = [...systems].sort((a, b) => (number(b.latest?.score) ?? -1) - (number(a.latest?.score) ?? -1));
    const cards = await Promise.all(
      ranked.map(async ({ system, latest }) => {
        const [measurements, ...charts] = await Promise.all([
          optional<any[]>(`/api/entropy/measurements?system=${encodeURIComponent(system)}&limit=50`),
          ...METRICS.map((metric) => optional<any>(`/api/entropy/control-charts?system=${encodeURIComponent(system)}&metric=${metric}`)),
        ]);
        const history = (measurements ?? [])
          .map((measurement) => ({ at: measurement.measuredAt, value: number(measurement.score) ?? NaN }))
          .filter((point) => Number.isFinite(point.value) && !Number.isNaN(Date.parse(point.at)))
          .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
        return h(
          'div',
          { class: 'rf-system', 'data-system': system },
          h('h4', {}, system),
          latest ? describeMeasurement(latest) : h('p', { class: 'rf-muted' }, 'not measured yet'),
          h('div', { class: 'rf-chart-title' }, 'Entropy score over time (bands: LOW, MEDIUM, HIGH, CRITICAL)'),
          measurements ? timeChart(history, QUANTITIES.entropy!, { levelBands: true, width: 560, height: 180 }) : notAvailable('Measurements'),
          h(
            'div',
            { class: 'rf-charts' },
            ...METRICS.map((metric, index) => {
              const chart = charts[index];
              const quantity = QUANTITIES[metric]!;
              const points = Array.isArray(chart?.points) ? chart.points.filter((point: any) => number(point?.value) !== null && typeof point?.at === 'string') : [];
              return h(
                'div',
                { class: 'rf-control-chart', 'data-metric': metric },
                h(
                  'div',
                  { class: 'rf-chart-title' },
                  `${quantity.label} (${quantity.unit})`,
                  chart?.violations?.length ? h('span', { class: 'rf-bad' }, ` · ${chart.violations.length} rule violation(s)`) : h('span', { class: 'rf-good' }, ' · in control'),
                ),
                chart
                  ? timeChart(points, quantity, { limits: { centre: number(chart.centre), upper: number(chart.upper), lower: number(chart.lower), violations: Array.isArray(chart.violations) ? chart.violations : [] }, width: 280, height: 150 })
                  : notAvailable('Control chart'),
              );
            }),
          ),
        );
      }),
    );
    clear(
      systemsSection,
      h('h3', {}, 'Systems'),
      h(
        'p',
        { class: 'rf-muted rf-explain' },
        'The entropy score weighs span health 40 %, drift 30 % and validation errors 30 %, so a system can read LOW in entropy while its span health alone is CRITICAL. ',
        'Control charts: the green band lies between the lower and upper control limits (3 sigma) set by the first two thirds of the window; red points break a Western Electric rule.',
      ),
      ...cards,
    );
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
    const incidents = await api<any[]>('GET', '/api/incidents');
    clear(
      incidentsSection,
      h('h3', {}, `Open incidents (${incidents.length})`),
      incidents.length
        ? h('ul', {}, ...incidents.map((incident) => h('li', {}, h('a', { href: `#/instance/${incident.instanceId}` }, incident.processKey), ` ${incidentSentence(incident)}`)))
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
