import { z } from 'zod';
import { confidenceOf, signatureOf, type PatternRow } from '../../src/store/patterns.js';
import type { ServiceTaskDefinition } from '../registry.js';
import type { IncidentTaskDependencies } from './dependencies.js';
import type { ServiceTelemetry } from '../../src/store/service-telemetry.js';
import { Candidate, ConfidenceExplained, IsoDuration, Labels, Remediation, RemediationMode, Telemetry } from './schemas.js';

const Input = z.object({
  fingerprint: z.string().min(1),
  labels: Labels,
  autoThreshold: z.number().min(0).max(1).optional(),
  reviewThreshold: z.number().min(0).max(1).optional(),
  validationTimeout: IsoDuration.optional(),
  reviewEscalationAfter: IsoDuration.optional(),
});

const Output = z.object({
  signature: z.string(),
  service: z.string(),
  patternId: z.string().nullable(),
  remediation: Remediation.nullable(),
  remediationMode: RemediationMode,
  confidence: z.number(),
  confidenceExplained: ConfidenceExplained.nullable(),
  candidates: z.array(Candidate),
  patternHistory: z.array(z.object({ instanceId: z.string(), result: z.string(), durationMs: z.number().nullable(), recordedAt: z.string() })),
  telemetry: Telemetry.nullable(),
  /** Why the routing confidence is below the pattern's own, when it is. */
  confidenceCappedBy: z.literal('telemetry').nullable(),
  proposedRoute: z.enum(['auto', 'approve', 'manual']),
  autoThreshold: z.number(),
  reviewThreshold: z.number(),
  validationTimeout: IsoDuration,
  reviewEscalationAfter: IsoDuration,
});

/** A pattern for the same alert and service but another severity counts half. */
const RELATED_WEIGHT = 0.5;
const EVIDENCE_RANK = { consistent: 2, none: 1, contradicting: 0 } as const;

/**
 * The route incident.analyse proposes and records, by the same rule as the shipped table
 * processes/incident-automation-level.dmn (which decides the route taken, from this task's
 * confidence, confidenceCappedBy and thresholds): a fix that recent telemetry contradicts has
 * its confidence capped at the automatic threshold and is never automatic.
 */
export function proposeRoute(
  best: { score: number; telemetry: string } | null,
  autoThreshold: number,
  reviewThreshold: number,
): { confidence: number; capped: boolean; proposedRoute: 'auto' | 'approve' | 'manual' } {
  const capped = best?.telemetry === 'contradicting' && best.score > autoThreshold;
  const confidence = capped ? autoThreshold : (best?.score ?? 0);
  const proposedRoute = confidence < reviewThreshold ? 'manual' : confidence > autoThreshold && !capped ? 'auto' : 'approve';
  return { confidence, capped, proposedRoute };
}

/**
 * Matches the alert against the pattern store by its labels signature (alertname +
 * service + severity) and looks at the service's recent spans when there are any. The
 * best candidate's confidence decides the route; the thresholds go out as variables so
 * the diagram's gateway conditions and this decision use the same numbers.
 *
 * Telemetry: a pattern remembers which span names were failing when it worked. Among
 * candidates, one whose operations fail now comes first; and a fix whose operations are
 * all healthy now (while the service has spans) is never applied without a person — its
 * routing confidence is capped at the automatic threshold.
 */
export function analyseTask(deps: IncidentTaskDependencies): ServiceTaskDefinition<typeof Input, typeof Output> {
  return {
    topic: 'incident.analyse',
    description: 'Matches an alert against known patterns and recent telemetry; proposes a remediation with a confidence',
    input: Input,
    output: Output,
    mode: 'inline',
    async handler(input, context) {
      const match = {
        alertname: input.labels.alertname ?? '',
        service: input.labels.service ?? input.labels.job ?? '',
        severity: input.labels.severity ?? '',
      };
      const signature = signatureOf(match);
      const autoThreshold = input.autoThreshold ?? deps.settings.autoThreshold;
      const reviewThreshold = input.reviewThreshold ?? deps.settings.reviewThreshold;

      const telemetry = match.service ? await deps.store.serviceTelemetry(match.service, deps.settings.telemetryWindowMinutes) : null;
      const patterns = await deps.store.findCandidatePatterns(match);
      const candidates = patterns
        .map((pattern) => describeCandidate(pattern, signature, telemetry))
        .sort((a, b) => Number(b.match === 'exact') - Number(a.match === 'exact') || EVIDENCE_RANK[b.telemetry] - EVIDENCE_RANK[a.telemetry] || b.score - a.score);
      await deps.store.touchPatterns(patterns.filter((pattern) => pattern.signature === signature).map((pattern) => pattern.id));
      const best = candidates[0];
      const { confidence, capped, proposedRoute } = proposeRoute(best ?? null, autoThreshold, reviewThreshold);
      const history = best ? await deps.store.recentOutcomes(best.patternId, 10) : [];
      const remediation = best?.remediation ?? null;
      const remediationMode = !remediation ? 'none' : deps.remediations.has(remediation.topic) ? 'builtin' : 'remote';

      await deps.store.recordDecision({
        idempotencyKey: context.idempotencyKey,
        instanceId: context.instanceId,
        step: 'analyse',
        decision: proposedRoute,
        confidence,
        details: {
          signature,
          patternId: best?.patternId ?? null,
          remediation,
          confidence: best?.confidence ?? null,
          thresholds: { auto: autoThreshold, review: reviewThreshold },
          confidenceCappedBy: capped ? 'telemetry' : null,
          candidates: candidates.map(({ patternId, match: kind, score, remediation: fix, telemetry: evidence }) => ({ patternId, match: kind, score, remediation: fix, telemetry: evidence })),
          telemetry,
        },
      });

      return {
        signature,
        service: match.service,
        patternId: best?.patternId ?? null,
        remediation,
        remediationMode,
        confidence,
        confidenceExplained: best?.confidence ?? null,
        candidates,
        patternHistory: history.map((outcome) => ({
          instanceId: outcome.instance_id,
          result: outcome.result,
          durationMs: outcome.duration_ms === null ? null : Number(outcome.duration_ms),
          recordedAt: new Date(outcome.recorded_at).toISOString(),
        })),
        telemetry,
        confidenceCappedBy: capped ? 'telemetry' : null,
        proposedRoute,
        autoThreshold,
        reviewThreshold,
        validationTimeout: input.validationTimeout ?? deps.settings.validationTimeout,
        reviewEscalationAfter: input.reviewEscalationAfter ?? deps.settings.reviewEscalationAfter,
      };
    },
  };
}

function describeCandidate(pattern: PatternRow, signature: string, telemetry: ServiceTelemetry | null): Candidate {
  const confidence = confidenceOf(pattern.successes, pattern.failures);
  const exact = pattern.signature === signature;
  const operations = pattern.error_operations ?? [];
  const failing = new Set((telemetry?.topErrors ?? []).map((entry) => entry.name));
  const evidence = !telemetry || !operations.length ? 'none' : operations.some((name) => failing.has(name)) ? 'consistent' : 'contradicting';
  return {
    patternId: pattern.id,
    signature: pattern.signature,
    match: exact ? 'exact' : 'related',
    remediation: { topic: pattern.remediation.topic, params: pattern.remediation.params ?? {} },
    score: exact ? confidence.value : confidence.value * RELATED_WEIGHT,
    confidence,
    origin: pattern.origin,
    lastSeenAt: pattern.last_seen_at ? new Date(pattern.last_seen_at).toISOString() : null,
    telemetry: evidence,
  };
}
