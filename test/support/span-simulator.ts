/**
 * A span-stream simulator: realistic request traffic of one service (Poisson arrivals,
 * log-normal latencies per operation, a small error rate, OTel-style attributes) with
 * controlled degradations injected at known times. Everything is drawn from a seeded PRNG,
 * so a scenario is reproducible from its seed.
 *
 * What is simulated, honestly: the service. When a regeneration strategy is applied to it
 * (`applyStrategy`), the simulator models the fix by ending the degradations that strategy
 * addresses from that moment on; the spans it writes afterwards are what the next
 * measurement sees. The measurement, the tests and the engine are real.
 */
import type { Knex } from 'knex';
import { seededRandom } from '../../service-tasks/entropy/seeded-random.js';

/** FNV-1a of a string: mixes the system name into the id stream's seed. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

export type DegradationKind =
  | 'latency-shift'
  | 'error-burst'
  | 'schema-drift'
  | 'loop-thrash'
  | 'throughput-drop'
  | 'latency-creep'
  | 'outage'
  | 'error-ramp'
  | 'intermittent-errors'
  | 'latency-tail'
  | 'dependency-errors'
  | 'dependency-latency'
  | 'route-vanish'
  | 'attribute-vanish'
  | 'traffic-surge'
  | 'speed-up'
  | 'route-mix'
  | 'new-route'
  | 'status-shift'
  | 'retry-storm'
  | 'timeout-cliff'
  | 'cache-collapse'
  | 'dependency-error-creep'
  | 'host-failure'
  | 'release'
  | 'route-shift'
  | 'cache-warmup';

/** Kinds that are good news or a neutral change: a measurement must not call them sick. */
export const BENIGN_KINDS: DegradationKind[] = ['traffic-surge', 'speed-up', 'route-mix', 'new-route', 'release', 'route-shift', 'cache-warmup'];

export interface Degradation {
  kind: DegradationKind;
  at: Date;
  /** Ended by an applied strategy. */
  until?: Date;
  /**
   * latency-shift: multiplier of every duration (default 1.6); error-burst: error share of
   * requests (default 0.1); loop-thrash: share of requests that loop (default 0.02);
   * throughput-drop: share of requests that still arrive (default 0.5); latency-creep: the
   * multiplier durations reach 10 minutes after `at`, growing linearly (default 2);
   * outage: share of requests that still arrive (default 0); error-ramp: error share reached
   * 10 minutes after `at`, linearly (default 0.2); intermittent-errors: error share during
   * 30 s bursts every 2 minutes (default 0.5); latency-tail: multiplier of a tenth of requests
   * (default 8); dependency-errors: failure share of the database calls, a quarter of which
   * fail their request (default 0.2); dependency-latency: multiplier of the database calls
   * (default 3); traffic-surge: arrival multiplier (default 2); speed-up: multiplier of every
   * duration (default 0.7); route-mix: weight multiplier of the last route (default 3);
   * new-route: share of the traffic a new route (`/recommendations`: its own latency, a heavy
   * tail and 3 % failures) takes from the others (default 0.15); status-shift: share of requests
   * answered 404, fast, and not failed by their span status (OTel leaves a server's 4xx unset)
   * (default 0.15); retry-storm: database calls per request, one after the other, with the same
   * user traffic (default 3); timeout-cliff: share of requests that hit a 2 s timeout, answered
   * 504 and failed (default 0.05); cache-collapse: the cache calls stop and every request queries
   * the database twice (no magnitude); dependency-error-creep: failure share of the database
   * calls reached 20 minutes after `at`, linearly, a quarter of which fail their request
   * (default 0.1); host-failure: error share of the requests served by one host of four
   * (`host.name` host-3 in the resource), which also run twice as slow (default 0.2); release: a
   * new `service.version` in the resource, nothing else changes (no magnitude); route-shift:
   * share of the first route's traffic that moves to the second, totals unchanged (default 0.5);
   * cache-warmup: cache hit ratio from 0.8 to this (default 0.95).
   */
  magnitude?: number;
  /** Only requests to this route (e.g. `/checkout`) are affected. */
  route?: string;
  /** attribute-vanish: the attribute key that stops being sent (default `user_agent.original` on requests; `db.system` or `cache.hit` on those spans). */
  attribute?: string;
  /** Ends by itself this many seconds after `at` (a burst). */
  forSeconds?: number;
}

export interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  service_name: string;
  name: string;
  kind: number;
  start_time: string;
  end_time: string;
  duration_ms: number;
  status_code: number;
  status_message: string | null;
  attributes: string;
  resource: string;
  source: string;
}

export interface SimulatorOptions {
  system: string;
  seed: number;
  /** Mean requests per second. @default 2 */
  requestsPerSecond?: number;
  /** Share of requests that fail when healthy. @default 0.01 */
  errorRate?: number;
  /** Routes served: the three of an orders service, or this many (their traffic skewed, a few slow). @default 3 */
  routes?: number;
  /** σ of the log-normal durations (1 is a heavy tail). @default 0.5 */
  latencySigma?: number;
  /** Daily cycle of the arrival rate: peak/trough ratio and period. */
  diurnal?: { ratio: number; periodSeconds?: number };
  /** Weekly cycle of the arrival rate on top of the daily one: peak/trough ratio. */
  weekly?: { ratio: number };
  /** Bursty arrivals: the rate of each minute is drawn log-normal with this coefficient of variation (clients in batches). */
  jitter?: number;
  /** Stable outliers: this share of requests takes `factor` times as long (GC pauses, cold caches). */
  outliers?: { share: number; factor: number };
}

interface Operation {
  route: string;
  weight: number;
  medianMs: number;
}

const OPERATIONS: Operation[] = [
  { route: '/orders', weight: 0.5, medianMs: 40 },
  { route: '/orders/{id}', weight: 0.3, medianMs: 15 },
  { route: '/checkout', weight: 0.2, medianMs: 120 },
];

/** The route that `new-route` brings: a recommendations call, slower, with a heavy tail and 3 % failures. */
const NEW_ROUTE: Operation = { route: '/recommendations', weight: 0, medianMs: 60 };

/** `count` routes of a shop: Zipf-like traffic (the first busiest), medians from 10 to 200 ms. */
function manyRoutes(count: number): Operation[] {
  const raw = Array.from({ length: count }, (_, index) => 1 / (index + 1));
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((weight, index) => ({ route: `/route-${index + 1}`, weight: weight / total, medianMs: 10 + ((index * 37) % 190) }));
}

/** Which degradations a strategy repairs in the simulated service (every strategy repairs what it is aimed at). */
const REPAIRS: Record<string, DegradationKind[]> = {
  default: [
    'latency-shift',
    'error-burst',
    'schema-drift',
    'loop-thrash',
    'throughput-drop',
    'latency-creep',
    'outage',
    'error-ramp',
    'intermittent-errors',
    'latency-tail',
    'dependency-errors',
    'dependency-latency',
    'route-vanish',
    'attribute-vanish',
    'status-shift',
    'retry-storm',
    'timeout-cliff',
    'cache-collapse',
    'dependency-error-creep',
    'host-failure',
  ],
};

export class SpanSimulator {
  private readonly random: () => number;
  /** Ids come from their own stream, seeded by system too, so the traffic of a seed stays the same. */
  private readonly idRandom: () => number;
  /**
   * Ends every trace id, so that like real trace ids they never repeat: mulberry32 streams of
   * different seeds are shifted copies of one 2^32 cycle and overlap now and then over a
   * bench's millions of draws.
   */
  private readonly traceTag: string;
  private traces = 0;
  private readonly degradations: Degradation[] = [];
  readonly applied: Array<{ strategyId: string; at: Date }> = [];
  readonly system: string;
  private readonly rate: number;
  private readonly errorRate: number;
  private readonly operations: Operation[];
  private readonly sigma: number;
  private readonly diurnal?: { ratio: number; periodSeconds?: number };
  private readonly weekly?: { ratio: number };
  private readonly jitter?: number;
  private readonly outliers?: { share: number; factor: number };
  /** The jitter's rate factor per minute (drawn from its own stream, so it is the same whichever window is generated first). */
  private readonly minuteFactors = new Map<number, number>();
  private readonly jitterSeed: number;

  constructor(options: SimulatorOptions) {
    this.weekly = options.weekly;
    this.jitter = options.jitter;
    this.outliers = options.outliers;
    this.jitterSeed = options.seed;
    this.operations = options.routes && options.routes !== 3 ? manyRoutes(options.routes) : OPERATIONS;
    this.sigma = options.latencySigma ?? 0.5;
    this.diurnal = options.diurnal;
    this.system = options.system;
    this.random = seededRandom(options.seed);
    this.idRandom = seededRandom(options.seed ^ fnv1a(options.system));
    this.traceTag = fnv1a(`${options.system}/${options.seed}`).toString(16).padStart(8, '0');
    this.rate = options.requestsPerSecond ?? 2;
    this.errorRate = options.errorRate ?? 0.01;
  }

