import { seededRandom } from '../../service-tasks/entropy/seeded-random.js';
import {
  fisherUpperTail,
  incompleteBeta,
  kolmogorovQ,
  ksTwoSample,
  ksTwoSampleBinned,
  linearRegression,
  normalCdf,
  poissonRateTest,
  studentTwoSidedP,
  twoProportionZTest,
} from '../../service-tasks/entropy/statistics.js';

const normals = (random: () => number, n: number, mean = 0) =>
  Array.from({ length: n }, () => mean + Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));

describe('entropy statistics', () => {
  it("when Fisher's exact test is evaluated on known tables, then it gives their one-sided p-values", () => {
    // The lady tasting tea: 3 of 4 right against 1 of 4, P = 17/70
    expect(fisherUpperTail(1, 4, 3, 4)).toBeCloseTo(17 / 70, 7);
    // All of the successes in the second sample: 1 / C(8, 4)
    expect(fisherUpperTail(0, 4, 4, 4)).toBeCloseTo(1 / 70, 7);
    expect(fisherUpperTail(5, 100, 0, 13)).toBe(1);
    // One new value in 13 against none in 400 is no evidence; nine in 90 is
    expect(fisherUpperTail(0, 400, 1, 13)).toBeGreaterThan(0.01);
    expect(fisherUpperTail(0, 417, 9, 90)).toBeLessThan(1e-6);
  });

  it('when the normal CDF is evaluated at known points, then it matches the tables', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 5);
    expect(normalCdf(-3)).toBeCloseTo(0.0013499, 6);
  });

  it('when Student t and the incomplete beta are evaluated, then they match known values', () => {
    expect(incompleteBeta(0.5, 2, 2)).toBeCloseTo(0.5, 6);
    expect(studentTwoSidedP(2.228, 10)).toBeCloseTo(0.05, 3);
    expect(studentTwoSidedP(0, 5)).toBeCloseTo(1, 8);
  });

  it('when Kolmogorov Q is evaluated at its critical values, then it gives 5 % and 1 %', () => {
    expect(kolmogorovQ(1.358)).toBeCloseTo(0.05, 3);
    expect(kolmogorovQ(1.628)).toBeCloseTo(0.01, 3);
  });

  it('when two samples come from one distribution, then KS does not reject; when one is shifted, then it does', () => {
    const random = seededRandom(7);
    const a = normals(random, 2000);
    const b = normals(random, 2000);
    const shifted = normals(random, 2000, 0.3);
    expect(ksTwoSample(a, b).pValue).toBeGreaterThan(0.01);
    expect(ksTwoSample(a, shifted).pValue).toBeLessThan(1e-6);
  });

  it('when samples are binned, then the binned KS distance is at most the exact one and agrees on the verdict', () => {
    const random = seededRandom(11);
    const a = normals(random, 3000);
    const shifted = normals(random, 3000, 0.25);
    const bin = (values: number[]) => {
      const bins = new Array<number>(80).fill(0);
      for (const value of values) bins[Math.min(79, Math.max(0, Math.floor((value + 4) * 10)))]! += 1;
      return bins;
    };
    const exact = ksTwoSample(a, shifted);
    const binned = ksTwoSampleBinned(bin(a), bin(shifted));
    expect(binned.statistic).toBeLessThanOrEqual(exact.statistic + 1e-12);
    expect(binned.statistic).toBeGreaterThan(exact.statistic * 0.9);
    expect(binned.pValue).toBeLessThan(1e-6);
  });

  it('when error counts differ clearly, then the two-proportion z-test rejects; when equal, then it does not', () => {
    expect(twoProportionZTest(10, 1000, 60, 1000).pValue).toBeLessThan(1e-6);
    expect(twoProportionZTest(10, 1000, 10, 1000).pValue).toBeCloseTo(1, 8);
    expect(twoProportionZTest(0, 0, 5, 10).pValue).toBe(1);
  });

  it('when a rate halves, then the Poisson rate test rejects and reports the ratio', () => {
    const result = poissonRateTest(3600, 3600, 450, 900);
    expect(result.ratio).toBeCloseTo(0.5, 6);
    expect(result.pValue).toBeLessThan(1e-10);
    expect(poissonRateTest(3600, 3600, 900, 900).pValue).toBeCloseTo(1, 6);
  });

  it('when y rises linearly with noise, then the slope is significant; when flat noise, then it is not', () => {
    const random = seededRandom(3);
    const xs = Array.from({ length: 20 }, (_, i) => i);
    const rising = xs.map((x) => 2 * x + random());
    const flat = xs.map(() => random());
    expect(linearRegression(xs, rising).slope).toBeCloseTo(2, 1);
    expect(linearRegression(xs, rising).pValue).toBeLessThan(1e-10);
    expect(linearRegression(xs, flat).pValue).toBeGreaterThan(0.001);
  });
});
