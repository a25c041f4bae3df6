// The distribution of a series' values over training as percentile bands (TensorBoard's distributions view):
// from the /histograms route, no tensor is read.
import uPlot from 'uplot';
import type { HistogramsResponse } from '../api';
import type { ViewContext } from '../context';
import { h } from '../dom';
import { matrixValues } from '../matrix';
import { iterationColor } from '../scales';
import { formatNumber } from '../state';
import { figureTitle } from './common';
import { renderHistograms } from './histograms';

/**
 * Percentile columns of the /histograms response: `values` is iterations × P (iteration-major); the result has
 * one Float32Array per percentile, over the iterations.
 */
export function percentileColumns(response: HistogramsResponse): Float32Array[] {
  const P = response.percentiles.p.length;
  const I = response.iterations.length;
  const values = matrixValues(response.percentiles.values);
  return Array.from({ length: P }, (_, p) => {
    const col = new Float32Array(I);
    for (let i = 0; i < I; i++) col[i] = values[i * P + p]!;
    return col;
  });
}

/**
 * Band pairs (1-based uPlot series indices) from the outermost percentiles inward: [P, 1], [P-1, 2], …, each
 * filled a little darker, as TensorBoard shades 0–100, 7–93, 16–84 and 31–69 around the median.
 */
export function bandPairs(P: number): [number, number][] {
  const out: [number, number][] = [];
  for (let lo = 1, hi = P; lo < hi; lo++, hi--) out.push([hi, lo]);
  return out;
}

export function renderDistribution(
  root: HTMLElement,
  ctx: ViewContext,
  response: HistogramsResponse,
): number {
  const { state, width, seriesName, charts } = ctx;
  const chosen = ctx.series.iterations;
  const I = response.iterations.length;
  if (state.hist !== 'bands') {
    root.append(
      figureTitle(
        `Histograms over iterations (${state.hist}) — ${seriesName} — ${I} iteration${I === 1 ? '' : 's'}`,
      ),
    );
    if (I === 0) {
      root.append(h('p', { class: 'empty' }, 'No iterations recorded for this series yet.'));
      return 0;
    }
    const { panels } = renderHistograms(root, response, chosen, state.hist, width);
    root.append(
      h(
        'p',
        { class: 'axis-note', 'data-png-text': '' },
        `${state.hist === 'offset' ? 'one histogram per iteration, training going down' : 'every iteration on one axis, older ones lighter'} · coloured: compared iterations ${chosen.join(', ')} · counts per bucket (buckets double in |value|)`,
      ),
    );
    return panels;
  }
  root.append(
    figureTitle(
      `Distribution over iterations — ${seriesName} — percentiles ${response.percentiles.p.join(', ')}`,
    ),
  );
  if (I === 0) {
    root.append(h('p', { class: 'empty' }, 'No iterations recorded for this series yet.'));
    return 0;
  }
  const P = response.percentiles.p.length;
  const columns = percentileColumns(response);
  const xs = Float64Array.from(response.iterations);
  const median = Math.floor(P / 2);
  const pairs = bandPairs(P);
  const markers: uPlot.Plugin = {
    hooks: {
      draw: (u) => {
        const { ctx } = u;
        ctx.save();
        ctx.lineWidth = 1.5;
        ctx.setLineDash([4, 3]);
        chosen.forEach((it, ci) => {
          const x = u.valToPos(it, 'x', true);
          ctx.strokeStyle = iterationColor(ci);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
        });
        ctx.restore();
      },
    },
  };
  const asinh = state.asinh ? asinhScale(columns) : null;
  const block = h('section', { class: 'compare-block' });
  const chart = new uPlot(
    {
      width: Math.max(320, width - 8),
      height: 380,
      plugins: [markers],
      scales: {
        x: { time: false },
        y: asinh ? { distr: 100, fwd: asinh.fwd, bwd: asinh.bwd, range: [-asinh.max, asinh.max] } : {},
      },
      axes: [
        { label: 'iteration', labelSize: 16, font: '11px system-ui' },
        {
          size: 64,
          font: '11px system-ui',
          ...(asinh ? { splits: () => asinh.splits, filter: (_u: uPlot, s: number[]) => s } : {}),
          values: (_u, splits) => splits.map((v) => (v === null ? '' : formatNumber(v))),
        },
      ],
      bands: pairs.map(([hi, lo], i) => ({
        series: [hi, lo] as [number, number],
        fill: `rgba(255, 112, 67, ${0.14 + 0.1 * i})`,
      })),
      series: [
        { label: 'iteration' },
        ...response.percentiles.p.map((p, i) => ({
          label: i === median ? `p${p} (median)` : `p${p}`,
          stroke: i === median ? '#b23c17' : 'rgba(178, 60, 23, 0.35)',
          width: i === median ? 2 : 1,
          points: { show: I < 40 && i === median },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)),
        })),
      ],
    },
    [xs, ...columns] as unknown as uPlot.AlignedData,
    block,
  );
  chart.root.setAttribute('role', 'img');
  chart.root.setAttribute('aria-label', `distribution of ${seriesName} over ${I} iterations`);
  charts.push(chart);
  root.append(block);
  root.append(
    h(
      'p',
      { class: 'axis-note' },
      `bands: p0–p100, p7–p93, p16–p84, p31–p69 around the median · dashed: compared iterations · y ${
        state.asinh ? 'arcsinh (linear near zero, logarithmic beyond)' : 'linear'
      }`,
    ),
  );
  return 1;
}

/**
 * An arcsinh y scale (linear within ±k, logarithmic beyond), k = 1/1000 of the largest |percentile| so that three
 * decades read as logarithmic; ticks at 0 and ±powers of ten. Built here rather than with uPlot's distr 4, whose
 * tick generation fails on ranges this small.
 */
export function asinhScale(columns: readonly Float32Array[]): {
  fwd: (v: number) => number;
  bwd: (v: number) => number;
  max: number;
  splits: number[];
} {
  let m = 0;
  for (const col of columns)
    for (let i = 0; i < col.length; i++) if (Number.isFinite(col[i]!)) m = Math.max(m, Math.abs(col[i]!));
  if (!(m > 0)) m = 1;
  const k = m * 1e-3;
  const top = Math.floor(Math.log10(m));
  const step = Math.max(1, Math.ceil((top - Math.ceil(Math.log10(k)) + 1) / 4));
  const splits = [0];
  for (let e = top; e >= Math.ceil(Math.log10(k)); e -= step) splits.push(10 ** e, -(10 ** e));
  splits.sort((a, b) => a - b);
  return { fwd: (v) => Math.asinh(v / k), bwd: (v) => Math.sinh(v) * k, max: m * 1.05, splits };
}
