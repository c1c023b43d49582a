import type { Knex } from 'knex';
import type { SeriesPoint, SpanAggregates, TimeWindow, WindowAggregate } from '../../service-tasks/entropy/ports.js';

/**
 * Aggregate reads of the span store for the entropy module: everything is counted,
 * binned and ranked in SQL, so measuring a window of a million spans moves a few hundred
 * rows to Node, not a million. Every query filters on (service_name, start_time), the
 * spans table's index.
 */

/** Log-spaced duration bins: ln(0.01 ms) .. ln(10^6 ms) in this many steps (~19 % wide). */
export const HISTOGRAM_BINS = 96;
const LOG_MIN = Math.log(0.01);
const LOG_MAX = Math.log(1e6);

const iso = (date: Date) => date.toISOString();

export async function aggregateSpans(
  knex: Knex,
  system: string,
  windows: { baseline: TimeWindow; current: TimeWindow },
  options: { buckets: number; repeatBound: number; keySample: number },
): Promise<SpanAggregates> {
  const from = iso(windows.baseline.from);
  const split = iso(windows.current.from);
  const to = iso(windows.current.to);
  const range = [system, from, to];
  const where = `service_name = ? and start_time >= ?::timestamptz and start_time < ?::timestamptz`;

  const totals = await rows<{ w: number; count: number; errors: number; p: number[] | string | null }>(
    knex,
    `select (start_time >= ?::timestamptz)::int as w, count(*)::int as count,
            (count(*) filter (where status_code = 2))::int as errors,
            percentile_cont(array[0.5, 0.95, 0.99]) within group (order by duration_ms) as p
       from spans where ${where} group by 1`,
    [split, ...range],
  );
  const histogram = await rows<{ w: number; b: number; count: number }>(
    knex,
    `select (start_time >= ?::timestamptz)::int as w,
            width_bucket(ln(greatest(duration_ms, 0.01)), ?, ?, ${HISTOGRAM_BINS}) as b, count(*)::int as count
       from spans where ${where} group by 1, 2`,
    [split, LOG_MIN, LOG_MAX, ...range],
  );
  const names = await rows<{ name: string; baseline: number; current: number }>(
    knex,
    `select name, (count(*) filter (where start_time < ?::timestamptz))::int as baseline,
            (count(*) filter (where start_time >= ?::timestamptz))::int as current
       from spans where ${where} group by name order by count(*) desc limit 2000`,
    [split, split, ...range],
  );
  const keys = await rows<{ key: string | null; baseline: number; current: number }>(
    knex,
    `with b as (select attributes from spans where service_name = ? and start_time >= ?::timestamptz and start_time < ?::timestamptz
                 order by start_time desc limit ?),
          c as (select attributes from spans where service_name = ? and start_time >= ?::timestamptz and start_time < ?::timestamptz
                 order by start_time desc limit ?)
     select key, sum(in_b)::int as baseline, sum(in_c)::int as current from (
       select jsonb_object_keys(attributes) as key, 1 as in_b, 0 as in_c from b
       union all select jsonb_object_keys(attributes), 0, 1 from c) k group by key
     union all select null, (select count(*) from b)::int, (select count(*) from c)::int`,
    [system, from, split, options.keySample, system, split, to, options.keySample],
  );
  const repeats = await rows<{ instance: string; name: string; count: number }>(
    knex,
    `select coalesce(instance_id::text, trace_id) as instance, name, count(*)::int as count
       from spans where service_name = ? and start_time >= ?::timestamptz and start_time < ?::timestamptz
      group by 1, 2 having count(*) > ? order by 3 desc limit 20`,
    [system, split, to, options.repeatBound],
  );
  const series = await seriesOf(knex, system, windows.current, options.buckets);

  const window = (w: number, span: TimeWindow): WindowAggregate => {
    const total = totals.find((row) => Number(row.w) === w);
    const percentiles = parseArray(total?.p ?? null);
    const bins = new Array<number>(HISTOGRAM_BINS + 2).fill(0);
    for (const row of histogram) if (Number(row.w) === w) bins[Number(row.b)] = Number(row.count);
    return {
      count: Number(total?.count ?? 0),
      errors: Number(total?.errors ?? 0),
      seconds: (span.to.getTime() - span.from.getTime()) / 1000,
      p50: percentiles[0] ?? null,
      p95: percentiles[1] ?? null,
      p99: percentiles[2] ?? null,
      histogram: bins,
    };
  };
  const sizes = keys.find((row) => row.key === null);
  return {
    baseline: window(0, windows.baseline),
    current: window(1, windows.current),
    names: names.map((row) => ({ name: row.name, baseline: Number(row.baseline), current: Number(row.current) })),
    attributeKeys: {
      baselineSample: Number(sizes?.baseline ?? 0),
      currentSample: Number(sizes?.current ?? 0),
      keys: keys.filter((row) => row.key !== null).map((row) => ({ key: row.key as string, baseline: Number(row.baseline), current: Number(row.current) })),
    },
    repeats: repeats.map((row) => ({ instance: row.instance, name: row.name, count: Number(row.count) })),
    series,
  };
}

/** The window in `buckets` equal buckets (empty buckets included), oldest first. */
export async function seriesOf(knex: Knex, system: string, window: TimeWindow, buckets: number): Promise<SeriesPoint[]> {
  const seconds = (window.to.getTime() - window.from.getTime()) / 1000 / buckets;
  const found = await rows<{ b: number; count: number; errors: number; p95: number | null; mean: number | null }>(
    knex,
    `select least(floor(extract(epoch from (start_time - ?::timestamptz)) / ?)::int, ?) as b, count(*)::int as count,
            (count(*) filter (where status_code = 2))::int as errors,
            percentile_cont(0.95) within group (order by duration_ms) as p95, avg(duration_ms) as mean
       from spans where service_name = ? and start_time >= ?::timestamptz and start_time < ?::timestamptz
      group by 1 order by 1`,
    [iso(window.from), seconds, buckets - 1, system, iso(window.from), iso(window.to)],
  );
  return Array.from({ length: buckets }, (_, index) => {
    const row = found.find((candidate) => Number(candidate.b) === index);
    return {
      at: new Date(window.from.getTime() + index * seconds * 1000),
      count: Number(row?.count ?? 0),
      errors: Number(row?.errors ?? 0),
      p95: row?.p95 === null || row?.p95 === undefined ? null : Number(row.p95),
      mean: row?.mean === null || row?.mean === undefined ? null : Number(row.mean),
    };
  });
}

/** Every service that sent spans (a loose index scan: one probe per name, not a full scan). */
export async function spanSystems(knex: Knex): Promise<string[]> {
  const found = await rows<{ name: string }>(
    knex,
    `with recursive s as (
       select min(service_name) as name from spans
       union all select (select min(service_name) from spans where service_name > s.name) from s where s.name is not null)
     select name from s where name is not null`,
    [],
  );
  return found.map((row) => row.name);
}

async function rows<T>(knex: Knex, sql: string, bindings: unknown[]): Promise<T[]> {
  const result = await knex.raw(sql, bindings as Knex.RawBinding[]);
  return (result.rows ?? result) as T[];
}

/** pg returns float8[] as an array; PGlite may return it as text "{1,2,3}". */
function parseArray(value: number[] | string | null): number[] {
  if (value === null) return [];
  if (Array.isArray(value)) return value.map(Number);
  return value
    .replace(/[{}]/g, '')
    .split(',')
    .filter(Boolean)
    .map(Number);
}
