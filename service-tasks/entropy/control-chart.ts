/**
 * Individuals (X) control chart: centre = mean of the points, σ estimated from the average
 * moving range (MR̄ / d2, d2 = 1.128 for ranges of two), limits at ±3σ, and the four
 * Western Electric rules.
 */

export interface ChartPoint {
  at: string;
  value: number;
}

export interface Violation {
  rule: 'WE1' | 'WE2' | 'WE3' | 'WE4';
  index: number;
  at: string;
}

export interface ControlChart {
  points: ChartPoint[];
  centre: number;
  upper: number;
  lower: number;
  sigma: number;
  violations: Violation[];
}

const D2 = 1.128;

/** p-chart limits for proportions errors/count per bucket (average bucket size). */
export function proportionModel(buckets: Array<{ errors: number; count: number }>): { centre: number; sigma: number } {
  const errors = buckets.reduce((sum, bucket) => sum + bucket.errors, 0);
  const count = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
  const filled = buckets.filter((bucket) => bucket.count > 0).length;
  if (!count || !filled) return { centre: 0, sigma: 0 };
  const p = errors / count;
  return { centre: p, sigma: Math.sqrt((p * (1 - p)) / (count / filled)) };
}

/** c-chart limits for event counts per bucket, as rates (count / seconds). */
export function rateModel(counts: number[], seconds: number): { centre: number; sigma: number } {
  if (!counts.length || seconds <= 0) return { centre: 0, sigma: 0 };
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return { centre: mean / seconds, sigma: Math.sqrt(mean) / seconds };
}

/**
 * WE1: one point beyond 3σ. WE2: two of three consecutive points beyond 2σ on one side.
 * WE3: four of five consecutive points beyond 1σ on one side. WE4: eight consecutive points
 * on one side of the centre. A violation is reported at the point that completes the run.
 * `limitsFrom` = how many leading points set the centre and σ (the baseline); default all.
 * `model` replaces the moving-range estimate where the data's variance is known.
 */
export function controlChart(points: ChartPoint[], limitsFrom = points.length, model?: { centre: number; sigma: number }): ControlChart {
  const reference = points.slice(0, Math.max(2, limitsFrom)).map((point) => point.value);
  let centre = reference.length ? reference.reduce((a, b) => a + b, 0) / reference.length : 0;
  let rangeSum = 0;
  for (let i = 1; i < reference.length; i++) rangeSum += Math.abs((reference[i] as number) - (reference[i - 1] as number));
  let sigma = reference.length > 1 ? rangeSum / (reference.length - 1) / D2 : 0;
  // Counts and proportions have a known variance (c-chart, p-chart): use it when given.
  if (model) ({ centre, sigma } = model);
  const violations: Violation[] = [];
  const zone = (value: number) => (sigma > 0 ? (value - centre) / sigma : 0);
  const values = points.map((point) => point.value);
  for (let i = 0; i < values.length; i++) {
    const at = (points[i] as ChartPoint).at;
    const z = zone(values[i] as number);
    if (sigma > 0 && Math.abs(z) > 3) violations.push({ rule: 'WE1', index: i, at });
    for (const side of [1, -1]) {
      if (sigma > 0 && i >= 2 && side * z > 2) {
        const beyond = values.slice(i - 2, i + 1).filter((value) => side * zone(value) > 2).length;
        if (beyond >= 2) violations.push({ rule: 'WE2', index: i, at });
      }
      if (sigma > 0 && i >= 4 && side * z > 1) {
        const beyond = values.slice(i - 4, i + 1).filter((value) => side * zone(value) > 1).length;
        if (beyond >= 4) violations.push({ rule: 'WE3', index: i, at });
      }
      if (i >= 7 && side * ((values[i] as number) - centre) > 0) {
        const run = values.slice(i - 7, i + 1).every((value) => side * (value - centre) > 0);
        if (run) violations.push({ rule: 'WE4', index: i, at });
      }
    }
  }
  return { points, centre, upper: centre + 3 * sigma, lower: centre - 3 * sigma, sigma, violations };
}
