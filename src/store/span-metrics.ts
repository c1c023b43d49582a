import type { Knex } from 'knex';
import { ENGINE_SYSTEM_PREFIX, type OperationAggregate, type OperationRole, type SeriesPoint, type SpanAggregates, type SpanStats, type TimeWindow, type WindowAggregate } from './entropy-types.js';
import { distinctIndexed } from './loose-index-scan.js';

/**
 * Aggregate reads of the span store for the entropy module: everything is counted,
 * binned and ranked in SQL (window percentiles from a fine log histogram in the measuring
 * path; exact percentile_cont for the dashboard's per-bucket series), so measuring a window of a million spans moves a few hundred
 * rows to Node, not a million. Every query filters on (service_name, start_time), the
 * spans table's index.
 */

/** Log-spaced duration bins: ln(0.01 ms) .. ln(10^6 ms) in this many steps (~9.6 % wide). */
export const HISTOGRAM_BINS = 192;
const LOG_MIN = Math.log(0.01);
const LOG_MAX = Math.log(1e6);

const iso = (date: Date) => date.toISOString();

/**
 * Attribute values counted per span name and key, when the key has at most this many distinct values in the two
 * samples together (status codes, error types, flags); keys with more (ids, urls, sizes) are counted as keys only.
 */
export const VALUE_CARDINALITY = 20;
/** Values are compared on their first this many characters. */
const VALUE_LENGTH = 100;

/** Span names judged one by one (the busiest); the rest are pooled as one `(other)` operation. */
const TRACKED_OPERATIONS = 60;

const ROLES: OperationRole[] = ['request', 'dependency', 'internal'];

const emptyStats = (): SpanStats => ({ count: 0, errors: 0, sumLog: 0, sumLog2: 0 });

function addStats(into: SpanStats, count: number, errors: number, sumLog: number, sumLog2: number): void {
  into.count += count;
  into.errors += errors;
  into.sumLog += sumLog;
  into.sumLog2 += sumLog2;
}

/**
 * One scan of a service's spans in the time mode, three groupings at once: per operation
 * (span name × role) and time cell (the baseline's quarters, the current window's buckets) the
 * counts, errors and Σ ln, Σ ln² of durations; per operation and side its duration histogram;
 * per role and cell the pooled histogram. Roles: a root, SERVER or CONSUMER span is a
 * request the service served, CLIENT or PRODUCER a dependency it called, the rest internal.
 * The pooled cells returned are those of requests (or of all spans when there are none), so
 * the service-wide error rate is the share of failed requests, not of failed spans.
 */
