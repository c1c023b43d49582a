import { seededRandom } from '../../service-tasks/entropy/seeded-random.js';
import { HISTOGRAM_BINS, histogramQuantile } from '../../src/store/span-metrics.js';

describe('histogram quantiles', () => {
  it('when durations are binned as the database bins them, then p50/p95/p99 are within 5 % of the exact values', () => {
    const random = seededRandom(21);
    const durations = Array.from({ length: 20_000 }, () => 40 * Math.exp(0.8 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())));
    // width_bucket(ln(greatest(d, 0.01)), ln(0.01), ln(1e6), BINS)
    const low = Math.log(0.01);
    const width = (Math.log(1e6) - low) / HISTOGRAM_BINS;
    const bins = new Array<number>(HISTOGRAM_BINS + 2).fill(0);
    for (const duration of durations) bins[Math.min(HISTOGRAM_BINS + 1, Math.max(0, Math.floor((Math.log(Math.max(duration, 0.01)) - low) / width) + 1))]! += 1;
    const sorted = [...durations].sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = sorted[Math.floor(q * sorted.length)]!;
      expect(Math.abs(histogramQuantile(bins, q)! / exact - 1)).toBeLessThan(0.05);
    }
    expect(histogramQuantile(new Array(HISTOGRAM_BINS + 2).fill(0), 0.5)).toBeNull();
  });
});
