// The compare page's charts of groups (`by=`): each group one band (mean, and mean ± std or min–max, n in the
// legend) in its colour, for the loss (÷ its baseline when every run has one), the memory horizon and the norm
// at t = 0 over training, and the per-timestep norm at the chosen iterations (dash: iteration). Each chart keeps
// what it drew in `data-bands` (JSON: per band its group, n, x, mean, lo, hi) for tests and readers.
import { encodeMatrix } from '@gradscope/format';
import uPlot from 'uplot';
import type { FlowResponse } from '../api';
import { fitYAxis, timestepLogAxes, xAxisSize } from '../axes';
import { bandColumns, type Curve, curveBand, unionGrid } from '../bands';
import type { ComparedGroup, ComparedRun } from '../compareData';
import type { Band } from '../compareState';
import { h } from '../dom';
import type { FlowLabels } from '../flow';
import { matrixValues } from '../matrix';
import { logRange, nearestIndex, timestepSplits } from '../scales';
import { formatNumber } from '../state';
import { ITERATION_DASH, legendLines, yRange } from '../training';

const AXIS_FONT = '11px system-ui';

/** What a band chart draws of one group. */
export interface BandSeries {
  /** Legend label, e.g. "GRU lr=0.01 (n=5)". */
  label: string;
  group: string;
  color: string;
  dash?: number[];
  curves: Curve[];
}

/** The JSON a chart keeps in `data-bands`. */
export interface DrawnBand {
  group: string;
  label: string;
  /** Runs in the group with a curve. */
  runs: number;
  x: number[];
  mean: (number | null)[];
  lo: (number | null)[];
  hi: (number | null)[];
  /** Runs with a value at each x. */
  n: (number | null)[];
}

