// Training charts shared by the run and compare pages: the loss curve (TensorBoard's smoothing, log y, the
// captured iterations marked and clickable) and the memory horizon over training (uPlot, columnar data).

import { decodeMatrix, type EncodedMatrix } from '@gradscope/format';
import { schemeTableau10 } from 'd3-scale-chromatic';
import uPlot from 'uplot';
import type { FlowResponse, ScalarsResponse } from './api';
import { fitYAxis, xAxisSize } from './axes';
import { h } from './dom';
import { smoothEma } from './smooth';
import { formatNumber } from './state';

/** Colour of the i-th compared run (runs are told apart by colour, iterations by dash). */
export function runColor(i: number): string {
  return schemeTableau10[i % schemeTableau10.length]!;
}

/** Dash of the i-th compared iteration (solid first). */
export const ITERATION_DASH: readonly number[][] = [[], [6, 4], [2, 3], [8, 3, 2, 3]];

/** Colour of a compared iteration's marker on the loss chart (the flow view's iteration colours). */
const MARK = '#888';

/** One training scalar, decoded. */
export interface Scalar {
  name: string;
  count: number;
  iterations: Float64Array;
  values: Float64Array;
  /** When each point was recorded (ms since the epoch); empty from a server that does not send them. */
  times: Float64Array;
}

export function decodeScalars(res: ScalarsResponse): Scalar[] {
  return res.series.map((s) => ({
    name: s.name,
    count: s.count,
    iterations: float64(s.iterations),
    values: float64(s.values),
    times: s.times ? float64(s.times) : new Float64Array(0),
  }));
}

function float64(m: EncodedMatrix): Float64Array {
  const a = decodeMatrix(m);
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

/** What each loss a run records is, in words (the `fit` logs' `loss`, the capture's probe loss, Keras' val_loss). */
export const LOSS_NAMES: Readonly<Record<string, string>> = {
  loss: 'training batch loss',
  'probe/loss': 'probe loss',
  val_loss: 'validation loss',
};

/** The scalar holding the constant predictor's loss on the probe (one value per run). */
export const BASELINE_SCALAR = 'probe/baseline';

/** A loss scalar's name in words ("probe loss"); other scalars keep their own name. */
export function lossName(name: string): string {
  return LOSS_NAMES[name] ?? name;
}

/**
 * The one loss to plot where only one fits (a compare curve, a sparkline): the training loss the `fit` logs
 * call 'loss', else the probe loss, else the validation loss; null when the run recorded none of them (the
 * baseline is a level, never a loss curve).
 */
export function pickLoss(series: readonly Scalar[]): Scalar | null {
  for (const name of Object.keys(LOSS_NAMES)) {
    const s = series.find((x) => x.name === name && x.iterations.length > 0);
    if (s) return s;
  }
  return null;
}

/** Every loss a run recorded, in LOSS_NAMES order (training batch, probe, validation). */
export function pickLosses(series: readonly Scalar[]): Scalar[] {
  return Object.keys(LOSS_NAMES).flatMap((name) => {
    const s = series.find((x) => x.name === name && x.iterations.length > 0);
    return s ? [s] : [];
  });
}

/**
 * A scalar's x on the chosen axis: its iterations, or when each point was recorded in seconds since the epoch
 * (uPlot's time scale); the iterations when the server sent no times.
 */
export function scalarX(s: Scalar, x: 'step' | 'time'): Float64Array {
  if (x === 'step' || s.times.length !== s.iterations.length) return s.iterations;
  return s.times.map((t) => t / 1000);
}

/** The constant predictor's probe loss (the last `probe/baseline` value), null when not recorded or not finite. */
export function pickBaseline(series: readonly Scalar[]): number | null {
  const s = series.find((x) => x.name === BASELINE_SCALAR);
  const v = s && s.values.length > 0 ? s.values[s.values.length - 1]! : Number.NaN;
  return Number.isFinite(v) ? v : null;
}

/** The baseline as a flat curve over [first, last] iteration of `curves` (drawn dashed, named in the legend). */
export function baselineCurve(curves: readonly LossCurve[], baseline: number): LossCurve | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const c of curves)
    if (c.iterations.length > 0) {
      lo = Math.min(lo, c.iterations[0]!);
      hi = Math.max(hi, c.iterations[c.iterations.length - 1]!);
    }
  if (!(hi >= lo)) return null;
  const iterations = hi > lo ? Float64Array.of(lo, hi) : Float64Array.of(lo);
  return {
    label: 'baseline (constant predictor on the probe)',
    color: BASELINE_COLOR,
    dash: [6, 4],
    iterations,
    values: iterations.map(() => baseline),
  };
}