async function operationCells(
  knex: Knex,
  where: string,
  range: string[],
  options: { tracked: string[]; split: Date; baselineTo: Date; bucketSeconds: number; buckets: number; quarterSeconds: number },
): Promise<{ cells: Array<{ k: number; b: number; e: number; n: number; s: number }>; operations: OperationAggregate[] }> {
  // Operations, roles and time cells as small integers: grouping on them is far cheaper than on text under a
  // collation, and date_part's double arithmetic than extract's numeric (PGlite runs in WebAssembly; every
  // per-row cost counts there).
  const op = options.tracked.length ? `case name ${options.tracked.map((_, index) => `when ? then ${index + 1}`).join(' ')} else 0 end` : '0';
  const splitEpoch = options.split.getTime() / 1000;
  const baselineToEpoch = options.baselineTo.getTime() / 1000;
  // One group by at the finest grain (operation, role, time cell, failed, duration bin); the three views (per
  // operation and cell, per operation and side's histogram, pooled per role) are summed up here. Grouping sets
  // over the same rows sorted them once per set.
  // The cells come back as one JSON array: a few thousand rows cost PGlite more to hand over one by one than to compute.
  const [packed] = await rows<{ cells: string | null }>(
    knex,
    `select json_agg(json_build_array(op, role, k, e, b, n, sl, sl2, s))::text as cells from (
     select op, role, k, e, b, count(*)::int as n, sum(l) as sl, sum(l * l) as sl2, sum(d) as s
       from (select ${op} as op,
                    case when parent_span_id is null or kind in (2, 5) then 0 when kind in (3, 4) then 1 else 2 end as role,
                    case when t >= ? then greatest(0, least(floor((t - ?) / ?)::int, ?))
                         else greatest(-4, least(-1, floor((t - ?) / ?)::int)) end as k,
                    (status_code = 2)::int as e,
                    width_bucket(l, ?, ?, ${HISTOGRAM_BINS}) as b,
                    l, duration_ms as d
               from (select name, parent_span_id, kind, status_code, duration_ms, date_part('epoch', start_time) as t, ln(greatest(duration_ms, 0.01)) as l
                       from spans where ${where}) r) s
      group by op, role, k, e, b) g`,
    [...options.tracked, splitEpoch, splitEpoch, options.bucketSeconds, options.buckets - 1, baselineToEpoch, options.quarterSeconds, LOG_MIN, LOG_MAX, ...range],
  );
  const found = (packed?.cells ? (JSON.parse(packed.cells) as Array<[number, number, number, number, number, number, number | null, number | null, number | null]>) : []).map(([op, role, k, e, b, n, sl, sl2, s]) => ({ op, role, k, e, b, n, sl, sl2, s }));
  const byKey = new Map<string, OperationAggregate>();
  const operation = (name: string, role: OperationRole) => {
    const key = `${role}\u0000${name}`;
    let found = byKey.get(key);
    if (!found) {
      found = {
        name,
        role,
        baseline: emptyStats(),
        quarters: Array.from({ length: 4 }, emptyStats),
        current: emptyStats(),
        buckets: Array.from({ length: options.buckets }, emptyStats),
        baselineHistogram: new Array<number>(HISTOGRAM_BINS + 2).fill(0),
        currentHistogram: new Array<number>(HISTOGRAM_BINS + 2).fill(0),
      };
      byKey.set(key, found);
    }
    return found;
  };
  const pooled = new Map<OperationRole, Map<string, { k: number; b: number; e: number; n: number; s: number }>>();
  for (const row of found) {
    const n = Number(row.n);
    const k = Number(row.k);
    const b = Number(row.b);
    const e = Number(row.e);
    const role = ROLES[Number(row.role)] as OperationRole;
    const target = operation(Number(row.op) ? (options.tracked[Number(row.op) - 1] as string) : '(other)', role);
    const errors = e ? n : 0;
    const sumLog = Number(row.sl ?? 0);
    const sumLog2 = Number(row.sl2 ?? 0);
    if (k >= 0) {
      addStats(target.current, n, errors, sumLog, sumLog2);
      addStats(target.buckets[k] as SpanStats, n, errors, sumLog, sumLog2);
      target.currentHistogram[b] = (target.currentHistogram[b] ?? 0) + n;
    } else {
      addStats(target.baseline, n, errors, sumLog, sumLog2);
      addStats(target.quarters[k + 4] as SpanStats, n, errors, sumLog, sumLog2);
      target.baselineHistogram[b] = (target.baselineHistogram[b] ?? 0) + n;
    }
    const cells = pooled.get(role) ?? new Map<string, { k: number; b: number; e: number; n: number; s: number }>();
    pooled.set(role, cells);
    const key = `${Math.max(-1, k)} ${b} ${e}`;
    const cell = cells.get(key) ?? { k: Math.max(-1, k), b, e, n: 0, s: 0 };
    cell.n += n;
    cell.s += Number(row.s ?? 0);
    cells.set(key, cell);
  }
  const requests = [...(pooled.get('request')?.values() ?? [])];
  const cells = requests.length ? requests : [...pooled.values()].flatMap((cells) => [...cells.values()]);
  return { cells, operations: [...byKey.values()] };
}

