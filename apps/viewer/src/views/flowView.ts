// Flow view: log10 of the per-timestep norm over iteration × timestep, the norm-vs-timestep lines of the compared
// iterations and, for gradients, their stored memory horizons. No tensor is read, and no horizon is computed
// here: they are the store's (flow.ts explains the one definition). The layer's verdict is not drawn here: it
// sits at the top of the run page (verdict.ts), from the one diagnosis in @gradscope/format.
import uPlot from 'uplot';
import type { FlowResponse } from '../api';
import { timestepLogAxes } from '../axes';
import { lut } from '../colormap';
import type { ViewContext } from '../context';
import { h } from '../dom';
import { colorbar, flowMapPanel, leftMarginFor } from '../draw';
import {
  flowLabels,
  formatRatio,
  HORIZON_FRACTION,
  horizonMeaning,
  type RowHorizon,
  rowThreshold,
  storedHorizons,
} from '../flow';
import { hoverReadout } from '../hover';
import { matrixValues } from '../matrix';
import { readoutNumber } from '../readout';
import {
  decadeTicks,
  iterationColor,
  logRange,
  nearestIndex,
  sharedLogNorms,
  timestepSplits,
} from '../scales';
import { formatNumber } from '../state';
import { figureTitle } from './common';

/** Room right of a flow map for the compared-iteration markers (px). */
const MARKER_GUTTER = 14;

/** A compared iteration's norms (and stored horizon) from its snapshot summary, for rows the flow left out. */
export interface FlowLine {
  norms: Float32Array;
  horizon: number | null;
  t0Ratio: number | null;
}

interface Matrix {
  /** Channel part ('' = the whole series). */
  name: string;
  /** 'forward' / 'backward' when the matrix is one direction (a channel part or the series' own part). */
  direction: string | null;
  norms: Float32Array;
  horizons: RowHorizon[];
}

function directionOf(channelPart: string, seriesPart: string | null | undefined): string | null {
  const d = channelPart || seriesPart || '';
  return d === 'forward' || d === 'backward' ? d : null;
}

function horizonLabel(hz: RowHorizon): string {
  return hz.horizon === null ? 'no horizon' : `horizon ${hz.horizon}`;
}

/**
 * The flow figure of `flow` (the series' /flow response); `extra`: norms of compared iterations the server left
 * out of its (downsampled) rows.
 */