function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = Number.parseInt(m[1]!, 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** The bands of several groups on one grid (the union of their curves' x, or `grid`). */
export function drawnBands(
  series: readonly BandSeries[],
  band: Band,
  logY: boolean,
  grid?: number[],
): { x: number[]; bands: DrawnBand[] } {
  const x = grid ?? unionGrid(series.flatMap((s) => s.curves));
  return {
    x,
    bands: series.map((s) => {
      const cols = bandColumns(curveBand(s.curves, x), band, logY);
      return { group: s.group, label: s.label, runs: s.curves.length, x, ...cols };
    }),
  };
}

interface BandChartOptions {
  title: string;
  /** What the band spans, for the legend of the edges and the title. */
  band: Band;
  width: number;
  height: number;
  logY: boolean;
  xLabel: string;
  /** Fixed y range (else around the data). */
  yRange?: [number, number];
  axes?: uPlot.Axis[];
  xRange?: [number, number];
  /** Dashed level lines (the baseline at 1). */
  levels?: { value: number; label: string }[];
  ariaLabel: string;
}

/** One chart of bands: per band its mean (solid, or the band's dash) and its edges with the space between filled. */
export function bandChart(
  root: HTMLElement,
  series: readonly BandSeries[],
  o: BandChartOptions,
  grid?: number[],
): uPlot {
  const { x, bands } = drawnBands(series, o.band, o.logY, grid);
  const block = h('section', { class: 'training-block band-block' });
  block.style.width = `${o.width}px`;
  block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, o.title));
  root.append(block);
  const spread = o.band === 'std' ? 'mean ± std' : 'min–max';
  const uSeries: uPlot.Series[] = [{ label: o.xLabel }];
  const data: (number | null)[][] = [x];
  const uBands: uPlot.Band[] = [];
  const levelCols: number[] = [];
  // Bands drawn later lie on top: the wider mean line of the earlier groups keeps them visible where they meet.
  bands.forEach((b, i) => {
    const s = series[i]!;
    const hi = uSeries.length;
    uSeries.push(
      {
        label: `${b.label} ${spread} (upper)`,
        stroke: withAlpha(s.color, 0.5),
        width: 0.5,
        points: { show: false },
        spanGaps: true,
      },
      {
        label: `${b.label} ${spread} (lower)`,
        stroke: withAlpha(s.color, 0.5),
        width: 0.5,
        points: { show: false },
        spanGaps: true,
      },
      {
        label: b.label,
        stroke: s.color,
        width: 2 + 1.2 * (bands.length - 1 - i),
        dash: s.dash ?? [],
        points: { show: false },
        spanGaps: true,
        value: (_u, v) => (v === null ? '—' : formatNumber(v)),
      },
    );
    data.push(b.hi, b.lo, b.mean);
    uBands.push({ series: [hi, hi + 1], fill: withAlpha(s.color, 0.16) });
  });
  for (const level of o.levels ?? []) {
    levelCols.push(uSeries.length);
    uSeries.push({
      label: level.label,
      stroke: '#555',
      width: 1.5,
      dash: [6, 4],
      points: { show: false },
    });
    data.push(x.map(() => level.value));
  }
  const range = (_u: uPlot, min: number | null, max: number | null) => yRange(min, max, o.logY);
  const chart = new uPlot(
    {
      width: o.width,
      height: o.height,
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      legend: { live: true },
      bands: uBands,
      scales: {
        x: { time: false, ...(o.xRange ? { range: o.xRange } : {}) },
        y: o.logY ? { distr: 3, log: 10, range: o.yRange ?? range } : { range: o.yRange ?? range },
      },
      axes: o.axes ?? [
        { label: o.xLabel, labelSize: 16, font: AXIS_FONT, size: xAxisSize(11, 10, 5) },
        { size: fitYAxis(AXIS_FONT, 10, 5), font: AXIS_FONT },
      ],
      series: uSeries,
    },
    data as unknown as uPlot.AlignedData,
    block,
  );
  chart.root.setAttribute('role', 'img');
  chart.root.setAttribute('aria-label', o.ariaLabel);
  chart.root.classList.add('band-chart');
  chart.root.dataset.bands = JSON.stringify(bands);
  legendLines(chart);
  // The edges stay out of the legend (the title says what the band spans); the mean names the group.
  chart.root.querySelectorAll('.u-legend .u-series').forEach((row, i) => {
    if (i > 0 && i <= bands.length * 3 && (i - 1) % 3 !== 2) row.classList.add('band-edge');
  });
  return chart;
}

/** A group's legend label: its value and its runs ("GRU lr=0.01 (n=5)"). */
export function groupLabel(g: ComparedGroup, runs: number = g.runs.length): string {
  return `${g.label} (n=${runs})`;
}

/** The loss of every group's runs over training as bands: each run's loss ÷ its baseline when `ratio`. */
export function lossBands(
  root: HTMLElement,
  groups: readonly ComparedGroup[],
  o: { band: Band; width: number; height: number; logY: boolean; ratio: boolean },
): uPlot | null {
  const series: BandSeries[] = groups.flatMap((g) => {
    const curves = g.runs.flatMap((c) =>
      c.loss
        ? [{ x: c.loss.iterations, y: o.ratio ? c.loss.values.map((v) => v / c.baseline!) : c.loss.values }]
        : [],
    );
    return curves.length
      ? [{ label: groupLabel(g, curves.length), group: g.label, color: g.color, curves }]
      : [];
  });
  if (series.length === 0) return null;
  const names = [...new Set(groups.flatMap((g) => g.runs.flatMap((c) => (c.loss ? [c.loss.name] : []))))];
  const chart = bandChart(root, series, {
    title: `${names.join(' / ')}${o.ratio ? ' ÷ baseline' : ''} over training — ${
      o.band === 'std' ? 'mean ± std' : 'mean, min–max'
    } of each group`,
    band: o.band,
    width: o.width,
    height: o.height,
    logY: o.logY,
    xLabel: 'iteration',
    levels: o.ratio ? [{ value: 1, label: 'baseline (constant predictor on the probe)' }] : [],
    ariaLabel: `loss of each group over training as a band${o.logY ? ', log scale' : ''}`,
  });
  chart.root.classList.add('loss-band-chart');
  return chart;
}

