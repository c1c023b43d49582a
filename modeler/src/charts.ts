import { svg } from './dom.js';

export interface ChartPoint {
  at: string;
  value: number;
}

export interface ChartLimits {
  centre?: number | null;
  upper?: number | null;
  lower?: number | null;
  /** Indexes into points that break a control rule. */
  violations?: Array<{ index: number; rule: string }>;
}

/** A small SVG line chart (built node by node, no markup strings) with optional control limits. */
export function lineChart(points: ChartPoint[], limits: ChartLimits = {}, size = { width: 420, height: 140 }): SVGElement {
  const pad = { left: 44, right: 10, top: 10, bottom: 20 };
  const chart = svg('svg', { class: 'rf-chart', viewBox: `0 0 ${size.width} ${size.height}`, width: size.width, height: size.height, role: 'img' });
  const values = [...points.map((point) => point.value), ...[limits.upper, limits.lower, limits.centre].filter((value): value is number => typeof value === 'number')];
  if (!points.length) {
    chart.appendChild(svg('text', { x: size.width / 2, y: size.height / 2, 'text-anchor': 'middle', class: 'rf-chart-empty' }, 'no data yet'));
    return chart;
  }
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (min === max) {
    min -= 1;
    max += 1;
  }
  const x = (index: number) => pad.left + (points.length === 1 ? 0 : (index / (points.length - 1)) * (size.width - pad.left - pad.right));
  const y = (value: number) => pad.top + (1 - (value - min) / (max - min)) * (size.height - pad.top - pad.bottom);
  chart.appendChild(svg('line', { x1: pad.left, x2: pad.left, y1: pad.top, y2: size.height - pad.bottom, class: 'rf-chart-axis' }));
  chart.appendChild(svg('text', { x: pad.left - 4, y: pad.top + 8, 'text-anchor': 'end', class: 'rf-chart-tick' }, format(max)));
  chart.appendChild(svg('text', { x: pad.left - 4, y: size.height - pad.bottom, 'text-anchor': 'end', class: 'rf-chart-tick' }, format(min)));
  const limit = (value: number | null | undefined, kind: string) => {
    if (typeof value !== 'number') return;
    chart.appendChild(svg('line', { x1: pad.left, x2: size.width - pad.right, y1: y(value), y2: y(value), class: `rf-chart-${kind}` }));
    chart.appendChild(svg('text', { x: size.width - pad.right, y: y(value) - 2, 'text-anchor': 'end', class: 'rf-chart-tick' }, `${kind} ${format(value)}`));
  };
  // Limits that coincide (a flat series) are drawn once, as the centre line.
  const spread = typeof limits.upper === 'number' && typeof limits.lower === 'number' && limits.upper !== limits.lower;
  if (spread) limit(limits.upper, 'upper');
  limit(limits.centre, 'centre');
  if (spread) limit(limits.lower, 'lower');
  chart.appendChild(svg('polyline', { points: points.map((point, index) => `${x(index)},${y(point.value)}`).join(' '), class: 'rf-chart-line' }));
  const broken = new Map((limits.violations ?? []).map((violation) => [violation.index, violation.rule]));
  points.forEach((point, index) => {
    const rule = broken.get(index);
    chart.appendChild(
      svg('circle', { cx: x(index), cy: y(point.value), r: rule ? 4 : 2, class: rule ? 'rf-chart-violation' : 'rf-chart-point' }, svg('title', {}, `${new Date(point.at).toLocaleString()}: ${format(point.value)}${rule ? ` (${rule})` : ''}`)),
    );
  });
  return chart;
}

function format(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 1 ? value.toFixed(2) : value.toPrecision(2);
}
