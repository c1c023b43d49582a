import { z } from 'zod';
import { incidentTasks } from '../../../service-tasks/incident/index.js';
import { AlertIntake } from '../../alerts/alert-intake.js';
import { AlertmanagerPayload, GenericPayload } from '../../alerts/payloads.js';
import { AlertQuery, alertsRouter } from '../../api/alerts-router.js';
import { CreatePattern, EditPattern, PatternQuery, patternsRouter, type PatternBook } from '../../api/patterns-router.js';
import type { RouteDoc } from '../../api/route-spec.js';
import { alertQueueDepth } from '../../store/alert-queue.js';
import { sharedPerScrape } from '../../telemetry/metrics.js';
import { listAlerts } from '../../store/alerts.js';
import { listDecisions } from '../../store/incident-decisions.js';
import { createFeatureFlagStore, createIncidentStore } from '../../store/incident-store.js';
import * as patterns from '../../store/patterns.js';
import { instanceHistory } from '../../store/queries.js';
import { defineModule } from '../product-module.js';

const Json = z.record(z.string(), z.unknown());
const Rows = z.array(Json);

/**
 * Incident response: alert webhooks that start or steer incident-response instances, the
 * pattern store with its learned confidence, and the incident.* topics the process calls.
 */
export const incidentModule = defineModule({
  name: 'incident',
  tables: ['alerts', 'alert_incidents', 'incident_patterns', 'incident_outcomes', 'incident_overrides', 'incident_decisions', 'feature_flags', 'feature_flag_changes', 'alert_queue'],
  init({ config, knex, engine, nodeId }) {
    const settings = {
      autoThreshold: config.REGENFLOW_INCIDENT_AUTO_CONFIDENCE,
      reviewThreshold: config.REGENFLOW_INCIDENT_REVIEW_CONFIDENCE,
      validationTimeout: config.REGENFLOW_INCIDENT_VALIDATION_TIMEOUT,
      reviewEscalationAfter: config.REGENFLOW_INCIDENT_REVIEW_ESCALATION,
    };
    const book: PatternBook = {
      listPatterns: (...args) => patterns.listPatterns(knex, ...args),
      findPattern: (...args) => patterns.findPattern(knex, ...args),
      listOutcomes: (...args) => patterns.listOutcomes(knex, ...args),
      listOverrides: (...args) => patterns.listOverrides(knex, ...args),
      insertPatternOnce: (...args) => patterns.insertPatternOnce(knex, ...args),
      updatePattern: (...args) => patterns.updatePattern(knex, ...args),
      recordOverride: (...args) => patterns.recordOverride(knex, ...args),
      decisions: (instanceId) => listDecisions(knex, instanceId),
      history: (instanceId) => instanceHistory(knex, instanceId),
      confidenceOf: patterns.confidenceOf,
    };
    const intake = new AlertIntake(knex, engine, {
      processKey: config.REGENFLOW_INCIDENT_PROCESS_KEY,
      nodeId,
      answerWaitMs: config.REGENFLOW_ALERT_ANSWER_WAIT_MS,
      leaseMs: config.REGENFLOW_ALERT_LEASE_MS,
      startVariables: () => ({ ...settings }),
    });
    // Both alert-queue gauges come from one query per scrape.
    const queueDepth = sharedPerScrape(() => alertQueueDepth(knex));
    return {
      service: { intake, patterns: book },
      topics: () =>
        incidentTasks({
          store: createIncidentStore(knex),
          flags: createFeatureFlagStore(knex),
          settings: { ...settings, telemetryWindowMinutes: config.REGENFLOW_INCIDENT_TELEMETRY_WINDOW_MINUTES },
        }),
      routes: [
        { path: '/api/alerts', router: alertsRouter((filter) => listAlerts(knex, filter), intake), docs: ALERT_ROUTES },
        { path: '/api/patterns', router: patternsRouter(book), docs: PATTERN_ROUTES },
      ],
      gauges: [
        {
          name: 'regenflow_alert_queue_depth',
          help: 'Alert work stored by a webhook and not yet done (waiting), or given up after its attempts (failed)',
          labelNames: ['state'],
          read: async () => {
            const depth = await queueDepth();
            return [
              { labels: { state: 'waiting' }, value: depth.waiting },
              { labels: { state: 'failed' }, value: depth.failed },
            ];
          },
        },
        {
          name: 'regenflow_alert_queue_oldest_seconds',
          help: 'How long the oldest alert work still waiting has waited (0 when none waits)',
          read: async () => [{ value: (await queueDepth()).oldestWaitingSeconds }],
        },
      ],
      // The alert queue is worked on every node: what a webhook stored starts or steers its incident here.
      start: () => intake.start(),
      stop: () => intake.stop(),
    };
  },
});

const ALERT_ROUTES: RouteDoc[] = [
  { method: 'post', path: '/api/alerts/alertmanager', tag: 'alerts', summary: 'Alertmanager webhook (version 4 payload): each firing alert starts or steers an incident-response instance; the answer says what happened to each alert.', roles: ['alert'], body: AlertmanagerPayload, responses: { 200: { description: 'what happened to each alert', schema: Json }, 202: { description: 'stored; the start or correlation of some alert is queued (GET /api/alerts shows what it became)', schema: Json }, 503: { description: 'nothing was stored; retry' } } },
  { method: 'post', path: '/api/alerts', tag: 'alerts', summary: 'Generic alert webhook (one alert or a list).', roles: ['alert'], body: GenericPayload, responses: { 200: { description: 'what happened to each alert', schema: Json }, 202: { description: 'stored; the start or correlation of some alert is queued (GET /api/alerts shows what it became)', schema: Json }, 503: { description: 'nothing was stored; retry' } } },
  { method: 'get', path: '/api/alerts', tag: 'alerts', summary: 'Stored alert occurrences, newest first.', roles: ['owner', 'operator'], query: AlertQuery, responses: { 200: { description: 'alerts', schema: Rows } } },
];

const PATTERN_ROUTES: RouteDoc[] = [
  { method: 'get', path: '/api/patterns', tag: 'patterns', summary: 'Incident patterns with their confidence and how it was computed.', roles: ['owner', 'operator'], query: PatternQuery, responses: { 200: { description: 'patterns', schema: Rows } } },
  { method: 'get', path: '/api/patterns/decisions', tag: 'patterns', summary: "An incident instance's decision log interleaved with its activity history (?instanceId=).", roles: ['owner', 'operator'], query: z.object({ instanceId: z.string() }), responses: { 200: { description: 'decisions', schema: Json } } },
  { method: 'get', path: '/api/patterns/:id', tag: 'patterns', summary: 'One pattern with its outcomes and overrides.', roles: ['owner', 'operator'], params: z.object({ id: z.string() }), responses: { 200: { description: 'the pattern', schema: Json }, 404: { description: 'no such pattern' } } },
  { method: 'post', path: '/api/patterns', tag: 'patterns', summary: 'Create a pattern (alert match and remediation).', roles: ['owner'], body: CreatePattern, responses: { 201: { description: 'created', schema: Json }, 409: { description: 'a pattern with this match exists' } } },
  { method: 'patch', path: '/api/patterns/:id', tag: 'patterns', summary: "Edit a pattern's remediation, description, counts or enabled flag.", roles: ['owner'], params: z.object({ id: z.string() }), body: EditPattern, responses: { 200: { description: 'the pattern', schema: Json }, 404: { description: 'no such pattern' } } },
];
