import uPlot from 'uplot';
import { h } from './dom.js';

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

/** How a quantity is shown: its unit, how a value reads, and a floor (most never go below 0). */
export interface Quantity {
  label: string;
  unit: string;
  format(value: number): string;
  /** Fixed range (e.g. 0–1 for a score); otherwise from the data, from 0. */
  range?: [number, number];
}

export const QUANTITIES: Record<string, Quantity> = {
  entropy: { label: 'entropy score', unit: '0–1', format: (value) => value.toFixed(2), range: [0, 1] },
  latency_p95: { label: 'latency p95', unit: 'ms', format: (value) => `${value >= 100 ? value.toFixed(0) : value.toPrecision(3)} ms` },
  error_rate: { label: 'error rate', unit: '%', format: (value) => `${(value * 100).toFixed(value < 0.01 ? 2 : 1)} %` },
  throughput: { label: 'throughput', unit: 'spans/s', format: (value) => `${value.toPrecision(3)} /s` },
};

/** Entropy levels as bands behind the score, from the module's thresholds. */
export const LEVEL_BANDS: Array<{ from: number; to: number; level: string; colour: string }> = [
  { from: 0, to: 0.3, level: 'LOW', colour: 'rgba(46, 125, 50, 0.10)' },
  { from: 0.3, to: 0.6, level: 'MEDIUM', colour: 'rgba(178, 106, 0, 0.10)' },
  { from: 0.6, to: 0.8, level: 'HIGH', colour: 'rgba(230, 81, 0, 0.14)' },
  { from: 0.8, to: 1, level: 'CRITICAL', colour: 'rgba(198, 40, 40, 0.16)' },
];

/** Paints horizontal bands (value ranges) behind the series. */
function bandsPlugin(bands: Array<{ from: number; to: number; colour: string }>): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u) => {
        const { ctx } = u;
        ctx.save();
        for (const band of bands) {
          const top = u.valToPos(band.to, 'y', true);
          const bottom = u.valToPos(band.from, 'y', true);
          ctx.fillStyle = band.colour;
          ctx.fillRect(u.bbox.left, Math.min(top, bottom), u.bbox.width, Math.abs(bottom - top));
        }
        ctx.restore();
      },
    },
  };
}

/** A tooltip beside the cursor: time and the values at it, with units. */
function tooltipPlugin(describe: (index: number) => string): uPlot.Plugin {
  const tip = h('div', { class: 'rf-chart-tooltip', role: 'tooltip' });
  return {
    hooks: {
      init: (u) => {
        u.over.appendChild(tip);
        tip.hidden = true;
      },
      setCursor: (u) => {
        const index = u.cursor.idx;
        if (index === null || index === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
          tip.hidden = true;
          return;
        }
        tip.hidden = false;
        tip.textContent = describe(index);
        const left = Math.min(u.cursor.left + 10, u.over.clientWidth - 160);
        tip.style.transform = `translate(${Math.max(0, left)}px, ${Math.max(0, (u.cursor.top ?? 0) - 30)}px)`;
      },
    },
  };
}

const axisStyle = { stroke: '#667085', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#d8dce3', width: 1 }, font: '11px system-ui, sans-serif' };

/**
 * A time series with uPlot (bundled, no CDN): a time axis, a y axis in the quantity's unit that
 * never goes below its floor, a tooltip, and either level bands (the entropy score) or a
 * control band between the lower and upper control limits with the centre line and the points
 * that break a Western Electric rule in red.
 */
export function timeChart(points: ChartPoint[], quantity: Quantity, options: { limits?: ChartLimits; levelBands?: boolean; width?: number; height?: number } = {}): HTMLElement {
  const host = h('div', { class: 'rf-chart', 'data-points': points.length });
  if (!points.length) {
    host.appendChild(h('p', { class: 'rf-chart-empty rf-muted' }, 'no data yet'));
    return host;
  }
  const limits = options.limits ?? {};
  const xs = points.map((point) => Date.parse(point.at) / 1000);
  const ys = points.map((point) => point.value);
  const broken = new Map((limits.violations ?? []).map((violation) => [violation.index, violation.rule]));
  const flat = (value: number | null | undefined) => (typeof value === 'number' ? xs.map(() => value) : null);
  const upper = flat(limits.upper);
  const lower = flat(limits.lower === null || limits.lower === undefined ? null : Math.max(limits.lower, quantity.range?.[0] ?? 0));
  const centre = flat(limits.centre);
  const violations = ys.map((value, index) => (broken.has(index) ? value : null));

  const data: uPlot.AlignedData = [xs, ys];
  const series: uPlot.Series[] = [{}, { label: quantity.label, stroke: '#2357c6', width: 1.5, points: { show: points.length < 60, size: 4 }, value: (_u, value) => (value === null ? '–' : quantity.format(value)) }];
  const bands: uPlot.Band[] = [];
  if (upper && lower && limits.upper !== limits.lower) {
    data.push(upper, lower);
    series.push({ label: 'upper control limit', stroke: 'rgba(198, 40, 40, 0.6)', dash: [4, 3], width: 1, points: { show: false } });
    series.push({ label: 'lower control limit', stroke: 'rgba(198, 40, 40, 0.6)', dash: [4, 3], width: 1, points: { show: false } });
    bands.push({ series: [2, 3], fill: 'rgba(46, 125, 50, 0.08)' });
  }
  if (centre) {
    data.push(centre);
    series.push({ label: 'centre line', stroke: 'rgba(46, 125, 50, 0.8)', dash: [2, 2], width: 1, points: { show: false } });
  }
  if (broken.size) {
    data.push(violations);
    series.push({ label: 'rule broken', stroke: 'transparent', paths: () => null, points: { show: true, size: 8, fill: '#c62828', stroke: '#c62828' } });
  }
  const values = [...ys, ...(upper ?? []), ...(centre ?? [])];
  const top = Math.max(...values);
  const range: uPlot.Range.MinMax = quantity.range ?? [0, top > 0 ? top * 1.15 : 1];

  const describe = (index: number) => {
    const when = new Date(xs[index]! * 1000).toLocaleString();
    const rule = broken.get(index);
    return `${when}: ${quantity.format(ys[index]!)}${rule ? ` — ${rule}` : ''}`;
  };
  const plugins = [tooltipPlugin(describe), ...(options.levelBands ? [bandsPlugin(LEVEL_BANDS)] : [])];
  const chart = new uPlot(
    {
      width: options.width ?? 440,
      height: options.height ?? 170,
      series,
      bands,
      plugins,
      legend: { show: false },
      cursor: { points: { size: 6 }, drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: () => range } },
      axes: [
        { ...axisStyle, space: 60 },
        { ...axisStyle, size: 56, label: quantity.unit, labelSize: 14, labelFont: '11px system-ui, sans-serif', values: (_u, ticks) => ticks.map((tick) => (quantity.unit === '%' ? `${+(tick * 100).toPrecision(3)}` : `${+tick.toPrecision(3)}`)) },
      ],
    },
    data,
    host,
  );
  host.dataset.yMin = String(chart.scales.y?.min ?? '');
  return host;
}
