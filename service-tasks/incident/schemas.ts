import { z } from 'zod';

/** Shapes the incident-response service tasks share. */

export const Topic = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, 'must be a topic name (letters, digits, . _ -)');

export const Remediation = z.object({ topic: Topic, params: z.record(z.string(), z.unknown()).default({}) });
export type Remediation = z.infer<typeof Remediation>;

/** builtin: an in-process handler of regenflow; remote: a worker on `remediation.remote`; manual: a person did it. */
export const RemediationMode = z.enum(['builtin', 'remote', 'manual', 'none']);

export const Labels = z.record(z.string(), z.string());

export const ConfidenceExplained = z.object({
  value: z.number(),
  successes: z.number(),
  failures: z.number(),
  method: z.literal('beta-posterior-mean'),
  prior: z.object({ alpha: z.number(), beta: z.number() }),
  formula: z.string(),
});

export const Candidate = z.object({
  patternId: z.string(),
  signature: z.string(),
  match: z.enum(['exact', 'related']),
  remediation: Remediation,
  score: z.number(),
  confidence: ConfidenceExplained,
  origin: z.string(),
  lastSeenAt: z.string().nullable(),
  /** consistent: a span name this fix worked for is failing now; contradicting: spans exist, none of those is failing. */
  telemetry: z.enum(['consistent', 'contradicting', 'none']),
});
export type Candidate = z.infer<typeof Candidate>;

export const Telemetry = z.object({
  service: z.string(),
  windowMinutes: z.number(),
  spans: z.number(),
  errors: z.number(),
  errorRate: z.number(),
  p95Ms: z.number().nullable(),
  topErrors: z.array(z.object({ name: z.string(), errors: z.number() })),
});

/** ISO 8601 duration, as a timer's timeDuration takes it. */
export const IsoDuration = z.string().regex(/^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/, 'must be an ISO 8601 duration such as PT15M');

/** Incident-response settings the tasks fall back to when an instance does not carry them. */
export interface IncidentSettings {
  autoThreshold: number;
  reviewThreshold: number;
  validationTimeout: string;
  reviewEscalationAfter: string;
  telemetryWindowMinutes: number;
}

export const Reviewer = z.string().max(200).nullish();
export const Note = z.string().max(4000).nullish();