/** The baseline line's colour. */
export const BASELINE_COLOR = '#555';

/** One curve of a loss chart (`iterations`: its x, the wall time in seconds on a time axis). */
export interface LossCurve {
  label: string;
  color: string;
  /** A dashed curve (the baseline). */
  dash?: number[];
  iterations: Float64Array;
  values: Float64Array;
}

export interface LossChartOptions {
  title: string;
  width: number;
  height: number;
  curves: LossCurve[];
  smooth: number;
  logY: boolean;
  /** x in seconds since the epoch on a date axis (the curves' `iterations` then hold times): no marks. */
  timeX?: boolean;
  /** The captured iterations, marked under the curve; `chosen` drawn in `chosenColor(i)`. */
  marks?: {
    iterations: readonly number[];
    chosen: readonly number[];
    chosenColor: (i: number) => string;
    /** A click on (or within 6 px of) a mark; `add` with Shift held. */
    onPick: (iteration: number, add: boolean) => void;
  };
}

/** For a log axis: non-positive and non-finite values are gaps. */
function forLog(values: Float64Array): (number | null)[] | Float64Array {
  let ok = true;
  for (let i = 0; i < values.length && ok; i++) ok = values[i]! > 0 && values[i]! < Number.POSITIVE_INFINITY;
  if (ok) return values;
  return Array.from(values, (v) => (v > 0 && v < Number.POSITIVE_INFINITY ? v : null));
}

/** The chart's columns: [x, raw₁, smoothed₁, raw₂, smoothed₂, …], joined on the union of iterations. */
export function lossData(curves: readonly LossCurve[], smooth: number, logY: boolean): uPlot.AlignedData {
  const tables = curves.map((c) => {
    const sm = smoothEma(c.values, smooth);
    return [
      c.iterations,
      logY ? forLog(c.values) : c.values,
      logY ? forLog(sm) : sm,
    ] as unknown as uPlot.AlignedData;
  });
  if (tables.length === 1) return tables[0]!;
  if (tables.length === 0) return [[]];
  return uPlot.join(tables);
}

const AXIS_FONT = '11px system-ui';

/** A y range around the data: padded by 5%, never below 0 for a non-negative loss; whole decades on a log axis. */
export function yRange(min: number | null, max: number | null, logY: boolean): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max))
    return logY ? [0.1, 1] : [0, 1];
  if (logY) {
    const a = 10 ** Math.floor(Math.log10(min));
    const b = 10 ** Math.ceil(Math.log10(max));
    return [a, b > a ? b : a * 10];
  }
  const pad = (max - min) * 0.05 || Math.abs(max) * 0.05 || 1;
  return [min >= 0 ? Math.max(0, min - pad) : min - pad, max + pad];
}

/**
 * A loss chart: every curve raw (faint) and smoothed, x = iteration. Returns the chart and a way to change the
 * smoothing in place (the slider moves without a re-render).
 */
