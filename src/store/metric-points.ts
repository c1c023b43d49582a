import type { Knex } from 'knex';
import type { MetricAggregate, TimeWindow } from './entropy-types.js';
import { distinctIndexed } from './loose-index-scan.js';

/** One OTLP data point as stored (see migrations/0007-metrics-and-rollback.ts). */
export interface MetricPointRecord {
  serviceName: string;
  name: string;
  unit: string;
  kind: 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';
  monotonic: boolean | null;
  /** OTLP AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative. */
  temporality: number;
  seriesKey: string;
  attributes: Record<string, unknown>;
  scopeName: string | null;
  startTimeUnixNano: bigint | null;
  timeUnixNano: bigint;
  value: number | null;
  count: number | null;
  sum: number | null;
  min: number | null;
  max: number | null;
  bucketBounds: number[] | null;
  bucketCounts: number[] | null;
}

/** What `POST /v1/metrics` writes into. */
export interface MetricPointStore {
  /** Inserts points in bounded batches; a point already stored (same series and time) is skipped. Resolves with how many were new. */
  insertPoints(points: readonly MetricPointRecord[]): Promise<number>;
}

export function createMetricPointStore(knex: Knex): MetricPointStore {
  return { insertPoints: (points) => insertMetricPoints(knex, points) };
}

/** Time buckets of the current window (the baseline is cut in buckets of the same length) for the gauges' shift test. */
const METRIC_BUCKETS = 12;

// 18 columns: 1000 rows stay far below PostgreSQL's 65,535 parameters per statement.
const BATCH_ROWS = 1000;

export async function insertMetricPoints(knex: Knex, points: readonly MetricPointRecord[]): Promise<number> {
  let inserted = 0;
  for (let offset = 0; offset < points.length; offset += BATCH_ROWS) {
    const rows = points.slice(offset, offset + BATCH_ROWS).map(toRow);
    const result = await knex('metric_points').insert(rows).onConflict(['service_name', 'name', 'series_key', 'time']).ignore().returning('id');
    inserted += result.length;
  }
  return inserted;
}

/** Nanoseconds since the epoch as an ISO timestamp with microseconds (what timestamptz keeps). */
function timestamp(nanos: bigint): string {
  const millis = nanos / 1_000_000n;
  const micros = (nanos / 1000n) % 1000n;
  return new Date(Number(millis)).toISOString().replace('Z', `${String(micros).padStart(3, '0')}Z`);
}

function toRow(point: MetricPointRecord) {
  return {
    service_name: point.serviceName,
    name: point.name,
    unit: point.unit,
    kind: point.kind,
    monotonic: point.monotonic,
    temporality: point.temporality,
    series_key: point.seriesKey,
    attributes: JSON.stringify(point.attributes),
    scope_name: point.scopeName,
    start_time: point.startTimeUnixNano === null ? null : timestamp(point.startTimeUnixNano),
    time: timestamp(point.timeUnixNano),
    value: point.value,
    count: point.count,
    sum: point.sum,
    min: point.min,
    max: point.max,
    bucket_bounds: point.bucketBounds === null ? null : JSON.stringify(point.bucketBounds),
    bucket_counts: point.bucketCounts === null ? null : JSON.stringify(point.bucketCounts),
  };
}

/**
 * Per metric (name, unit, kind, monotonic) and window (baseline [from, split), current
 * [split, to)), aggregated in SQL: point count, mean and sample variance of the value (gauges
 * and non-monotonic sums), and the increase of counters and of histogram count and sum.
 *
 * Increases: a delta point is its own increase. A cumulative point's increase is its
 * difference to the previous point of its series (same start time and not lower; otherwise
 * the series restarted and the point's own value is the increase), the last point before the
 * range included. A series' first point ever counts whole only when the series started
 * inside the range; otherwise what it accumulated before is unknown and it adds nothing. Histogram points are
 * split by whether they carry `error.type` (the semantic conventions' failure attribute).
 */