/** A regenflow process is judged by its instances: one operation, built from the instance cells (durations at their bins' centres). */
function instanceOperation(cells: Array<{ k: number; b: number; e: number; n: number }>, buckets: number): OperationAggregate {
  const width = (LOG_MAX - LOG_MIN) / HISTOGRAM_BINS;
  const result: OperationAggregate = {
    name: 'process instance',
    role: 'request',
    baseline: emptyStats(),
    quarters: [],
    current: emptyStats(),
    buckets: Array.from({ length: buckets }, emptyStats),
    baselineHistogram: new Array<number>(HISTOGRAM_BINS + 2).fill(0),
    currentHistogram: new Array<number>(HISTOGRAM_BINS + 2).fill(0),
  };
  for (const cell of cells) {
    const k = Number(cell.k);
    const b = Number(cell.b);
    const n = Number(cell.n);
    const log = b <= 0 ? LOG_MIN : b > HISTOGRAM_BINS ? LOG_MAX : LOG_MIN + (b - 0.5) * width;
    const errors = Number(cell.e) ? n : 0;
    if (k >= 0) {
      addStats(result.current, n, errors, n * log, n * log * log);
      addStats(result.buckets[k] as SpanStats, n, errors, n * log, n * log * log);
      result.currentHistogram[b] = (result.currentHistogram[b] ?? 0) + n;
    } else {
      addStats(result.baseline, n, errors, n * log, n * log * log);
      result.baselineHistogram[b] = (result.baselineHistogram[b] ?? 0) + n;
    }
  }
  return result;
}

type AggregateOptions = { buckets: number; repeatBound: number; keySample: number; versions?: { previous: number; latest: number }; keysBefore?: Date };

/**
 * The reads run in one read-only transaction with sorting discouraged: the span table's
 * statistics rarely know a fresh window's rows (PGlite runs no autovacuum), so the planner
 * expects one row and sorts to group, where hashing the few thousand cells is several times
 * faster (sorting is what made a measurement three times slower in PGlite).
 */
export async function aggregateSpans(knex: Knex, system: string, windows: { baseline: TimeWindow; current: TimeWindow }, options: AggregateOptions): Promise<SpanAggregates> {
  return knex.transaction(async (trx) => {
    await trx.raw('set local enable_sort = off');
    return aggregateSpansIn(trx, system, windows, options);
  }, { readOnly: true });
}