export function lossChart(
  root: HTMLElement,
  o: LossChartOptions,
): { chart: uPlot; setSmoothing(weight: number): void; setCurves(curves: LossCurve[]): void } {
  const range = (_u: uPlot, min: number | null, max: number | null) => yRange(min, max, o.logY);
  const marks = o.timeX ? undefined : o.marks;
  const positions: [number, number][] = [];
  const markPlugin: uPlot.Plugin = {
    hooks: {
      draw: (u) => {
        if (!marks) return;
        const { ctx } = u;
        const dpr = uPlot.pxRatio;
        const [xMin, xMax] = [u.scales.x!.min ?? 0, u.scales.x!.max ?? 0];
        const bottom = u.bbox.top + u.bbox.height;
        positions.length = 0;
        ctx.save();
        const chosen = new Map(marks.chosen.map((it, i) => [it, i]));
        for (const it of marks.iterations) {
          if (it < xMin || it > xMax) continue;
          const x = u.valToPos(it, 'x', true);
          positions.push([it, Math.round(u.valToPos(it, 'x', false))]);
          const ci = chosen.get(it);
          if (ci !== undefined) {
            ctx.strokeStyle = marks.chosenColor(ci);
            ctx.globalAlpha = 0.7;
            ctx.lineWidth = 1.5 * dpr;
            ctx.setLineDash([4 * dpr, 3 * dpr]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, bottom);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.globalAlpha = 1;
          }
          const size = (ci === undefined ? 4 : 6) * dpr;
          ctx.fillStyle = ci === undefined ? MARK : marks.chosenColor(ci);
          ctx.beginPath();
          ctx.moveTo(x, bottom - size * 1.6);
          ctx.lineTo(x - size, bottom);
          ctx.lineTo(x + size, bottom);
          ctx.closePath();
          ctx.fill();
        }
        ctx.restore();
        // Where the marks are (CSS px in the plot area), for tests and the click handler.
        u.root.dataset.marks = JSON.stringify(positions);
      },
    },
  };
  const series: uPlot.Series[] = [{ label: o.timeX ? 'time' : 'iteration' }];
  for (const c of o.curves) {
    series.push(
      {
        label: `${c.label} (raw)`,
        stroke: withAlpha(c.color, 0.28),
        width: 1,
        points: { show: false },
        spanGaps: true,
        value: (_u, v) => (v === null ? '—' : formatNumber(v)),
      },
      {
        label: c.label,
        stroke: c.color,
        width: 2,
        ...(c.dash ? { dash: c.dash } : {}),
        points: { show: false },
        spanGaps: true,
        value: (_u, v) => (v === null ? '—' : formatNumber(v)),
      },
    );
  }
  const block = h('section', { class: 'training-block' });
  // As wide as the chart: a long title wraps instead of widening the row.
  block.style.width = `${o.width}px`;
  block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, o.title));
  root.append(block);
  const chart = new uPlot(
    {
      width: o.width,
      height: o.height,
      plugins: [markPlugin],
      hooks: {
        // Showing or hiding a run in the legend shows or hides its raw curve too.
        setSeries: [
          (u, idx, opts) => {
            if (idx !== null && idx > 0 && idx % 2 === 0 && opts.show !== undefined)
              u.setSeries(idx - 1, { show: opts.show });
          },
        ],
      },
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      legend: { live: true },
      scales: {
        x: { time: o.timeX === true },
        y: o.logY ? { distr: 3, log: 10, range } : { range },
      },
      axes: [
        {
          label: o.timeX ? 'wall time' : 'iteration',
          labelSize: 16,
          font: AXIS_FONT,
          size: xAxisSize(11, 10, 5),
        },
        { size: fitYAxis(AXIS_FONT, 10, 5), font: AXIS_FONT },
      ],
      series,
    },
    lossData(o.curves, o.smooth, o.logY),
    block,
  );
  chart.root.setAttribute('role', 'img');
  chart.root.setAttribute('aria-label', `${o.title}${o.logY ? ', log scale' : ''}`);
  chart.root.classList.add('loss-chart');
  legendLines(chart);
  // The raw curves stay out of the legend (their smoothed curve names the run); legend rows follow series order.
  chart.root.querySelectorAll('.u-legend .u-series').forEach((row, i) => {
    if (i > 0 && i % 2 === 1) row.classList.add('raw-series');
  });
  if (marks) {
    chart.over.classList.add('pickable');
    chart.over.title = 'click a ▲ (a captured iteration) to show it; Shift+click to add it';
    chart.over.addEventListener('click', (e) => {
      const x = e.clientX - chart.over.getBoundingClientRect().left;
      let best: number | null = null;
      let dist = 7;
      for (const [it, px] of positions) {
        const d = Math.abs(px - x);
        if (d < dist) {
          dist = d;
          best = it;
        }
      }
      if (best !== null) marks.onPick(best, e.shiftKey);
    });
  }
  let curves = o.curves;
  let weight = o.smooth;
  return {
    chart,
    setSmoothing(w: number) {
      weight = w;
      chart.setData(lossData(curves, weight, o.logY), false);
      chart.redraw(false, true);
    },
    /** New points of the same curves (a live run): the x range follows them. */
    setCurves(next: LossCurve[]) {
      if (next.length !== curves.length) return;
      curves = next;
      chart.setData(lossData(curves, weight, o.logY), true);
    },
  };
}