export function renderFlow(
  root: HTMLElement,
  ctx: ViewContext,
  flow: FlowResponse,
  extra: ReadonlyMap<number, Record<string, FlowLine>> = new Map(),
): { panels: number } {
  const { state, width, seriesName, charts } = ctx;
  const { snapshots, iterations: chosen } = ctx.series;
  const kind = ctx.series.key.kind;
  const T = flow.timesteps;
  const I = flow.iterations.length;
  const labels = flowLabels(kind);
  // The title names the kind once: "lstm_1 · output-grad" → "lstm_1".
  const where = seriesName
    .split(' · ')
    .filter((x) => x !== kind)
    .join(' · ');
  root.append(figureTitle(`${labels.title} — ${where} — log10 ${labels.symbol} over iteration × timestep`));
  if (T === 0 || I === 0) {
    root.append(
      h(
        'p',
        { class: 'empty' },
        I === 0
          ? 'No iterations recorded for this series yet.'
          : 'This series has no timestep axis (returnSequences false, or a weight): the flow map needs per-timestep norms. Use the 0D view.',
      ),
    );
    return { panels: 0 };
  }

  const seriesPart = snapshots[0]?.part;
  const matrices: Matrix[] = [];
  const channelParts = snapshots.find((x) => x.channelParts?.length)?.channelParts ?? undefined;
  const parts = orderParts(Object.keys(flow.parts ?? {}), channelParts)
    .map((name) => ({
      name,
      direction: directionOf(name, null),
      norms: matrixValues(flow.parts![name]),
      horizons: storedHorizons(flow, name),
    }))
    .filter((p) => p.norms.length === I * T);
  if (state.reflect && parts.length > 1) matrices.push(...parts);
  else
    matrices.push({
      name: '',
      direction: directionOf('', seriesPart),
      norms: matrixValues(flow.norms),
      horizons: storedHorizons(flow),
    });
  const titleOf = (m: Matrix) => (m.direction ? `${m.direction} direction` : m.name ? m.name : labels.whole);

  // One log colour range for every matrix shown.
  const { logs, lo, hi } = sharedLogNorms(matrices.map((m) => m.norms));
  // Rows of the compared iterations (the nearest row when the server downsampled the iterations).
  const chosenRows = chosen.map((it) => nearestIndex(flow.iterations, it));
  // Activations are not a gradient: no memory horizon.
  const row = h('div', { class: 'compare-row' });
  const cbWidth = 90;
  // Each map's panel adds its tick margin and the marker gutter; the colorbar and the gaps share the rest.
  const left = leftMarginFor({ count: I, value: (k) => flow.iterations[k]! }, 380);
  const mapWidth = Math.max(
    200,
    Math.floor((width - cbWidth - 16 * matrices.length) / matrices.length) - left - MARKER_GUTTER,
  );
  const mapHeight = Math.round(Math.min(380, Math.max(140, I * 6)));
  const table = lut(state.flowCmap);
  matrices.forEach((m, mi) => {
    const block = h('section', { class: 'compare-block' });
    block.dataset.lastIteration = String(flow.iterations[I - 1]);
    block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, titleOf(m)));
    const canvas = flowMapPanel({
      log: logs[mi]!,
      iterations: flow.iterations,
      T,
      lo,
      hi,
      table,
      width: mapWidth,
      height: mapHeight,
      left,
      gutter: MARKER_GUTTER,
      xTitle: m.direction === 'backward' ? 'timestep (input order)' : 'timestep',
      label: `${labels.noun}${m.name ? ` (${m.name})` : ''}: log10 norm per timestep (x) and iteration (y)`,
      readout: (t, r) => [
        `iteration ${flow.iterations[r]}`,
        `timestep ${t}`,
        `norm ${readoutNumber(m.norms[r * T + t]!)}`,
        ...(labels.gradient
          ? [`${horizonLabel(m.horizons[r]!)} · norm(t=0)/max ${formatRatio(m.horizons[r]!.t0Ratio)}`]
          : []),
        ...(m.direction ? [`${m.direction} direction`] : []),
      ],
      // The compared iterations, in their colours.
      marks: chosenRows.map((row, ci) => ({ row, color: iterationColor(ci) })),
      overlay: (ctx, plot) => {
        if (!labels.gradient) return;
        const cw = plot.w / T;
        const ch = plot.h / I;
        // The stored memory horizon of every iteration: its earliest timestep at ≥ 1% of its largest norm.
        ctx.fillStyle = '#fff';
        ctx.strokeStyle = '#000';
        ctx.lineWidth = 1;
        m.horizons.forEach((hz, i) => {
          if (hz.horizon === null) return;
          const x = plot.x + (hz.horizon + 0.5) * cw;
          const y = plot.y + (i + 0.5) * ch;
          const r = Math.max(1.5, Math.min(3, ch / 2));
          ctx.beginPath();
          ctx.arc(x, y, r, 0, 2 * Math.PI);
          ctx.fill();
          ctx.stroke();
        });
      },
    });
    const note = h(
      'p',
      { class: 'axis-note', 'data-png-text': '' },
      labels.gradient
        ? `y: iteration (training goes down) · ${horizonMeaning(m.direction)}`
        : 'y: iteration (training goes down)',
    );
    // Wraps under the map instead of widening its block (blocks take their content's width).
    note.style.maxWidth = `${left + mapWidth + MARKER_GUTTER}px`;
    block.append(canvas, note);
    row.append(block);
  });
  const ticks = decadeTicks(lo, hi);
  row.append(
    // The title says which norm; the bar's own title stays short enough for its 78 px column.
    colorbar(state.flowCmap, lo, hi, ticks, 'log10 norm', mapHeight, (v) => v.toFixed(0)),
  );
  root.append(row);

  // Norm vs timestep for the compared iterations, log y, stored horizons marked. A compared iteration that the
  // server left out of the (downsampled) flow rows comes from its snapshot summary instead.
  const lineRow = (m: Matrix, it: number): FlowLine | undefined => {
    const r = flow.iterations.indexOf(it);
    if (r >= 0) return { norms: m.norms.subarray(r * T, (r + 1) * T), ...m.horizons[r]! };
    const line = extra.get(it)?.[m.name];
    return line && line.norms.length === T ? line : undefined;
  };
  const lines = chosen
    .map((it, ci) => ({ it, ci }))
    .filter(({ it }) => matrices.every((m) => lineRow(m, it)));
  if (lines.length > 0) {
    root.append(
      h(
        'h3',
        { class: 'block-title', 'data-png-text': '' },
        labels.gradient
          ? `${labels.symbol} vs timestep — dashed: memory horizon (earliest timestep ≥ ${HORIZON_FRACTION * 100}% of that iteration's largest norm); faint: that ${HORIZON_FRACTION * 100}% level`
          : `${labels.symbol} vs timestep`,
      ),
    );
    const linesRow = h('div', { class: 'compare-row' });
    const xs = new Float64Array(T);
    for (let t = 0; t < T; t++) xs[t] = t;
    const lineRows = matrices.flatMap((m) => lines.map(({ it }) => lineRow(m, it)!.norms));
    // The range covers the 1% threshold lines too: they are drawn inside the plot, never below its x axis.
    const thresholds = labels.gradient
      ? Float32Array.from(lineRows.map((norms) => rowThreshold(norms, T)))
      : new Float32Array(0);
    const yRange = logRange([...lineRows, thresholds]);
    const xSplits = timestepSplits(T, Math.max(260, Math.floor(width / matrices.length)));
    for (const m of matrices) {
      const rows = lines.map(({ it }) => lineRow(m, it)!);
      const horizonPlugin: uPlot.Plugin = {
        hooks: {
          draw: (u) => {
            if (!labels.gradient) return;
            const { ctx } = u;
            ctx.save();
            ctx.beginPath();
            ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
            ctx.clip();
            ctx.setLineDash([5, 4]);
            ctx.lineWidth = 1.5;
            rows.forEach((line, k) => {
              ctx.strokeStyle = iterationColor(lines[k]!.ci);
              // 1% of this row's largest norm: the level its horizon is measured against.
              const threshold = rowThreshold(line.norms, T);
              if (Number.isFinite(threshold) && threshold > 0) {
                const y = u.valToPos(threshold, 'y', true);
                ctx.globalAlpha = 0.5;
                ctx.beginPath();
                ctx.moveTo(u.bbox.left, y);
                ctx.lineTo(u.bbox.left + u.bbox.width, y);
                ctx.stroke();
                ctx.globalAlpha = 1;
              }
              if (line.horizon !== null) {
                const x = u.valToPos(line.horizon, 'x', true);
                ctx.beginPath();
                ctx.moveTo(x, u.bbox.top);
                ctx.lineTo(x, u.bbox.top + u.bbox.height);
                ctx.stroke();
              }
            });
            ctx.restore();
          },
        },
      };
      const block = h('section', { class: 'compare-block' });
      if (matrices.length > 1 || m.direction)
        block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, titleOf(m)));
      const chart = new uPlot(
        {
          width: Math.max(260, Math.floor((width - 16 * (matrices.length - 1)) / matrices.length)),
          height: 260,
          plugins: [
            horizonPlugin,
            hoverReadout((idx, si) => [
              `iteration ${lines[si - 1]!.it}`,
              `timestep ${idx}`,
              `norm ${readoutNumber(rows[si - 1]!.norms[idx]!)}`,
              ...(m.direction ? [`${m.direction} direction`] : []),
            ]),
          ],
          cursor: { drag: { x: true, y: false }, points: { show: false } },
          scales: {
            x: { time: false, range: [0, Math.max(1, T - 1)] },
            y: { distr: 3, range: [yRange.lo, yRange.hi] },
          },
          axes: timestepLogAxes(
            m.direction === 'backward' ? 'timestep (input order)' : 'timestep',
            xSplits,
            yRange.splits,
          ),
          series: [
            { label: 'timestep' },
            ...lines.map(({ it, ci }, k) => ({
              label: labels.gradient ? `iteration ${it} (${horizonLabel(rows[k]!)})` : `iteration ${it}`,
              stroke: iterationColor(ci),
              width: 1.5,
              points: { show: false },
              value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)),
            })),
          ],
        },
        [xs, ...rows.map((line) => line.norms)] as unknown as uPlot.AlignedData,
        block,
      );
      chart.root.setAttribute('role', 'img');
      chart.root.setAttribute(
        'aria-label',
        `${labels.gradient ? 'gradient' : 'activation'} norm per timestep${m.name ? ` (${m.name})` : ''}, log scale`,
      );
      charts.push(chart);
      linesRow.append(block);
    }
    root.append(linesRow);
  }
  return { panels: matrices.length * (lines.length > 0 ? 2 : 1) };
}

/**
 * The flow map's parts in the layer's own order (its snapshots' channelParts: forward first), unknown ones
 * after them in their given order.
 */
export function orderParts(names: readonly string[], channelParts?: readonly string[] | null): string[] {
  const order = channelParts ?? ['forward', 'backward'];
  const rank = (n: string) => {
    const i = order.indexOf(n);
    return i < 0 ? order.length : i;
  };
  return names
    .map((n, i) => ({ n, i }))
    .sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i)
    .map((x) => x.n);
}
