import type { Knex } from 'knex';

/** Read-only view of the span store for one service: what the incident analysis looks at. */
export interface ServiceTelemetry {
  service: string;
  windowMinutes: number;
  spans: number;
  errors: number;
  errorRate: number;
  p95Ms: number | null;
  /** Operations with the most error spans in the window. */
  topErrors: Array<{ name: string; errors: number }>;
}

export async function summariseServiceSpans(knex: Knex, service: string, windowMinutes: number, now = new Date()): Promise<ServiceTelemetry | null> {
  const since = new Date(now.getTime() - windowMinutes * 60_000);
  const [totals] = await knex('spans')
    .where('service_name', service)
    .andWhere('start_time', '>=', since)
    .select(
      knex.raw('count(*)::int as spans'),
      knex.raw('count(*) filter (where status_code = 2)::int as errors'),
      knex.raw('percentile_cont(0.95) within group (order by duration_ms) as p95'),
    );
  const spans = Number(totals?.spans ?? 0);
  if (!spans) return null;
  const errors = Number(totals?.errors ?? 0);
  const topErrors = await knex('spans')
    .where('service_name', service)
    .andWhere('start_time', '>=', since)
    .andWhere('status_code', 2)
    .groupBy('name')
    .select('name', knex.raw('count(*)::int as errors'))
    .orderBy('errors', 'desc')
    .limit(5);
  return {
    service,
    windowMinutes,
    spans,
    errors,
    errorRate: errors / spans,
    p95Ms: totals?.p95 === null || totals?.p95 === undefined ? null : Number(totals.p95),
    topErrors: topErrors.map((row: { name: string; errors: number }) => ({ name: row.name, errors: Number(row.errors) })),
  };
}