const SVG = 'http://www.w3.org/2000/svg';

/**
 * uPlot's legend shows every series as a plain square: each marker becomes a short line in the series' colour,
 * width and dash, so that a legend encodes what a title claims ("dash: iteration"). `data-dash` holds the dash.
 */
export function legendLines(chart: uPlot): void {
  const rows = chart.root.querySelectorAll('.u-legend .u-series');
  chart.series.forEach((s, i) => {
    const marker = i === 0 ? null : rows[i]?.querySelector<HTMLElement>('.u-marker');
    if (!marker) return;
    const stroke = typeof s.stroke === 'function' ? s.stroke(chart, i) : s.stroke;
    const dash = s.dash ?? [];
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('width', '26');
    svg.setAttribute('height', '10');
    svg.setAttribute('aria-hidden', 'true');
    const line = document.createElementNS(SVG, 'line');
    for (const [k, v] of [
      ['x1', '1'],
      ['x2', '25'],
      ['y1', '5'],
      ['y2', '5'],
      ['stroke', String(stroke ?? '#000')],
      ['stroke-width', String(Math.max(1.5, Math.min(4, s.width ?? 2)))],
      ['stroke-dasharray', dash.length ? dash.join(' ') : 'none'],
    ] as const)
      line.setAttribute(k, v);
    svg.append(line);
    marker.replaceChildren(svg);
    // uPlot styles the square inline.
    marker.style.border = 'none';
    marker.style.background = 'none';
    marker.classList.add('line-marker');
    marker.dataset.dash = dash.join(',');
  });
}

