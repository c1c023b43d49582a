/**
 * The statistical tests behind the drift indicators. Pure functions, no I/O; each one says
 * which test it is, so a reader of a measurement can check the arithmetic.
 */

/** Standard normal CDF. */
export function normalCdf(z: number): number {
  // Abramowitz & Stegun 26.2.17 on |z|, mirrored: absolute error < 7.5e-8.
  const x = Math.abs(z);
  const t = 1 / (1 + 0.2316419 * x);
  const density = Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  const tail = density * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return z >= 0 ? 1 - tail : tail;
}

/** Two-sided p-value of a standard normal statistic. */
export function twoSidedP(z: number): number {
  if (!Number.isFinite(z)) return Number.isNaN(z) ? 1 : 0;
  return Math.min(1, 2 * (1 - normalCdf(Math.abs(z))));
}

export interface TestResult {
  statistic: number;
  pValue: number;
}

/**
 * Two-proportion z-test with the pooled proportion: did the share of failed spans change
 * between `x0/n0` (baseline) and `x1/n1` (current)?
 */
export function twoProportionZTest(x0: number, n0: number, x1: number, n1: number): TestResult {
  if (n0 === 0 || n1 === 0) return { statistic: 0, pValue: 1 };
  const pooled = (x0 + x1) / (n0 + n1);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1));
  if (se === 0) return { statistic: 0, pValue: 1 };
  const z = (x1 / n1 - x0 / n0) / se;
  return { statistic: z, pValue: twoSidedP(z) };
}

/**
 * Comparison of two Poisson rates (counts over exposure), conditional test: given the total
 * `c0 + c1`, the current count is Binomial(c0 + c1, t1 / (t0 + t1)) under "same rate";
 * normal approximation of that binomial.
 */
export function poissonRateTest(c0: number, t0: number, c1: number, t1: number): TestResult & { ratio: number } {
  const n = c0 + c1;
  const ratio = t0 > 0 && t1 > 0 && c0 > 0 ? c1 / t1 / (c0 / t0) : c1 > 0 ? Infinity : 1;
  if (n === 0 || t0 <= 0 || t1 <= 0) return { statistic: 0, pValue: 1, ratio };
  const share = t1 / (t0 + t1);
  const z = (c1 - n * share) / Math.sqrt(n * share * (1 - share));
  return { statistic: z, pValue: twoSidedP(z), ratio };
}

/** Kolmogorov's limiting distribution Q(λ) = 2 Σ (-1)^(k-1) exp(-2 k² λ²). */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.max(0, Math.min(1, sum));
}

/**
 * Two-sample Kolmogorov–Smirnov test on histograms with the same bin edges (the database
 * returns log-spaced duration bins, so the raw spans never leave it). D is the largest gap
 * between the two empirical CDFs at the bin edges — a lower bound of the unbinned D, so the
 * test is conservative. p-value from the asymptotic distribution with Stephens' correction.
 */
export function ksTwoSampleBinned(baseline: number[], current: number[]): TestResult {
  const n0 = baseline.reduce((a, b) => a + b, 0);
  const n1 = current.reduce((a, b) => a + b, 0);
  if (n0 === 0 || n1 === 0) return { statistic: 0, pValue: 1 };
  let cumulative0 = 0;
  let cumulative1 = 0;
  let d = 0;
  const bins = Math.max(baseline.length, current.length);
  for (let i = 0; i < bins; i++) {
    cumulative0 += baseline[i] ?? 0;
    cumulative1 += current[i] ?? 0;
    d = Math.max(d, Math.abs(cumulative0 / n0 - cumulative1 / n1));
  }
  const effective = (n0 * n1) / (n0 + n1);
  const root = Math.sqrt(effective);
  return { statistic: d, pValue: kolmogorovQ((root + 0.12 + 0.11 / root) * d) };
}

/** Two-sample KS on raw samples (used by tests to check the binned version). */
export function ksTwoSample(a: number[], b: number[]): TestResult {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const value = Math.min(x[i] as number, y[j] as number);
    while (i < x.length && (x[i] as number) <= value) i++;
    while (j < y.length && (y[j] as number) <= value) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const effective = (x.length * y.length) / (x.length + y.length);
  const root = Math.sqrt(effective);
  return { statistic: d, pValue: kolmogorovQ((root + 0.12 + 0.11 / root) * d) };
}

/** ln Γ(x), Lanczos approximation (g = 7, n = 9). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61503916999185, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = c[0] as number;
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized incomplete beta I_x(a, b) by Lentz's continued fraction. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-30;
  let f = 1;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = Math.abs(d) < tiny ? tiny : d;
  d = 1 / d;
  f = d;
  for (let m = 1; m <= 3000; m++) {
    const m2 = 2 * m;
    let numerator = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + numerator * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = 1 + numerator / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    f *= d * c;
    numerator = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + numerator * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = 1 + numerator / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-12) break;
  }
  return (front * f) / a;
}

/** Two-sided p-value of Student's t with `df` degrees of freedom. */
export function studentTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? 1 : 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/**
 * Welch's t-test (unequal variances, Welch–Satterthwaite df) of the current sample against the
 * baseline, from their sizes, means and sample variances. `alternative` 'greater' tests
 * whether the current mean is higher, 'less' whether it is lower, 'two-sided' either.
 */
