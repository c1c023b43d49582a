import { DEFAULT_OPERATION_OPTIONS, judgeOperations } from '../../service-tasks/entropy/operations.js';
import type { OperationAggregate, SpanAggregates, SpanStats } from '../../service-tasks/entropy/ports.js';

const stats = (count: number, errors: number): SpanStats => ({ count, errors, sumLog: count * Math.log(10), sumLog2: count * (Math.log(10) ** 2 + 0.25) });
const window = (count: number, errors: number, seconds: number) => ({ count, errors, seconds, p50: 10, p95: 20, p99: 30, histogram: [] });

/** One dependency, 1 % failing over a 30-minute baseline (one request a second), and a window of 50 spans a bucket (50 s, unless given) with these failures per bucket. */
function aggregates(failuresPerBucket: number[], bucketSeconds = 50): SpanAggregates {
  const buckets = failuresPerBucket.map((errors) => stats(50, errors));
  const errors = failuresPerBucket.reduce((a, b) => a + b, 0);
  const operation: OperationAggregate = {
    name: 'db.query',
    role: 'dependency',
    baseline: stats(1800, 18),
    quarters: [stats(450, 5), stats(450, 4), stats(450, 5), stats(450, 4)],
    current: stats(50 * buckets.length, errors),
    buckets,
    baselineHistogram: [],
    currentHistogram: [],
  };
  return {
    baseline: window(1800, 18, 1800),
    current: window(50 * buckets.length, errors, bucketSeconds * buckets.length),
    names: [{ name: 'db.query', baseline: 1800, current: 50 * buckets.length }],
    attributeKeys: { baselineSample: 0, currentSample: 0, keys: [] },
    repeats: [],
    series: buckets.map((bucket, index) => ({ at: new Date(index * bucketSeconds * 1000), count: bucket.count, errors: bucket.errors, p95: 20, mean: 10, logMean: Math.log(10) })),
    operations: [operation],
    bucketSeconds,
  };
}

const errorFindings = (failures: number[]) => judgeOperations(aggregates(failures), DEFAULT_OPERATION_OPTIONS).findings.filter((finding) => finding.signal.startsWith('errors'));

describe('failures since a change point', () => {
  it('when a dependency starts failing more and more in the last minutes, then the stretch that ends now is found, though the whole window and the step CUSUM miss it', () => {
    // 2.5 % over the window (1.5 points above the reference, under the 2 points a whole-window rise must show),
    // 5.5 % over its last 200 s.
    const ramp = [0, 0, 1, 0, 0, 1, 1, 1, 2, 2, 3, 4];
    const found = errorFindings(ramp);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ operation: 'db.query', signal: 'errors-sequential' });
    expect(found[0]!.test).toMatch(/last \d+ of 12 buckets/);
    expect(found[0]!.effect).toBeGreaterThan(0.03);
  });

  it('when the same failures are spread over the window, or fall in its first minutes and stop, then nothing is found', () => {
    expect(errorFindings([1, 1, 2, 1, 1, 1, 2, 1, 1, 2, 1, 1])).toEqual([]);
    expect(errorFindings([4, 3, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0])).toEqual([]);
  });
});


describe('request rates', () => {
  const quiet = new Array(12).fill(0);
  const throughput = (timeOrdered: boolean) => judgeOperations(aggregates(quiet, 100), DEFAULT_OPERATION_OPTIONS, timeOrdered).findings.filter((finding) => finding.signal === 'throughput');

  it('when a window brings half the requests per second of the window before it, then fewer requests is found; when the two sides are versions, it is not', () => {
    expect(throughput(true)).toEqual([expect.objectContaining({ operation: '(service)', effect: expect.closeTo(0.5, 2) })]);
    // Versions: how traffic was routed to each, and for how long, not how healthy either is.
    expect(throughput(false)).toEqual([]);
  });
});