/** `#rrggbb` with an alpha. */
function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = Number.parseInt(m[1]!, 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** The part to draw of a kind: the whole output when it is recorded, else the first part (a direction). */
export function wholePart(parts: readonly (string | null)[]): string | null {
  return parts.includes(null) ? null : (parts[0] ?? null);
}

/** Widths of the loss chart and of each of the two horizon charts beside it, to fit one row of `width` px. */
export function trainingWidths(width: number): { loss: number; side: number } {
  const loss = Math.max(320, Math.floor(width * 0.48));
  // Two gaps of 16 px in the row and one inside the pair, and some slack for rounding and scrollbars.
  const side = Math.max(240, Math.floor((width - loss - 3 * 16 - 12) / 2));
  return { loss, side };
}

/** One line of a horizon chart: a run's (or a layer and kind's) horizon rows from its flow matrix. */
export interface HorizonCurve {
  label: string;
  color: string;
  dash?: number[];
  flow: Pick<FlowResponse, 'iterations' | 'horizon' | 't0Ratio' | 'timesteps'>;
}

/**
 * The memory horizon over training: the stored horizon (earliest timestep whose norm is ≥ 1% of the largest:
 * lower = the gradient reaches further back) and norm(t = 0) / max (log) per captured iteration, one chart each.
 * Gradients only (callers leave activations out: a horizon of `output` is no memory horizon). `empty`: what the
 * slot says when no curve has a timestep axis.
 */
export function horizonCharts(
  root: HTMLElement,
  curves: readonly HorizonCurve[],
  width: number,
  height: number,
  empty = 'No memory horizon: the shown series have no timestep axis (or no snapshot yet).',
): uPlot[] {
  const usable = curves.filter((c) => c.flow.timesteps > 0 && c.flow.iterations.length > 0);
  if (usable.length === 0) {
    root.append(h('p', { class: 'empty horizon-empty' }, empty));
    return [];
  }
  const T = Math.max(...usable.map((c) => c.flow.timesteps));
  const table = (c: HorizonCurve, field: 'horizon' | 't0Ratio') =>
    [
      Float64Array.from(c.flow.iterations),
      c.flow[field].map((v) => (v === null || (field === 't0Ratio' && !(v > 0)) ? null : v)),
    ] as unknown as uPlot.AlignedData;
  const join = (field: 'horizon' | 't0Ratio') =>
    usable.length === 1 ? table(usable[0]!, field) : uPlot.join(usable.map((c) => table(c, field)));
  const lines = (): uPlot.Series[] => [
    { label: 'iteration' },
    // Series lying on one another stay visible: each is drawn wider than the ones drawn after it.
    ...usable.map((c, i) => ({
      label: c.label,
      stroke: c.color,
      width: 2 + 2 * (usable.length - 1 - i),
      dash: c.dash ?? [],
      spanGaps: true,
      points: { show: true, size: 5 + 3 * (usable.length - 1 - i), fill: c.color },
      value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)),
    })),
  ];
  let lo = 1;
  for (const c of usable) for (const v of c.flow.t0Ratio) if (v !== null && v > 0 && v < lo) lo = v;
  const loExp = Math.max(-16, Math.min(-1, Math.floor(Math.log10(lo))));
  const step = Math.max(1, Math.ceil(-loExp / 6));
  const decades: number[] = [];
  for (let e = 0; e >= loExp; e -= step) decades.unshift(10 ** e);
  const charts: uPlot[] = [];
  const specs = [
    {
      title: `Memory horizon over training (timestep 0–${T - 1}; lower = further back)`,
      help: 'the earliest timestep whose gradient norm is at least 1% of the largest one (computed by the store)',
      field: 'horizon' as const,
      y: { range: [0, Math.max(1, T - 1)] as uPlot.Range.MinMax },
      label: 'memory horizon over training',
    },
    {
      title: 'norm(t = 0) / max norm over training',
      help: 'the gradient norm at the first timestep relative to the largest per-timestep norm, log scale',
      field: 't0Ratio' as const,
      y: {
        distr: 3 as const,
        log: 10 as const,
        range: [10 ** loExp, 1] as uPlot.Range.MinMax,
      },
      label: 'norm at the first timestep relative to the largest, over training, log scale',
    },
  ];
  for (const spec of specs) {
    const block = h('section', { class: 'training-block' });
    block.style.width = `${width}px`;
    block.append(h('h3', { class: 'block-title', 'data-png-text': '', title: spec.help }, spec.title));
    root.append(block);
    const chart = new uPlot(
      {
        width,
        height,
        cursor: { drag: { x: true, y: false }, points: { show: true } },
        scales: { x: { time: false }, y: spec.y },
        axes: [
          { label: 'iteration', labelSize: 16, font: AXIS_FONT, size: xAxisSize(11, 10, 5) },
          {
            size: fitYAxis(AXIS_FONT, 10, 5),
            font: AXIS_FONT,
            // Whole decades only (uPlot's log ticks crowd a short axis).
            ...(spec.field === 't0Ratio'
              ? {
                  splits: () => decades,
                  filter: (_u: uPlot, splits: number[]) => splits,
                  values: (_u: uPlot, splits: number[]) =>
                    splits.map((v) => `1e${Math.round(Math.log10(v))}`),
                }
              : {}),
          },
        ],
        series: lines(),
      },
      join(spec.field),
      block,
    );
    chart.root.setAttribute('role', 'img');
    chart.root.setAttribute('aria-label', spec.label);
    chart.root.classList.add(spec.field === 'horizon' ? 'horizon-chart' : 't0-chart');
    legendLines(chart);
    charts.push(chart);
  }
  return charts;
}