export function welch(
  n0: number,
  mean0: number,
  var0: number,
  n1: number,
  mean1: number,
  var1: number,
  alternative: 'two-sided' | 'greater' | 'less' = 'two-sided',
): { t: number; df: number; pValue: number } {
  const se2 = var0 / n0 + var1 / n1;
  const diff = mean1 - mean0;
  const t = se2 === 0 ? (diff === 0 ? 0 : Math.sign(diff) * Infinity) : diff / Math.sqrt(se2);
  const df = se2 === 0 ? Math.max(1, n0 + n1 - 2) : se2 ** 2 / ((var0 / n0) ** 2 / Math.max(1, n0 - 1) + (var1 / n1) ** 2 / Math.max(1, n1 - 1));
  const twoSided = se2 === 0 ? (diff === 0 ? 1 : 0) : studentTwoSidedP(t, df);
  if (alternative === 'two-sided') return { t, df, pValue: twoSided };
  const inDirection = alternative === 'greater' ? t > 0 : t < 0;
  return { t, df, pValue: inDirection ? twoSided / 2 : 1 - twoSided / 2 };
}

export interface RegressionResult {
  slope: number;
  intercept: number;
  /** t statistic of the slope against 0. */
  statistic: number;
  pValue: number;
  n: number;
}

/** Ordinary least squares y = a + b·x with the t-test of H0: b = 0 (df = n − 2). */
export function linearRegression(xs: number[], ys: number[]): RegressionResult {
  const n = Math.min(xs.length, ys.length);
  if (n < 3) return { slope: 0, intercept: ys[0] ?? 0, statistic: 0, pValue: 1, n };
  const meanX = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const meanY = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += ((xs[i] as number) - meanX) ** 2;
    sxy += ((xs[i] as number) - meanX) * ((ys[i] as number) - meanY);
  }
  if (sxx === 0) return { slope: 0, intercept: meanY, statistic: 0, pValue: 1, n };
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += ((ys[i] as number) - intercept - slope * (xs[i] as number)) ** 2;
  const se = Math.sqrt(sse / (n - 2) / sxx);
  if (se === 0) return { slope, intercept, statistic: slope === 0 ? 0 : Infinity * Math.sign(slope), pValue: slope === 0 ? 1 : 0, n };
  const statistic = slope / se;
  return { slope, intercept, statistic, pValue: studentTwoSidedP(statistic, n - 2), n };
}

/**
 * Probability that a Poisson count with mean `expected` is 0: how surprising the absence
 * of something is (semantic drift: a span name or attribute key that vanished or appeared).
 */
export function poissonZeroP(expected: number): number {
  return Math.exp(-expected);
}

/**
 * Exact binomial tail P(X ≥ x) for X ~ Binomial(n, p), by the regularized incomplete beta
 * I_p(x, n − x + 1). Exact at any size: "1 error in 13 spans" gets the p-value it deserves,
 * not a normal approximation's.
 */
export function binomialUpperTail(x: number, n: number, p: number): number {
  if (x <= 0) return 1;
  if (x > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  return Math.min(1, Math.max(0, incompleteBeta(p, x, n - x + 1)));
}

/** Exact binomial tail P(X ≤ x) for X ~ Binomial(n, p). */
export function binomialLowerTail(x: number, n: number, p: number): number {
  if (x >= n) return 1;
  if (x < 0) return 0;
  return 1 - binomialUpperTail(x + 1, n, p);
}

/**
 * Fisher's exact test, one-sided: P(X ≥ x1) for the count of "successes" falling into the second
 * sample, given both samples' sizes and the successes in all (hypergeometric). The two-proportion
 * test for small counts: x0 of n0 before, x1 of n1 now, is the share now larger? The terms are
 * summed by their ratio from the first one and stop once they no longer matter.
 */
export function fisherUpperTail(x0: number, n0: number, x1: number, n1: number): number {
  const total = n0 + n1;
  const successes = x0 + x1;
  if (x1 <= 0) return 1;
  const top = Math.min(successes, n1);
  if (x1 > top) return 0;
  const logChoose = (n: number, k: number) => logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
  let term = Math.exp(logChoose(successes, x1) + logChoose(total - successes, n1 - x1) - logChoose(total, n1));
  let sum = term;
  for (let i = x1; i < top; i++) {
    term *= ((successes - i) * (n1 - i)) / ((i + 1) * (total - successes - n1 + i + 1));
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return Math.min(1, Math.max(0, sum));
}