export async function aggregateMetrics(knex: Knex, system: string, windows: { baseline: TimeWindow; current: TimeWindow }): Promise<MetricAggregate[]> {
  const from = windows.baseline.from.toISOString();
  const split = windows.current.from.toISOString();
  const to = windows.current.to.toISOString();
  // A reference that ends before the current window (a cycle's verify: the state before the fault) leaves the
  // stretch between them out of both sides, as for spans. Counters are still differenced along it, so the current
  // window's first increase is its own, not the gap's.
  const baselineTo = (windows.baseline.to < windows.current.from ? windows.baseline.to : windows.current.from).toISOString();
  const outsideGap = `(time < '${baselineTo}'::timestamptz or time >= '${split}'::timestamptz)`;
  const increase = (column: string) => `case when temporality = 1 then ${column}
              when prev_time is not null and prev_start is not distinct from start_time and ${column} >= prev_${column} then ${column} - prev_${column}
              when prev_time is not null then ${column}
              when start_time >= ?::timestamptz then ${column}
              else null end`;
  // Gauges and non-monotonic sums need no differencing: a plain group by. Counters and
  // histograms are differenced along their series, in the unique index's order.
  const gaugeLike = `(kind = 'gauge' or (kind = 'sum' and not coalesce(monotonic, false)))`;
  // Each series' last point before the range (one probe of the unique index per series) is
  // what its first point inside is differenced against, so the interval across `from` counts.
  const columns = `name, series_key, unit, kind, monotonic, temporality, time, start_time, value, count, sum, attributes`;
  const result = await knex.raw(
    `with inside as (
       select ${columns} from metric_points
        where service_name = ? and time >= ?::timestamptz and time < ?::timestamptz and not ${gaugeLike}
     ), earlier as (
       select e.* from (select distinct name, series_key from inside) k
        cross join lateral (
          select ${columns} from metric_points m
           where m.service_name = ? and m.name = k.name and m.series_key = k.series_key and m.time < ?::timestamptz
           order by m.time desc limit 1) e
     ), p as (
       select name, unit, kind, monotonic, temporality, time, start_time, value, count, sum,
              (attributes -> 'error.type') is not null as failed,
              lag(time) over s as prev_time, lag(start_time) over s as prev_start,
              lag(value) over s as prev_value, lag(count) over s as prev_count, lag(sum) over s as prev_sum
         from (select * from inside union all select * from earlier) points
       window s as (partition by name, series_key order by time)
     ), d as (
       select name, unit, kind, monotonic, time, failed,
              ${increase('value')} as dv, ${increase('count')} as dc, ${increase('sum')} as ds
         from p where time >= ?::timestamptz and ${outsideGap}
     )
     select (time >= ?::timestamptz)::int as w, name, unit, kind, coalesce(monotonic, false) as monotonic, failed,
            count(*)::int as n, null::double precision as mean, null::double precision as variance,
            sum(dv) as increase, sum(dc) as count_increase, sum(ds) as sum_increase
       from d group by 1, 2, 3, 4, 5, 6
     union all
     select (time >= ?::timestamptz)::int, name, unit, kind, coalesce(monotonic, false), false,
            count(*)::int, avg(value), var_samp(value), null, null, null
       from metric_points
      where service_name = ? and time >= ?::timestamptz and time < ?::timestamptz and ${outsideGap} and ${gaugeLike}
      group by 1, 2, 3, 4, 5`,
    [system, from, to, system, from, from, from, from, from, split, split, system, from, to],
  );
  // Utilization comes per series (cpu.mode, system.memory.state, mountpoint, replica): the mean
  // over all of them never saturates (idle is a series too) and one full disk hides among empty
  // ones. Per series, idle and reclaimable states left out; the busiest one is kept.
  const busiest = await knex.raw(
    `select w, name, unit, kind, monotonic, max(mean) as busiest from (
       select (time >= ?::timestamptz)::int as w, name, unit, kind, coalesce(monotonic, false) as monotonic, series_key, avg(value) as mean
         from metric_points
        where service_name = ? and time >= ?::timestamptz and time < ?::timestamptz and ${outsideGap} and ${gaugeLike} and name like '%.utilization'
          and coalesce(attributes ->> 'cpu.mode', attributes ->> 'system.cpu.state', attributes ->> 'system.memory.state',
                       attributes ->> 'system.filesystem.state', attributes ->> 'state', '') not in ('idle', 'free', 'cached', 'buffers')
        group by 1, 2, 3, 4, 5, 6) s
      group by 1, 2, 3, 4, 5`,
    [split, system, from, to],
  );
  const bucketSeconds = (windows.current.to.getTime() - windows.current.from.getTime()) / 1000 / METRIC_BUCKETS;
  const bucketed = await knex.raw(
    `select w, name, unit, kind, monotonic, count(*)::int as buckets, avg(m) as mean, var_samp(m) as variance from (
       select (time >= ?::timestamptz)::int as w, name, unit, kind, coalesce(monotonic, false) as monotonic,
              floor(extract(epoch from (time - ?::timestamptz)) / ?)::int as b, avg(value) as m
         from metric_points
        where service_name = ? and time >= ?::timestamptz and time < ?::timestamptz and ${outsideGap} and ${gaugeLike} and value is not null
        group by 1, 2, 3, 4, 5, 6) s
      group by 1, 2, 3, 4, 5`,
    [split, from, bucketSeconds, system, from, to],
  );
  const rows = (result.rows ?? result) as Array<Record<string, unknown>>;
  const byMetric = new Map<string, MetricAggregate>();
  const num = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  for (const row of rows) {
    const key = JSON.stringify([row.name, row.unit, row.kind, row.monotonic]);
    let metric = byMetric.get(key);
    if (!metric) {
      const empty = (window: TimeWindow) => ({ points: 0, exposureSeconds: (window.to.getTime() - window.from.getTime()) / 1000, mean: null, variance: null, increase: 0, countIncrease: 0, sumIncrease: 0, failedCountIncrease: 0, buckets: 0, bucketMean: null, bucketVariance: null });
      metric = { name: String(row.name), unit: String(row.unit), kind: row.kind as MetricAggregate['kind'], monotonic: Boolean(row.monotonic), baseline: empty(windows.baseline), current: empty(windows.current) };
      byMetric.set(key, metric);
    }
    const side = Number(row.w) === 1 ? metric.current : metric.baseline;
    // A gauge-like metric has one row per window (the failed split is for counters and histograms).
    if (row.mean !== null && row.mean !== undefined) {
      side.mean = num(row.mean);
      side.variance = num(row.variance);
    }
    side.points += Number(row.n);
    side.increase += num(row.increase) ?? 0;
    side.countIncrease += num(row.count_increase) ?? 0;
    side.sumIncrease += num(row.sum_increase) ?? 0;
    if (row.failed) side.failedCountIncrease += num(row.count_increase) ?? 0;
  }
  for (const row of (bucketed.rows ?? bucketed) as Array<Record<string, unknown>>) {
    const metric = byMetric.get(JSON.stringify([row.name, row.unit, row.kind, row.monotonic]));
    if (!metric) continue;
    const side = Number(row.w) === 1 ? metric.current : metric.baseline;
    side.buckets = Number(row.buckets);
    side.bucketMean = num(row.mean);
    side.bucketVariance = num(row.variance);
  }
  for (const row of (busiest.rows ?? busiest) as Array<Record<string, unknown>>) {
    const metric = byMetric.get(JSON.stringify([row.name, row.unit, row.kind, row.monotonic]));
    if (metric) (Number(row.w) === 1 ? metric.current : metric.baseline).busiestSeriesMean = num(row.busiest);
  }
  return [...byMetric.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every service that sent metric points (a loose index scan on (service_name, time)). */
export function metricSystems(knex: Knex): Promise<string[]> {
  return distinctIndexed(knex, 'metric_points', 'service_name');
}