/** The memory horizon and norm(t = 0) / max over training, one band per group each. */
export function horizonBands(
  root: HTMLElement,
  groups: readonly ComparedGroup[],
  o: { band: Band; width: number; height: number },
): uPlot[] {
  const flows = (g: ComparedGroup) => g.runs.flatMap((c) => (c.flow?.iterations.length ? [c.flow] : []));
  const T = Math.max(0, ...groups.flatMap((g) => flows(g).map((f) => f.timesteps)));
  if (T === 0) {
    root.append(
      h('p', { class: 'empty horizon-empty' }, 'No memory horizon: no run has a timestep axis here.'),
    );
    return [];
  }
  const series = (field: 'horizon' | 't0Ratio'): BandSeries[] =>
    groups.flatMap((g) => {
      const curves = flows(g).map((f) => ({
        x: f.iterations,
        y: f[field].map((v) => (v === null ? Number.NaN : v)),
      }));
      return curves.length
        ? [{ label: groupLabel(g, curves.length), group: g.label, color: g.color, curves }]
        : [];
    });
  const spread = o.band === 'std' ? 'mean ± std' : 'min–max';
  const t0 = series('t0Ratio');
  let lo = 1;
  for (const s of t0)
    for (const c of s.curves)
      for (let i = 0; i < c.y.length; i++) if (c.y[i]! > 0 && c.y[i]! < lo) lo = c.y[i]!;
  const loExp = Math.max(-16, Math.min(-1, Math.floor(Math.log10(lo))));
  const step = Math.max(1, Math.ceil(-loExp / 6));
  const decades: number[] = [];
  for (let e = 0; e >= loExp; e -= step) decades.unshift(10 ** e);
  return [
    bandChart(root, series('horizon'), {
      title: `Memory horizon over training (timestep 0–${T - 1}; lower = further back), ${spread}`,
      band: o.band,
      width: o.width,
      height: o.height,
      logY: false,
      xLabel: 'iteration',
      yRange: [0, Math.max(1, T - 1)],
      ariaLabel: 'memory horizon of each group over training as a band',
    }),
    bandChart(root, t0, {
      title: `norm(t = 0) / max norm over training, ${spread}`,
      band: o.band,
      width: o.width,
      height: o.height,
      logY: true,
      xLabel: 'iteration',
      yRange: [10 ** loExp, 1],
      axes: [
        { label: 'iteration', labelSize: 16, font: AXIS_FONT, size: xAxisSize(11, 10, 5) },
        {
          size: fitYAxis(AXIS_FONT, 10, 5),
          font: AXIS_FONT,
          // Whole decades only (uPlot's log ticks crowd a short axis).
          splits: () => decades,
          filter: (_u: uPlot, splits: number[]) => splits,
          values: (_u: uPlot, splits: number[]) => splits.map((v) => `1e${Math.round(Math.log10(v))}`),
        },
      ],
      ariaLabel: 'norm at the first timestep relative to the largest, each group as a band, log scale',
    }),
  ];
}

/** A run's norms per timestep at the recorded iteration nearest `it` (null: no flow). */
export function normsAt(c: ComparedRun, it: number): { iteration: number; norms: Float32Array } | null {
  const f = c.flow;
  if (!f || f.iterations.length === 0 || f.timesteps === 0) return null;
  const row = nearestIndex(f.iterations, it);
  if (row < 0) return null;
  const all = matrixValues(f.norms);
  return {
    iteration: f.iterations[row]!,
    norms: all.subarray(row * f.timesteps, (row + 1) * f.timesteps) as Float32Array,
  };
}