async function aggregateSpansIn(knex: Knex, system: string, windows: { baseline: TimeWindow; current: TimeWindow }, options: AggregateOptions): Promise<SpanAggregates> {
  const [matches, value] = systemFilter(system);
  const from = iso(windows.baseline.from);
  const split = iso(windows.current.from);
  const to = iso(windows.current.to);
  const baselineTo = iso(windows.baseline.to);
  // Time mode: baseline = [from, split), current = [split, to). Version mode (a regenflow
  // process against its previous version): baseline = the previous version's spans, current =
  // the latest version's, both over [from, to).
  const versions = options.versions && { previous: Math.trunc(options.versions.previous), latest: Math.trunc(options.versions.latest) };
  // A reference that ends before the current window starts (a cycle's verify: the state before the fault, then the
  // fault and the strategy, then the settle window) leaves the stretch between them out of both sides.
  const where = versions
    ? `${matches} and process_version in (${versions.previous}, ${versions.latest}) and start_time >= ?::timestamptz and start_time < ?::timestamptz`
    : `${matches} and start_time >= ?::timestamptz and start_time < ?::timestamptz and (start_time < ?::timestamptz or start_time >= ?::timestamptz)`;
  const range = versions ? [value, from, to] : [value, from, to, baselineTo, split];
  // The reference's oldest quarter: what was there before a fault that began in the reference's end.
  const oldestTo = iso(new Date(windows.baseline.from.getTime() + (windows.baseline.to.getTime() - windows.baseline.from.getTime()) / 4));
  const current = versions ? `process_version = ${versions.latest}` : `start_time >= ?::timestamptz`;
  const currentBindings = versions ? [] : [split];

  // The unit of work whose errors, latency and rate health judges: a request (span) of a
  // service, but an instance of one of regenflow's processes. Counted per span, a step that
  // fails in two of three instances of a five-step process is a 13 % error rate; per instance
  // it is the 67 % a process owner sees. An instance is an error by its own outcome, not by
  // its attempts (a failed attempt that a retry made good is no failure): ended, its instance
  // span's status (failed or not); still running, whether its latest span is an incident (the
  // run stopped there and waits for a person). Its latency is its duration so far.
  const instanceSpan = `parent_span_id is null and activity_id is null`;
  const units = system.startsWith(ENGINE_SYSTEM_PREFIX)
    ? `(select min(start_time) as start_time, process_version,
               case when bool_or(${instanceSpan}) then max(status_code) filter (where ${instanceSpan})
                    else (array_agg(case when status_code = 2 and attributes ->> 'bpmn.incident' = 'true' then 2 else 0 end
                                    order by end_time desc, status_code desc))[1] end as status_code,
               extract(epoch from (max(end_time) - min(start_time))) * 1000 as duration_ms
          from spans where ${where} group by coalesce(instance_id::text, trace_id), process_version) as units`
    : `spans where ${where}`;

  const names = await rows<{ name: string; baseline: number; current: number; oldest: number }>(
    knex,
    `select name, (count(*) filter (where not (${current})))::int as baseline,
            (count(*) filter (where ${current}))::int as current,
            (count(*) filter (where not (${current}) and start_time < ?::timestamptz))::int as oldest
       from spans where ${where} group by name order by count(*) desc limit 2000`,
    [...currentBindings, ...currentBindings, ...currentBindings, versions ? to : oldestTo, ...range],
  );
  const bucketSeconds = (windows.current.to.getTime() - windows.current.from.getTime()) / 1000 / options.buckets;
  const perOperation = !versions && !system.startsWith(ENGINE_SYSTEM_PREFIX);
  let cells: Array<{ k: number; b: number; e: number; n: number; s: number }>;
  let operations: OperationAggregate[];
  if (perOperation) {
    ({ cells, operations } = await operationCells(knex, where, range, {
      tracked: names.slice(0, TRACKED_OPERATIONS).map((row) => row.name),
      split: windows.current.from,
      baselineTo: windows.baseline.to,
      bucketSeconds,
      buckets: options.buckets,
      quarterSeconds: (windows.baseline.to.getTime() - windows.baseline.from.getTime()) / 1000 / 4,
    }));
  } else {
    // One scan for counts, errors, duration histograms and the current window's buckets:
    // k = -1 for the baseline, 0..buckets-1 for the current window's buckets.
    cells = await rows<{ k: number; b: number; e: number; n: number; s: number }>(
      knex,
      `select case when ${current}
                   then greatest(0, least(floor(extract(epoch from (start_time - ?::timestamptz)) / ?)::int, ?)) else -1 end as k,
              width_bucket(ln(greatest(duration_ms, 0.01)), ?, ?, ${HISTOGRAM_BINS}) as b,
              (status_code = 2)::int as e, count(*)::int as n, sum(duration_ms) as s
         from ${units} group by 1, 2, 3`,
      [...currentBindings, split, bucketSeconds, options.buckets - 1, LOG_MIN, LOG_MAX, ...range],
    );
    operations = [instanceOperation(cells, options.buckets)];
  }
  // Attribute keys per span name (the tracked ones; the rest as one), from a bounded sample of each side: the
  // baseline's from its start, the current window's from its end (a fault that began shortly before the window, or a
  // cycle's reference that ends at the fault, is least likely to be in either). keysBefore: the baseline's sample
  // only from before it (a verdict's reference: its oldest quarter, the state before the fault). The current side is
  // counted per bucket, so a key that stops partway through the window shows as a trailing run without it. Half the
  // sample suffices for the baseline (it only tells how usual each key is). The same pass counts each key's values
  // (jsonb_each_text) for the attribute-value shares; keys with more than VALUE_CARDINALITY values come back as
  // their key count alone.
  const tracked = names.slice(0, TRACKED_OPERATIONS).map((row) => row.name);
  const keyOp = tracked.length ? `case name ${tracked.map((_, index) => `when ? then ${index + 1}`).join(' ')} else 0 end` : '0';
  const bucketOf = versions ? '0' : `greatest(0, least(floor((date_part('epoch', start_time) - ?) / ?)::int, ?))`;
  const bucketBindings = versions ? [] : [windows.current.from.getTime() / 1000, bucketSeconds, options.buckets - 1];
  const [keyCells] = await rows<{ cells: string }>(
    knex,
    `with b as (select ${keyOp} as op, attributes from spans where ${where} and not (${current})${options.keysBefore ? ' and start_time < ?::timestamptz' : ''} order by start_time asc limit ?),
          c as (select ${keyOp} as op, ${bucketOf} as k, attributes from spans where ${where} and ${current} order by start_time desc limit ?),
          kv as (select 0 as side, op, -1 as k, e.key, coalesce(left(e.value, ${VALUE_LENGTH}), 'null') as value from b, jsonb_each_text(b.attributes) e
                 union all select 1, op, k, e.key, coalesce(left(e.value, ${VALUE_LENGTH}), 'null') from c, jsonb_each_text(c.attributes) e),
          g as (select side, op, k, key, value, count(*)::int as n from kv group by side, op, k, key, value),
          card as (select op, key, count(*)::int as m from (select op, key, value from g group by op, key, value) d group by op, key),
          cells as (
            select side, op, k, key, value, sum(n)::int as n
              from (select g.side, g.op, g.k, g.key, case when card.m <= ? then g.value end as value, g.n
                      from g join card on card.op = g.op and card.key = g.key) capped
             group by side, op, k, key, value
            union all select 0, op, -1, null, null, count(*)::int from b group by op
            union all select 1, op, k, null, null, count(*)::int from c group by op, k)
     select coalesce(json_agg(json_build_array(side, op, k, key, value, n)), '[]')::text as cells from cells`,
    [
      ...tracked,
      ...range,
      ...currentBindings,
      ...(options.keysBefore ? [iso(options.keysBefore)] : []),
      Math.ceil(options.keySample / 2),
      ...tracked,
      ...bucketBindings,
      ...range,
      ...currentBindings,
      options.keySample,
      VALUE_CARDINALITY,
    ],
  );
  type ValueCounts = { value: string; baseline: number; current: number[] };
  const operationKeys = new Map<number, { name: string; baselineSpans: number; currentSpans: number[]; keys: Map<string, { key: string; baseline: number; current: number[]; values: Map<string, ValueCounts> | null }> }>();
  const serviceKeys = new Map<string, { key: string; baseline: number; current: number }>();
  let baselineSample = 0;
  let currentSample = 0;
  for (const [side, op, k, key, value, n] of JSON.parse(keyCells?.cells ?? '[]') as Array<[number, number, number, string | null, string | null, number]>) {
    let entry = operationKeys.get(op);
    if (!entry) {
      entry = { name: op ? (tracked[op - 1] as string) : '(other)', baselineSpans: 0, currentSpans: new Array<number>(options.buckets).fill(0), keys: new Map() };
      operationKeys.set(op, entry);
    }
    if (key === null) {
      if (side) {
        entry.currentSpans[k] = (entry.currentSpans[k] ?? 0) + n;
        currentSample += n;
      } else {
        entry.baselineSpans += n;
        baselineSample += n;
      }
      continue;
    }
    let counts = entry.keys.get(key);
    if (!counts) {
      counts = { key, baseline: 0, current: new Array<number>(options.buckets).fill(0), values: new Map() };
      entry.keys.set(key, counts);
    }
    // A key with more distinct values than the cap (ids, urls, sizes) comes as one row without a value: its values are not judged.
    if (value === null) counts.values = null;
    else if (counts.values) {
      let valueCounts = counts.values.get(value);
      if (!valueCounts) {
        valueCounts = { value, baseline: 0, current: new Array<number>(options.buckets).fill(0) };
        counts.values.set(value, valueCounts);
      }
      if (side) valueCounts.current[k] = (valueCounts.current[k] ?? 0) + n;
      else valueCounts.baseline += n;
    }
    const service = serviceKeys.get(key) ?? { key, baseline: 0, current: 0 };
    serviceKeys.set(key, service);
    if (side) {
      counts.current[k] = (counts.current[k] ?? 0) + n;
      service.current += n;
    } else {
      counts.baseline += n;
      service.baseline += n;
    }
  }
  const repeats = await rows<{ instance: string; name: string; count: number }>(
    knex,
    `select coalesce(instance_id::text, trace_id) as instance, name, count(*)::int as count
       from spans where ${where} and ${current}
      group by 1, 2 having count(*) > ? order by 3 desc limit 20`,
    [...range, ...currentBindings, options.repeatBound],
  );
  // Exposure of each side: the window lengths, or in version mode how long each version ran.
  let exposure = { baseline: windows.baseline, current: windows.current };
  if (versions) {
    const spans = await rows<{ w: number; first: Date | string; last: Date | string }>(
      knex,
      `select (${current})::int as w, min(start_time) as first, max(start_time) as last from spans where ${where} group by 1`,
      [...range],
    );
    const side = (w: number): TimeWindow => {
      const row = spans.find((candidate) => Number(candidate.w) === w);
      return row ? { from: new Date(row.first), to: new Date(Math.max(new Date(row.last).getTime(), new Date(row.first).getTime() + 1000)) } : { from: windows.baseline.from, to: windows.baseline.from };
    };
    exposure = { baseline: side(0), current: side(1) };
  }
  const histogramOf = (keep: (k: number) => boolean) => {
    const bins = new Array<number>(HISTOGRAM_BINS + 2).fill(0);
    let count = 0;
    let errors = 0;
    let sum = 0;
    for (const cell of cells) {
      if (!keep(Number(cell.k))) continue;
      const n = Number(cell.n);
      bins[Number(cell.b)] = (bins[Number(cell.b)] ?? 0) + n;
      count += n;
      if (Number(cell.e)) errors += n;
      sum += Number(cell.s);
    }
    return { bins, count, errors, sum };
  };
  const window = (keep: (k: number) => boolean, span: TimeWindow): WindowAggregate => {
    const { bins, count, errors } = histogramOf(keep);
    return {
      count,
      errors,
      seconds: (span.to.getTime() - span.from.getTime()) / 1000,
      p50: histogramQuantile(bins, 0.5),
      p95: histogramQuantile(bins, 0.95),
      p99: histogramQuantile(bins, 0.99),
      histogram: bins,
    };
  };
  const series: SeriesPoint[] = Array.from({ length: options.buckets }, (_, index) => {
    const { bins, count, errors, sum } = histogramOf((k) => k === index);
    return {
      at: new Date(windows.current.from.getTime() + index * bucketSeconds * 1000),
      count,
      errors,
      p95: histogramQuantile(bins, 0.95),
      mean: count ? sum / count : null,
      logMean: histogramLogMean(bins),
    };
  });
  return {
    baseline: window((k) => k < 0, exposure.baseline),
    current: window((k) => k >= 0, exposure.current),
    names: names.map((row) => ({ name: row.name, baseline: Number(row.baseline), current: Number(row.current), oldest: Number(row.oldest) })),
    attributeKeys: { baselineSample, currentSample, keys: [...serviceKeys.values()] },
    operationKeys: [...operationKeys.values()].map((entry) => ({ ...entry, keys: [...entry.keys.values()].map(({ values, ...key }) => ({ ...key, ...(values && { values: [...values.values()] }) })) })),
    repeats: repeats.map((row) => ({ instance: row.instance, name: row.name, count: Number(row.count) })),
    series,
    operations,
    bucketSeconds,
  };
}