  inject(degradation: Degradation): this {
    this.degradations.push(degradation);
    return this;
  }

  /** The simulated service reacts to a regeneration strategy: the degradations it repairs end now. */
  applyStrategy(strategyId: string, at = new Date()): void {
    this.applied.push({ strategyId, at });
    const repaired = REPAIRS[strategyId] ?? REPAIRS.default ?? [];
    for (const degradation of this.degradations) {
      if (repaired.includes(degradation.kind) && !degradation.until) degradation.until = at;
    }
  }

  /** The degradation of a kind in force at `at`: of several, the one that started last (a later fault overrides an earlier one). */
  private active(kind: DegradationKind, at: number): Degradation | undefined {
    let found: Degradation | undefined;
    for (const d of this.degradations) {
      const ends = Math.min(d.until?.getTime() ?? Infinity, d.forSeconds ? d.at.getTime() + d.forSeconds * 1000 : Infinity);
      if (d.kind === kind && d.at.getTime() <= at && at < ends && (!found || d.at >= found.at)) found = d;
    }
    return found;
  }

  /** Arrival-rate multiplier at `at`: the daily cycle and any surge. */
  private rateFactor(at: number): number {
    let factor = 1;
    if (this.diurnal) {
      const period = (this.diurnal.periodSeconds ?? 86_400) * 1000;
      const amplitude = (this.diurnal.ratio - 1) / (this.diurnal.ratio + 1);
      factor *= 1 + amplitude * Math.sin((2 * Math.PI * at) / period);
    }
    if (this.weekly) factor *= 1 + ((this.weekly.ratio - 1) / (this.weekly.ratio + 1)) * Math.sin((2 * Math.PI * at) / (7 * 86_400_000));
    if (this.jitter) {
      const minute = Math.floor(at / 60_000);
      let drawn = this.minuteFactors.get(minute);
      if (drawn === undefined) {
        const random = seededRandom((this.jitterSeed * 31 + minute) >>> 0);
        const sigma = Math.sqrt(Math.log(1 + this.jitter * this.jitter));
        const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
        drawn = Math.exp(sigma * z - (sigma * sigma) / 2);
        this.minuteFactors.set(minute, drawn);
      }
      factor *= drawn;
    }
    const surge = this.active('traffic-surge', at);
    if (surge) factor *= surge.magnitude ?? 2;
    return factor;
  }

  /** Spans of every request that starts in [from, to). */
  generate(from: Date, to: Date): SpanRow[] {
    const spans: SpanRow[] = [];
    let t = from.getTime() + this.exponential(1000 / (this.rate * this.rateFactor(from.getTime())));
    while (t < to.getTime()) {
      // A throughput drop or an outage thins the arrivals (still Poisson); the draw is only made while one is active.
      const drop = this.active('throughput-drop', t);
      const outage = this.active('outage', t);
      const keep = (drop ? (drop.magnitude ?? 0.5) : 1) * (outage ? (outage.magnitude ?? 0) : 1);
      if ((!drop && !outage) || this.random() < keep) this.request(t, spans);
      t += this.exponential(1000 / (this.rate * this.rateFactor(t)));
    }
    return spans;
  }

  /** The degradation of a kind in force at `at` for a route (one aimed at another route does not count). */
  private activeOn(kind: DegradationKind, at: number, route: string): Degradation | undefined {
    const found = this.active(kind, at);
    return found && (!found.route || found.route === route) ? found : undefined;
  }

