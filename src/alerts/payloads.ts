import { createHash } from 'node:crypto';
import { z } from 'zod';

/** One alert as regenflow handles it, whatever sent it. */
export interface NormalizedAlert {
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Null when the source sent none: the alert is identified by its open firing occurrence. */
  startsAt: Date | null;
  endsAt: Date | null;
  generatorUrl: string | null;
}

export interface AlertBatch {
  source: string;
  alerts: NormalizedAlert[];
  /** Alerts Alertmanager left out of this notification (its max_alerts). */
  truncatedAlerts: number;
  group: Record<string, unknown>;
}

const LabelName = z.string().min(1).max(200);
const LabelSet = z.record(LabelName, z.string().max(10_000)).refine((labels) => Object.keys(labels).length <= 100, 'at most 100 labels');
const Timestamp = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 timestamp' });
/** Alertmanager's zero time: the alert has no end. */
const NO_END = /^0001-01-01T00:00:00(\.0+)?Z$/;

const AlertmanagerAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: LabelSet,
  annotations: LabelSet.default({}),
  startsAt: Timestamp,
  endsAt: Timestamp.optional(),
  generatorURL: z.string().max(10_000).optional(),
  fingerprint: z.string().min(1).max(200).optional(),
});

/**
 * The Alertmanager webhook payload, version 4. Unknown fields are ignored (z.object
 * strips them): newer Alertmanagers add fields and must keep working.
 */
export const AlertmanagerPayload = z.object({
  version: z.literal('4', { error: 'only Alertmanager webhook payload version "4" is understood' }),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().max(1000).optional(),
  groupKey: z.string().max(10_000).optional(),
  truncatedAlerts: z.number().int().min(0).default(0),
  groupLabels: LabelSet.default({}),
  commonLabels: LabelSet.default({}),
  commonAnnotations: LabelSet.default({}),
  externalURL: z.string().max(10_000).optional(),
  alerts: z.array(AlertmanagerAlert).min(1).max(1000),
});

const GenericAlert = z
  .object({
    fingerprint: z.string().min(1).max(200).optional(),
    status: z.enum(['firing', 'resolved']),
    labels: LabelSet.refine((labels) => Boolean(labels.alertname), 'labels.alertname is required'),
    annotations: LabelSet.default({}),
    startsAt: Timestamp.optional(),
    endsAt: Timestamp.nullish(),
    generatorURL: z.string().max(10_000).optional(),
  })
  .strict();

/** Other sources: one alert, or `{ source, alerts: [...] }`. Strict: a misspelt field is a 400, not a silent default. */
export const GenericPayload = z.union([
  z.object({ source: z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/).default('generic'), alerts: z.array(GenericAlert).min(1).max(1000) }).strict(),
  GenericAlert,
]);

/** A stable fingerprint for sources that send none: the sorted label set, hashed. */
export function fingerprintOf(labels: Record<string, string>): string {
  const text = Object.keys(labels)
    .sort()
    .map((name) => `${name}\u0000${labels[name]}`)
    .join('\u0001');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function endOf(text: string | null | undefined): Date | null {
  if (!text || NO_END.test(text)) return null;
  return new Date(text);
}

export function fromAlertmanager(payload: z.infer<typeof AlertmanagerPayload>): AlertBatch {
  return {
    source: 'alertmanager',
    truncatedAlerts: payload.truncatedAlerts,
    group: {
      receiver: payload.receiver ?? null,
      groupKey: payload.groupKey ?? null,
      groupLabels: payload.groupLabels,
      externalURL: payload.externalURL ?? null,
      truncatedAlerts: payload.truncatedAlerts,
    },
    alerts: payload.alerts.map((alert) => ({
      fingerprint: alert.fingerprint ?? fingerprintOf(alert.labels),
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: new Date(alert.startsAt),
      // A firing alert's endsAt is only Alertmanager's guess of when it would time out.
      endsAt: alert.status === 'resolved' ? endOf(alert.endsAt) : null,
      generatorUrl: alert.generatorURL ?? null,
    })),
  };
}

export function fromGeneric(payload: z.infer<typeof GenericPayload>): AlertBatch {
  const batch = 'alerts' in payload ? payload : { source: 'generic', alerts: [payload] };
  return {
    source: batch.source,
    truncatedAlerts: 0,
    group: { source: batch.source },
    alerts: batch.alerts.map((alert) => ({
      fingerprint: alert.fingerprint ?? fingerprintOf(alert.labels),
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt ? new Date(alert.startsAt) : null,
      endsAt: endOf(alert.endsAt),
      generatorUrl: alert.generatorURL ?? null,
    })),
  };
}