/** The window in `buckets` equal buckets (empty buckets included), oldest first. */
export async function seriesOf(knex: Knex, system: string, window: TimeWindow, buckets: number): Promise<SeriesPoint[]> {
  const [matches, value] = systemFilter(system);
  const seconds = (window.to.getTime() - window.from.getTime()) / 1000 / buckets;
  const found = await rows<{ b: number; count: number; errors: number; p95: number | null; mean: number | null; log_mean: number | null }>(
    knex,
    `select least(floor(extract(epoch from (start_time - ?::timestamptz)) / ?)::int, ?) as b, count(*)::int as count,
            (count(*) filter (where status_code = 2))::int as errors,
            percentile_cont(0.95) within group (order by duration_ms) as p95, avg(duration_ms) as mean,
            avg(ln(greatest(duration_ms, 0.01))) as log_mean
       from spans where ${matches} and start_time >= ?::timestamptz and start_time < ?::timestamptz
      group by 1 order by 1`,
    [iso(window.from), seconds, buckets - 1, value, iso(window.from), iso(window.to)],
  );
  return Array.from({ length: buckets }, (_, index) => {
    const row = found.find((candidate) => Number(candidate.b) === index);
    return {
      at: new Date(window.from.getTime() + index * seconds * 1000),
      count: Number(row?.count ?? 0),
      errors: Number(row?.errors ?? 0),
      p95: row?.p95 === null || row?.p95 === undefined ? null : Number(row.p95),
      mean: row?.mean === null || row?.mean === undefined ? null : Number(row.mean),
      logMean: row?.log_mean === null || row?.log_mean === undefined ? null : Number(row.log_mean),
    };
  });
}