  private request(at: number, spans: SpanRow[]): void {
    const newRoute = this.active('new-route', at);
    const operation = newRoute && this.random() < (newRoute.magnitude ?? 0.15) ? NEW_ROUTE : this.pick(at);
    if (this.activeOn('route-vanish', at, operation.route)) return;
    const latency = this.activeOn('latency-shift', at, operation.route) ?? this.activeOn('speed-up', at, operation.route);
    const burst = this.activeOn('error-burst', at, operation.route);
    const drift = this.active('schema-drift', at);
    const thrash = this.active('loop-thrash', at);
    const creep = this.activeOn('latency-creep', at, operation.route);
    const ramp = this.activeOn('error-ramp', at, operation.route);
    const bursts = this.activeOn('intermittent-errors', at, operation.route);
    const tail = this.activeOn('latency-tail', at, operation.route);
    const depErrors = this.activeOn('dependency-errors', at, operation.route);
    const depLatency = this.activeOn('dependency-latency', at, operation.route);
    const vanished = this.activeOn('attribute-vanish', at, operation.route);
    const noAttribute = vanished ? (vanished.attribute ?? 'user_agent.original') : null;
    const shifted = this.activeOn('status-shift', at, operation.route);
    const notFound = shifted ? this.random() < (shifted.magnitude ?? 0.15) : false;
    const outlier = this.outliers ? (this.random() < this.outliers.share ? this.outliers.factor : 1) : 1;
    const retries = this.activeOn('retry-storm', at, operation.route);
    const cliff = this.activeOn('timeout-cliff', at, operation.route);
    const timedOut = cliff ? this.random() < (cliff.magnitude ?? 0.05) : false;
    const cacheGone = this.activeOn('cache-collapse', at, operation.route);
    const creepErrors = this.activeOn('dependency-error-creep', at, operation.route);
    const warm = this.active('cache-warmup', at);
    const release = this.active('release', at);
    const crept = creep ? 1 + ((creep.magnitude ?? 2) - 1) * Math.min(1, (at - creep.at.getTime()) / 600_000) : 1;
    const tailFactor = tail && this.random() < 0.1 ? (tail.magnitude ?? 8) : 1;
    const factor = (latency ? (latency.magnitude ?? (latency.kind === 'speed-up' ? 0.7 : 1.6)) : 1) * crept * tailFactor;
    let errorRate = burst ? (burst.magnitude ?? 0.1) : operation === NEW_ROUTE ? 0.03 : this.errorRate;
    if (ramp) errorRate = Math.max(errorRate, this.errorRate + ((ramp.magnitude ?? 0.2) - this.errorRate) * Math.min(1, (at - ramp.at.getTime()) / 600_000));
    if (bursts && (at - bursts.at.getTime()) % 120_000 < 30_000) errorRate = Math.max(errorRate, bursts.magnitude ?? 0.5);
    const traceId = this.hex(32).slice(0, 16) + this.traceTag + (this.traces++).toString(16).padStart(8, '0');
    const rootId = this.hex(16);
    // The host that served the request: one of four, from the trace id (no draw, so every seed's stream stays as it was).
    const host = `host-${(parseInt(traceId.slice(0, 2), 16) % 4) + 1}`;
    const hostDown = this.active('host-failure', at);
    const sickHost = hostDown && host === 'host-3';
    if (sickHost) errorRate = Math.max(errorRate, hostDown?.magnitude ?? 0.2);
    const creepShare = creepErrors ? (creepErrors.magnitude ?? 0.1) * Math.min(1, (at - creepErrors.at.getTime()) / 1_200_000) : 0;
    const dbFailed = depErrors ? this.random() < (depErrors.magnitude ?? 0.2) : creepErrors ? this.random() < creepShare : false;
    const failed = this.random() < errorRate || (dbFailed && this.random() < 0.25) || timedOut;
    const route = drift ? `/v2${operation.route}` : operation.route;
    const statusKey = drift ? 'http.response.status_code' : 'http.status_code';

    const sigma = operation === NEW_ROUTE ? 1 : this.sigma;
    const hostFactor = sickHost ? 2 : 1;
    const dbMs = this.logNormal(operation.medianMs * 0.4, sigma) * factor * outlier * hostFactor * (depLatency ? (depLatency.magnitude ?? 3) : 1);
    const cacheMs = this.logNormal(1.5, 0.4) * factor;
    let childTime = at + 1;
    const cacheHit = this.random() < (warm ? (warm.magnitude ?? 0.95) : 0.8);
    const children: Array<[string, number, Record<string, unknown>, boolean]> = [
      ['cache.get', cacheMs, { 'cache.hit': cacheHit }, false],
      ['db.query', dbMs, { 'db.system': 'postgresql', 'db.operation': 'SELECT' }, failed || dbFailed],
    ];
    if (cacheGone) {
      // The cache is gone: its calls stop, and the database answers what it held too.
      children.shift();
      children.push(['db.query', this.logNormal(operation.medianMs * 0.4, sigma) * factor, { 'db.system': 'postgresql', 'db.operation': 'SELECT' }, false]);
    }
    if (retries) {
      // A retry storm: the same database call made again and again for each request (one dependency's calls ×N).
      for (let i = 1; i < (retries.magnitude ?? 3); i++) children.push(['db.query', this.logNormal(operation.medianMs * 0.4, sigma) * factor, { 'db.system': 'postgresql', 'db.operation': 'SELECT' }, false]);
    }
    if (noAttribute) for (const child of children) delete child[2][noAttribute];
    if (thrash && this.random() < (thrash.magnitude ?? 0.02)) {
      // An instance stuck in a retry loop: the same activity again and again.
      for (let i = 0; i < 40; i++) children.push(['payment.retry', this.logNormal(5, 0.3), { attempt: i + 1 }, true]);
    }
    const resource = { 'service.name': this.system, 'service.version': release ? '1.5.0' : '1.4.2', 'host.name': host };
    for (const [name, ms, attributes, error] of children) {
      spans.push(this.span(traceId, rootId, name, childTime, ms, error, attributes, undefined, resource));
      childTime += ms;
    }
    // A timeout answers at the ceiling, whatever the work would have taken.
    const rootMs = timedOut ? 2000 : Math.max(childTime - at, this.logNormal(operation.medianMs, sigma) * factor * outlier * hostFactor) * (notFound ? 0.3 : 1);
    const attributes: Record<string, unknown> = { 'http.request.method': 'GET', 'http.route': route, [statusKey]: timedOut ? 504 : failed ? 500 : notFound ? 404 : 200 };
    attributes['user_agent.original'] = 'shop-client/1.0';
    if (noAttribute) delete attributes[noAttribute];
    spans.push(this.span(traceId, null, `GET ${route}`, at, rootMs, failed, attributes, rootId, resource));
  }