/** The kind's norm against the timestep at the chosen iterations: colour = group, dash = iteration, bands. */
export function normBands(
  groups: readonly ComparedGroup[],
  chosen: readonly number[],
  o: { band: Band; width: number; kind: string; labels: FlowLabels },
): { block: HTMLElement; chart: uPlot } | null {
  const T = Math.max(0, ...groups.flatMap((g) => g.runs.map((c) => c.flow?.timesteps ?? 0)));
  if (T === 0 || chosen.length === 0) return null;
  const series: BandSeries[] = [];
  const rows: Float32Array[] = [];
  for (const g of groups)
    chosen.forEach((it, k) => {
      const curves = g.runs.flatMap((c) => {
        const at = normsAt(c, it);
        if (!at) return [];
        rows.push(at.norms);
        const x = Array.from({ length: at.norms.length }, (_, t) => t);
        return [{ x, y: Array.from(at.norms, (v) => (v > 0 ? v : Number.NaN)) }];
      });
      if (curves.length)
        series.push({
          label: `${groupLabel(g, curves.length)} @${it}`,
          group: g.label,
          color: g.color,
          dash: ITERATION_DASH[k % ITERATION_DASH.length]!,
          curves,
        });
    });
  if (series.length === 0) return null;
  const block = h('section', { class: 'training-block norm-lines' });
  block.append(
    h(
      'h3',
      { class: 'block-title', 'data-png-text': '' },
      `${o.labels.symbol} (${o.kind}) vs timestep at iterations ${chosen.join(', ')} — colour: group, dash: iteration, band: ${
        o.band === 'std' ? 'mean ± std' : 'min–max'
      } over the group's runs (each at its recorded iteration nearest)`,
    ),
  );
  const yr = logRange(rows);
  const grid = Array.from({ length: T }, (_, t) => t);
  const chart = bandChart(
    block,
    series,
    {
      title: '',
      band: o.band,
      width: o.width,
      height: 260,
      logY: true,
      xLabel: 'timestep',
      yRange: [yr.lo, yr.hi],
      xRange: [0, Math.max(1, T - 1)],
      axes: timestepLogAxes('timestep', timestepSplits(T, o.width), yr.splits),
      ariaLabel: `${o.labels.symbol} per timestep of every group, log scale`,
    },
    grid,
  );
  // bandChart's own title block is empty here: the section above carries the title.
  const inner = chart.root.parentElement;
  inner?.querySelector('h3')?.remove();
  chart.root.classList.add('norm-chart');
  return { block, chart };
}

/**
 * A group's flow map: per iteration of its first run with a flow and per timestep, the geometric mean of its runs'
 * norms (each run at its recorded iteration nearest; norms that are not finite and positive left out), as a flow
 * of its own for the page's flow maps. null when no run of the group has a flow.
 */
export function groupFlow(g: ComparedGroup): FlowResponse | null {
  const flows = g.runs.flatMap((c) => (c.flow?.iterations.length && c.flow.timesteps ? [c.flow] : []));
  const first = flows[0];
  if (!first) return null;
  const T = first.timesteps;
  const I = first.iterations.length;
  const sums = new Float64Array(I * T);
  const counts = new Uint32Array(I * T);
  for (const f of flows) {
    if (f.timesteps !== T) continue;
    const norms = matrixValues(f.norms);
    first.iterations.forEach((it, r) => {
      const row = nearestIndex(f.iterations, it);
      for (let t = 0; t < T; t++) {
        const v = norms[row * T + t]!;
        if (v > 0 && Number.isFinite(v)) {
          sums[r * T + t]! += Math.log10(v);
          counts[r * T + t]!++;
        }
      }
    });
  }
  const mean = new Float32Array(I * T);
  for (let k = 0; k < mean.length; k++) mean[k] = counts[k]! > 0 ? 10 ** (sums[k]! / counts[k]!) : Number.NaN;
  return { ...first, ids: [...first.ids], count: I, norms: encodeMatrix(mean, [I, T]) };
}