/**
 * A system is a `service.name`, or `regenflow/<process key>` for one of regenflow's own
 * processes (the engine's spans carry the process key in their own column). Only spans this
 * engine wrote count for its own processes: ingested spans may carry any `bpmn.process.key`,
 * and a high entropy there makes regenflow heal itself (roll back versions, reset instances).
 * Returns a condition with one `?` for the name.
 */
function systemFilter(system: string): [condition: string, value: string] {
  return system.startsWith(ENGINE_SYSTEM_PREFIX)
    ? ["process_key = ? and source = 'engine'", system.slice(ENGINE_SYSTEM_PREFIX.length)]
    : ['service_name = ?', system];
}

/**
 * Every service that sent spans, then regenflow's own processes as `regenflow/<key>` (loose
 * index scans on (service_name, start_time) and (process_key, process_version): one probe
 * per name, not a full scan).
 */
export async function spanSystems(knex: Knex): Promise<string[]> {
  const services = await distinctIndexed(knex, 'spans', 'service_name');
  const processes = (await distinctIndexed(knex, 'spans', 'process_key')).map((name) => `${ENGINE_SYSTEM_PREFIX}${name}`);
  return [...services, ...processes];
}

/**
 * A quantile of a log-binned histogram, interpolated log-linearly inside its bin: within
 * half a bin width (about ±5 %) of the exact value, without sorting a million durations.
 * Bin 0 holds durations below 0.01 ms, bin BINS+1 those above 10^6 ms.
 */