  private span(
    traceId: string,
    parent: string | null,
    name: string,
    start: number,
    ms: number,
    error: boolean,
    attributes: Record<string, unknown>,
    spanId = this.hex(16),
    resource: Record<string, unknown> = { 'service.name': this.system },
  ): SpanRow {
    return {
      trace_id: traceId,
      span_id: spanId,
      parent_span_id: parent,
      service_name: this.system,
      name,
      kind: parent ? 3 : 2,
      start_time: new Date(start).toISOString(),
      end_time: new Date(start + ms).toISOString(),
      duration_ms: ms,
      status_code: error ? 2 : 1,
      status_message: error ? 'simulated failure' : null,
      attributes: JSON.stringify(attributes),
      resource: JSON.stringify(resource),
      source: 'otlp',
    };
  }

  private pick(at: number): Operation {
    const mix = this.active('route-mix', at);
    const shift = this.active('route-shift', at);
    const last = this.operations.length - 1;
    const weights = this.operations.map((operation, index) => operation.weight * (mix && index === last ? (mix.magnitude ?? 3) : 1));
    if (shift && weights.length > 1) {
      // Part of the first route's traffic moves to the second: the total stays the same.
      const moved = (weights[0] as number) * (shift.magnitude ?? 0.5);
      weights[0] = (weights[0] as number) - moved;
      weights[1] = (weights[1] as number) + moved;
    }
    let r = this.random() * weights.reduce((a, b) => a + b, 0);
    for (let index = 0; index < this.operations.length; index++) {
      r -= weights[index] as number;
      if (r <= 0) return this.operations[index] as Operation;
    }
    return this.operations[last] as Operation;
  }

  private exponential(mean: number): number {
    return -Math.log(1 - this.random()) * mean;
  }

  private logNormal(median: number, sigma: number): number {
    // Box–Muller
    const u = 1 - this.random();
    const v = this.random();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return median * Math.exp(sigma * z);
  }

  private hex(length: number): string {
    let out = '';
    while (out.length < length) out += Math.floor(this.idRandom() * 0x100000000).toString(16).padStart(8, '0');
    return out.slice(0, length);
  }

  /**
   * Writes the service's traffic as it happens: every `intervalMs` the spans of the requests
   * since the last write. Returns a function that stops it (after a last write).
   */
  live(knex: Knex, from: Date, intervalMs = 200): () => Promise<void> {
    let last = from;
    let writing = Promise.resolve();
    const tick = () => {
      const now = new Date();
      const spans = this.generate(last, now);
      last = now;
      writing = writing.then(() => writeSpans(knex, spans));
    };
    const timer = setInterval(tick, intervalMs);
    return async () => {
      clearInterval(timer);
      tick();
      await writing;
    };
  }
}

export async function writeSpans(knex: Knex, spans: SpanRow[]): Promise<void> {
  for (let i = 0; i < spans.length; i += 1000) await knex('spans').insert(spans.slice(i, i + 1000));
}
