import { Router } from 'express';
import { z } from 'zod';
import { controlChart, proportionModel, rateModel } from '../../service-tasks/entropy/control-chart.js';
import { measureSystem } from '../../service-tasks/entropy/measure.js';
import type { EntropyStore } from '../../service-tasks/entropy/ports.js';

const System = z.string().min(1).max(200);
const MeasurementsQuery = z.object({ system: System, limit: z.coerce.number().int().min(1).max(1000).default(50) });
const ChartQuery = z.object({
  system: System,
  metric: z.enum(['latency_p95', 'error_rate', 'throughput']),
  /** The span of the chart, ending now. */
  windowSeconds: z.coerce.number().int().min(60).max(30 * 86400).default(3600),
  buckets: z.coerce.number().int().min(8).max(500).default(30),
  /** Leading points that set the centre line and limits (the rest are judged against them). @default 2/3 of the buckets */
  limitsFrom: z.coerce.number().int().min(2).optional(),
});
const MeasureBody = z
  .object({
    system: System,
    windowSeconds: z.number().int().min(1).max(30 * 86400).default(900),
    baselineSeconds: z.number().int().min(1).max(90 * 86400).default(3600),
    validationErrors: z.number().int().min(0).default(0),
  })
  .strict();

/**
 * The entropy dashboard's API, mounted at /api/entropy (roles owner and operator); the DMEDI
 * phases by hand are the dmedi module's, at /api/entropy/dmedi.
 */
export function entropyRouter(store: EntropyStore): Router {
  const router = Router();

  router.get('/systems', async (_req, res) => {
    res.json(await store.latestMeasurements());
  });

  router.get('/measurements', async (req, res) => {
    const query = MeasurementsQuery.parse(req.query);
    res.json(await store.measurements(query.system, query.limit));
  });

  router.get('/control-charts', async (req, res) => {
    const query = ChartQuery.parse(req.query);
    const to = new Date();
    const from = new Date(to.getTime() - query.windowSeconds * 1000);
    const series = await store.series(query.system, { from, to }, query.buckets);
    const bucketSeconds = query.windowSeconds / query.buckets;
    const points = series.map((point) => ({
      at: point.at.toISOString(),
      value:
        query.metric === 'latency_p95' ? (point.p95 ?? 0) : query.metric === 'error_rate' ? (point.count ? point.errors / point.count : 0) : point.count / bucketSeconds,
    }));
    const limitsFrom = Math.min(points.length, query.limitsFrom ?? Math.ceil((points.length * 2) / 3));
    const reference = series.slice(0, limitsFrom);
    // Error rate: p-chart; throughput: c-chart; latency p95: individuals chart (moving range).
    const model =
      query.metric === 'error_rate'
        ? proportionModel(reference)
        : query.metric === 'throughput'
          ? rateModel(reference.map((point) => point.count), bucketSeconds)
          : undefined;
    const chart = controlChart(points, limitsFrom, model);
    res.json({
      system: query.system,
      metric: query.metric,
      points: chart.points,
      centre: chart.centre,
      upper: chart.upper,
      lower: chart.lower,
      violations: chart.violations,
    });
  });

  router.post('/measure', async (req, res) => {
    const body = MeasureBody.parse(req.body ?? {});
    res.status(201).json(await measureSystem(store, body));
  });

  return router;
}