/** Mean of ln(duration) over a log-binned histogram, each bin at its centre. */
export function histogramLogMean(bins: number[]): number | null {
  const width = (LOG_MAX - LOG_MIN) / HISTOGRAM_BINS;
  let total = 0;
  let sum = 0;
  bins.forEach((count, index) => {
    if (!count) return;
    const log = index === 0 ? LOG_MIN : index > HISTOGRAM_BINS ? LOG_MAX : LOG_MIN + (index - 0.5) * width;
    total += count;
    sum += count * log;
  });
  return total ? sum / total : null;
}

export function histogramQuantile(bins: number[], q: number): number | null {
  const total = bins.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const width = (LOG_MAX - LOG_MIN) / HISTOGRAM_BINS;
  const rank = q * total;
  let cumulative = 0;
  for (let index = 0; index < bins.length; index++) {
    const count = bins[index] ?? 0;
    if (count && cumulative + count >= rank) {
      if (index === 0) return Math.exp(LOG_MIN);
      if (index > HISTOGRAM_BINS) return Math.exp(LOG_MAX);
      const fraction = (rank - cumulative) / count;
      return Math.exp(LOG_MIN + (index - 1 + fraction) * width);
    }
    cumulative += count;
  }
  return Math.exp(LOG_MAX);
}

async function rows<T>(knex: Knex, sql: string, bindings: unknown[]): Promise<T[]> {
  const result = await knex.raw(sql, bindings as Knex.RawBinding[]);
  return (result.rows ?? result) as T[];
}
