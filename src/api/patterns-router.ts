import { Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { AppError, notFound } from '../errors.js';
import type { listDecisions } from '../store/incident-decisions.js';
import type * as patterns from '../store/patterns.js';
import type { instanceHistory } from '../store/queries.js';
import { allow } from './auth.js';

const Id = z.string().regex(/^[0-9a-f-]{36}$/i, 'must be an id');
const Topic = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, 'must be a topic name (letters, digits, . _ -)');
const Remediation = z.object({ topic: Topic, params: z.record(z.string(), z.unknown()).default({}) }).strict();
const Match = z
  .object({ alertname: z.string().min(1).max(200), service: z.string().max(200).default(''), severity: z.string().max(200).default('') })
  .strict();
const Count = z.number().int().min(0).max(1_000_000);

export const CreatePattern = z
  .object({ match: Match, remediation: Remediation, description: z.string().max(4000).nullish(), successes: Count.default(0), failures: Count.default(0) })
  .strict();
export const EditPattern = z
  .object({ remediation: Remediation.optional(), description: z.string().max(4000).nullish(), enabled: z.boolean().optional(), successes: Count.optional(), failures: Count.optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'give at least one field to change');
export const PatternQuery = z.object({ signature: z.string().max(700).optional(), service: z.string().max(200).optional(), alertname: z.string().max(200).optional() }).strict();

/** A store query with its database bound: what the router may call, and nothing else. */
type Bound<F> = F extends (knex: Knex, ...args: infer A) => infer R ? (...args: A) => R : never;

/** What the patterns router asks of the incident module (src/modules/incident binds it to the store). */
export interface PatternBook {
  listPatterns: Bound<typeof patterns.listPatterns>;
  findPattern: Bound<typeof patterns.findPattern>;
  listOutcomes: Bound<typeof patterns.listOutcomes>;
  listOverrides: Bound<typeof patterns.listOverrides>;
  insertPatternOnce: Bound<typeof patterns.insertPatternOnce>;
  updatePattern: Bound<typeof patterns.updatePattern>;
  recordOverride: Bound<typeof patterns.recordOverride>;
  /** An incident instance's decision log. */
  decisions: Bound<typeof listDecisions>;
  /** An instance's activity history. */
  history: Bound<typeof instanceHistory>;
  /** A pattern's confidence from its counts, with how it was computed. */
  confidenceOf: typeof patterns.confidenceOf;
}

/** The incident pattern store over REST: list, create, edit; each confidence with how it was computed. */
export function patternsRouter(book: PatternBook): Router {
  const describePattern = (row: patterns.PatternRow) => describe(row, book.confidenceOf);
  const router = Router();

  router.get('/', allow('owner', 'operator'), async (req, res) => {
    res.json((await book.listPatterns(PatternQuery.parse(req.query))).map(describePattern));
  });

  /** An incident instance's decisions with their confidence, interleaved with its activity history. */
  router.get('/decisions', allow('owner', 'operator'), async (req, res) => {
    const { instanceId } = z.object({ instanceId: Id }).strict().parse(req.query);
    const [decisions, history] = await Promise.all([book.decisions(instanceId), book.history(instanceId)]);
    const timeline = [
      ...history.map((entry: Record<string, any>) => ({
        at: new Date(entry.at).toISOString(),
        kind: 'activity' as const,
        event: entry.event,
        activityId: entry.activity_id,
        activityName: entry.activity_name,
        activityType: entry.activity_type,
      })),
      ...decisions.map((decision) => ({
        at: new Date(decision.at).toISOString(),
        kind: 'decision' as const,
        step: decision.step,
        decision: decision.decision,
        confidence: decision.confidence,
        details: decision.details,
      })),
    ].sort((a, b) => a.at.localeCompare(b.at));
    res.json({
      instanceId,
      decisions: decisions.map((decision) => ({ step: decision.step, decision: decision.decision, confidence: decision.confidence, details: decision.details, at: new Date(decision.at).toISOString() })),
      timeline,
    });
  });

  router.get('/:id', allow('owner', 'operator'), async (req, res) => {
    const id = Id.parse(req.params.id);
    const row = await book.findPattern(id);
    if (!row) throw notFound('pattern', id);
    const [outcomes, overrides] = await Promise.all([book.listOutcomes({ patternId: id }), book.listOverrides({ patternId: id })]);
    res.json({ ...describePattern(row), outcomes: outcomes.map(describeOutcome), overrides: overrides.map(describeOverride) });
  });

  router.post('/', allow('owner'), async (req, res) => {
    const body = CreatePattern.parse(req.body);
    const { created, row } = await book.insertPatternOnce({
      match: body.match,
      remediation: body.remediation,
      description: body.description ?? null,
      origin: 'api',
      createdBy: `api:${req.role}`,
      successes: body.successes,
      failures: body.failures,
    });
    if (!created) {
      throw new AppError('PATTERN_EXISTS', `a pattern for ${row.signature} with this remediation exists already (${row.id}); edit it instead`, {
        details: { id: row.id },
      });
    }
    await book.recordOverride({ patternId: row.id, action: 'created', remediation: row.remediation, actor: `api:${req.role}` });
    res.status(201).json(describePattern(row));
  });

  router.patch('/:id', allow('owner'), async (req, res) => {
    const id = Id.parse(req.params.id);
    const body = EditPattern.parse(req.body);
    const row = await book.updatePattern(id, body).catch((error: unknown) => {
      if ((error as { code?: string })?.code === '23505') {
        throw new AppError('PATTERN_EXISTS', 'another pattern for this signature has this remediation already');
      }
      throw error;
    });
    if (!row) throw notFound('pattern', id);
    await book.recordOverride({ patternId: id, action: 'edited', remediation: body.remediation ?? null, actor: `api:${req.role}`, note: JSON.stringify(body) });
    res.json(describePattern(row));
  });

  return router;
}

function describe(row: patterns.PatternRow, confidenceOf: PatternBook['confidenceOf']) {
  return {
    id: row.id,
    signature: row.signature,
    match: row.match,
    remediation: row.remediation,
    description: row.description,
    enabled: row.enabled,
    origin: row.origin,
    successes: row.successes,
    failures: row.failures,
    confidence: confidenceOf(row.successes, row.failures),
    errorOperations: row.error_operations ?? [],
    lastSeenAt: row.last_seen_at ? new Date(row.last_seen_at).toISOString() : null,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** A recorded incident outcome of a pattern's remediation. */
function describeOutcome(row: patterns.OutcomeRow) {
  return {
    id: row.id,
    instanceId: row.instance_id,
    patternId: row.pattern_id,
    result: row.result,
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    recordedAt: new Date(row.recorded_at).toISOString(),
  };
}

/** A person's decision on a pattern (approved, rejected, a manual fix, an edit). */
function describeOverride(row: patterns.OverrideRow) {
  return {
    id: row.id,
    instanceId: row.instance_id,
    patternId: row.pattern_id,
    action: row.action,
    remediation: row.remediation,
    actor: row.actor,
    note: row.note,
    at: new Date(row.at).toISOString(),
  };
}
