import { Router } from 'express';
import { z } from 'zod';
import { checkActivitySpans, ExpectationSchema } from '../../service-tasks/validator/span-validation.js';
import { notFound } from '../errors.js';
import type { ValidationRunRow, ValidationRunStore } from '../store/validation-runs.js';
import { allow } from './auth.js';

const Id = z.string().uuid();
export const ListQuery = z.object({
  subject: z.string().max(1000).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});
export const TrendQuery = z.object({ subject: z.string().min(1).max(1000), last: z.coerce.number().int().min(2).max(500).default(20) });
export const SpanCheckSchema = z.object({ instanceId: Id, expectations: z.array(ExpectationSchema).min(1).max(200), gate: z.number().min(0).max(1).optional() }).strict();

const describe = (run: ValidationRunRow) => ({
  id: run.id,
  subject: run.subject,
  instanceId: run.instance_id,
  ref: run.ref,
  commit: run.commit ?? null,
  score: Number(run.score),
  gate: Number(run.gate),
  passed: run.passed,
  phases: run.phases,
  createdAt: new Date(run.created_at).toISOString(),
});

/**
 * `/api/validation-runs`: stored runs, the score trend of a subject (least-squares slope per
 * run), and span checks of a process instance (stored as a run of `process-instance:<id>`).
 */
export function validationRunsRouter(runs: ValidationRunStore, options: { gate: number }): Router {
  const router = Router();

  router.get('/', allow('owner', 'operator'), async (req, res) => {
    res.json((await runs.list(ListQuery.parse(req.query))).map(describe));
  });

  router.get('/trend', allow('owner', 'operator'), async (req, res) => {
    const query = TrendQuery.parse(req.query);
    const history = await runs.history(query.subject, query.last);
    const scores = history.map((run) => Number(run.score));
    const n = scores.length;
    const meanX = (n - 1) / 2;
    const meanY = n ? scores.reduce((sum, value) => sum + value, 0) / n : 0;
    const denominator = scores.reduce((sum, _value, index) => sum + (index - meanX) ** 2, 0);
    const slope = denominator ? scores.reduce((sum, value, index) => sum + (index - meanX) * (value - meanY), 0) / denominator : 0;
    res.json({
      subject: query.subject,
      runs: history.map((run) => ({ id: run.id, score: Number(run.score), passed: run.passed, createdAt: new Date(run.created_at).toISOString() })),
      mean: Math.round(meanY * 1000) / 1000,
      slopePerRun: Math.round(slope * 10_000) / 10_000,
      direction: n < 2 || Math.abs(slope) < 0.005 ? 'flat' : slope > 0 ? 'improving' : 'degrading',
      passRate: n ? history.filter((run) => run.passed).length / n : 0,
    });
  });

  router.post('/span-checks', allow('owner', 'operator'), async (req, res) => {
    const body = SpanCheckSchema.parse(req.body);
    const check = checkActivitySpans(await runs.activitySpans(body.instanceId), body.expectations);
    const gate = body.gate ?? options.gate;
    const run = await runs.insert({
      subject: `process-instance:${body.instanceId}`,
      instanceId: body.instanceId,
      score: check.score,
      gate,
      passed: check.passed && check.score >= gate,
      phases: check.activities.map((activity) => ({
        name: activity.activityId,
        passed: activity.ran && activity.withinTarget && !activity.failed,
        score: activity.ran && activity.withinTarget && !activity.failed ? 1 : 0,
        weight: 1,
        required: true,
        durationMs: activity.maxDurationMs ?? 0,
        summary: activity.ran ? `${activity.runs} run(s), longest ${activity.maxDurationMs} ms${activity.targetMs ? ` (target ${activity.targetMs} ms)` : ''}` : 'did not run',
      })),
    });
    res.status(201).json({ ...describe(run), problems: check.problems });
  });

  router.get('/:id', allow('owner', 'operator'), async (req, res) => {
    const id = Id.parse(req.params.id);
    const run = await runs.find(id);
    if (!run) throw notFound('validation run', id);
    res.json(describe(run));
  });

  return router;
}
