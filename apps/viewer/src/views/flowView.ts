// Gradient flow: log10 of the per-timestep gradient norm over iteration × timestep, the norm-vs-timestep lines of
// the compared iterations with their memory horizons, and a vanishing/exploding badge. No tensor is read.
import { schemeDark2 } from 'd3-scale-chromatic';
import uPlot from 'uplot';
import type { FlowResponse, SnapshotInfo } from '../api';
import { lut } from '../colormap';
import { h } from '../dom';
import { colorbar, heatmapPanel, imageCanvas } from '../draw';
import { diagnoseFlow, type FlowDiagnosis, HORIZON_FRACTION, logNorms, memoryHorizon } from '../flow';
import { fillSequential } from '../heatmap';
import { integerTicks } from '../layout';
import { matrixValues } from '../matrix';
import { formatNumber, type ViewState } from '../state';
import { figureTitle } from './common';

/** Most decades a log scale spans: below that, norms have vanished (and uPlot's log ticks would explode). */
export const MAX_DECADES = 16;

/** Colour of the i-th compared iteration, the same in every figure that marks them. */
export function iterationColor(i: number): string {
  return schemeDark2[i % schemeDark2.length]!;
}

export function badge(d: FlowDiagnosis, name: string): HTMLElement {
  const label = d.status === 'healthy' ? 'gradient flows' : d.status;
  return h(
    'div',
    { class: `diagnosis diagnosis-${d.status}`, role: 'status' },
    h('span', { class: `badge badge-${d.status}`, 'data-png-text': '' }, name ? `${name}: ${label}` : label),
    h('span', { class: 'diagnosis-text', 'data-png-text': '' }, d.reasons.join(' · ')),
  );
}

interface Matrix {
  name: string;
  norms: Float32Array;
}

export function renderFlow(
  root: HTMLElement,
  flow: FlowResponse,
  snapshots: readonly SnapshotInfo[],
  chosen: readonly number[],
  state: ViewState,
  width: number,
  seriesName: string,
  charts: uPlot[],
  extra: ReadonlyMap<number, Record<string, Float32Array>> = new Map(),
): { panels: number; diagnoses: FlowDiagnosis[] } {
  const T = flow.timesteps;
  const I = flow.iterations.length;
  root.append(figureTitle(`Gradient flow — ${seriesName} — log10 ‖g_t‖ over iteration × timestep`));
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
    return { panels: 0, diagnoses: [] };
  }
  const nonFiniteByIteration = new Map<number, number>();
  for (const s of snapshots)
    nonFiniteByIteration.set(s.iteration, (nonFiniteByIteration.get(s.iteration) ?? 0) + s.nonFinite);
  const nonFinite = flow.iterations.map((it) => nonFiniteByIteration.get(it) ?? 0);

  const matrices: Matrix[] = [];
  const parts = Object.entries(flow.parts ?? {})
    .map(([name, m]) => ({ name, norms: matrixValues(m) }))
    .filter((p) => p.norms.length === I * T);
  if (state.reflect && parts.length > 1) matrices.push(...parts);
  else matrices.push({ name: '', norms: matrixValues(flow.norms) });

  // One log colour range for every matrix shown.
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const logs = matrices.map((m) => {
    const l = logNorms(m.norms);
    lo = Math.min(lo, l.lo);
    hi = Math.max(hi, l.hi);
    return l.values;
  });
  // Norms that vanished to float32's smallest values would stretch the colours over 40 decades.
  lo = Math.max(lo, hi - MAX_DECADES);
  if (hi === lo) hi = lo + 1;
  // Rows of the compared iterations (the nearest row when the server downsampled the iterations).
  const chosenRows = chosen.map((it) => nearestIndex(flow.iterations, it));
  const diagnoses: FlowDiagnosis[] = [];
  const badges = h('div', { class: 'diagnoses' });
  root.append(badges);
  const row = h('div', { class: 'compare-row' });
  const cbWidth = 90;
  // Each map's panel adds 50 px of tick margins; the colorbar and the gaps share the rest of the row.
  const mapWidth = Math.max(200, Math.floor((width - cbWidth - 16 * matrices.length) / matrices.length) - 50);
  const mapHeight = Math.round(Math.min(380, Math.max(140, I * 6)));
  const table = lut(state.flowCmap);
  matrices.forEach((m, mi) => {
    const d = diagnoseFlow(flow.iterations, T, m.norms, nonFinite);
    diagnoses.push(d);
    badges.append(badge(d, m.name));
    const block = h('section', { class: 'compare-block' });
    block.append(
      h(
        'h3',
        { class: 'block-title', 'data-png-text': '' },
        m.name ? `${m.name} direction` : 'whole layer output',
      ),
    );
    const canvas = heatmapPanel({
      image: imageCanvas(T, I, (out) => fillSequential(out, logs[mi]!, T, I, lo, hi, table)),
      width: mapWidth,
      height: mapHeight,
      x: { count: T, title: 'timestep' },
      y: {
        count: I,
        value: (k) => flow.iterations[k]!,
        at: integerTicks(I, Math.max(2, Math.floor(mapHeight / 24))),
      },
      ticks: true,
      border: true,
      label: `gradient flow${m.name ? ` (${m.name})` : ''}: log10 norm per timestep (x) and iteration (y)`,
      overlay: (ctx, plot) => {
        const cw = plot.w / T;
        const ch = plot.h / I;
        // The memory horizon of every iteration: where the norm first falls below 1% of the last timestep's.
        ctx.fillStyle = '#fff';
        ctx.strokeStyle = '#000';
        ctx.lineWidth = 1;
        d.horizons.forEach((hz, i) => {
          if (hz.timestep === null) return;
          const x = plot.x + (hz.timestep + 0.5) * cw;
          const y = plot.y + (i + 0.5) * ch;
          const r = Math.max(1.5, Math.min(3, ch / 2));
          ctx.beginPath();
          ctx.arc(x, y, r, 0, 2 * Math.PI);
          ctx.fill();
          ctx.stroke();
        });
        chosenRows.forEach((rowIndex, ci) => {
          ctx.fillStyle = iterationColor(ci);
          const y = plot.y + rowIndex * ch;
          ctx.fillRect(plot.x, y, 8, Math.max(2, ch));
          ctx.fillRect(plot.x + plot.w - 8, y, 8, Math.max(2, ch));
        });
      },
    });
    block.append(
      canvas,
      h('p', { class: 'axis-note' }, 'y: iteration (training goes down) · ○ memory horizon'),
    );
    row.append(block);
  });
  const ticks = integerTicks(Math.floor(hi) - Math.ceil(lo) + 1, 6).map((k) => Math.ceil(lo) + k);
  row.append(colorbar(state.flowCmap, lo, hi, ticks, 'log10 ‖g_t‖', mapHeight, (v) => v.toFixed(0)));
  root.append(row);

  // Norm vs timestep for the compared iterations, log y, horizons marked. A compared iteration that the server
  // left out of the (downsampled) flow rows comes from its snapshot summary instead.
  const lineRow = (m: Matrix, it: number): Float32Array | undefined => {
    const r = flow.iterations.indexOf(it);
    if (r >= 0) return m.norms.subarray(r * T, (r + 1) * T);
    const norms = extra.get(it)?.[m.name];
    return norms && norms.length === T ? norms : undefined;
  };
  const lines = chosen
    .map((it, ci) => ({ it, ci }))
    .filter(({ it }) => matrices.every((m) => lineRow(m, it)));
  if (lines.length > 0) {
    root.append(
      h(
        'h3',
        { class: 'block-title', 'data-png-text': '' },
        `‖g_t‖ vs timestep — dashed: memory horizon (norm < ${HORIZON_FRACTION * 100}% of the last timestep's)`,
      ),
    );
    const linesRow = h('div', { class: 'compare-row' });
    const xs = new Float64Array(T);
    for (let t = 0; t < T; t++) xs[t] = t;
    const yRange = logRange(matrices.flatMap((m) => lines.map(({ it }) => lineRow(m, it)!)));
    for (const m of matrices) {
      const rows = lines.map(({ it }) => lineRow(m, it)!);
      const horizons = rows.map((row) => memoryHorizon(row, T));
      const horizonPlugin: uPlot.Plugin = {
        hooks: {
          draw: (u) => {
            const { ctx } = u;
            ctx.save();
            ctx.setLineDash([5, 4]);
            ctx.lineWidth = 1.5;
            horizons.forEach((hz, k) => {
              ctx.strokeStyle = iterationColor(lines[k]!.ci);
              if (Number.isFinite(hz.threshold) && hz.threshold > 0) {
                const y = u.valToPos(hz.threshold, 'y', true);
                ctx.globalAlpha = 0.5;
                ctx.beginPath();
                ctx.moveTo(u.bbox.left, y);
                ctx.lineTo(u.bbox.left + u.bbox.width, y);
                ctx.stroke();
                ctx.globalAlpha = 1;
              }
              if (hz.timestep !== null) {
                const x = u.valToPos(hz.timestep, 'x', true);
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
      if (m.name) block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, `${m.name} direction`));
      const chart = new uPlot(
        {
          width: Math.max(260, Math.floor((width - 16 * (matrices.length - 1)) / matrices.length)),
          height: 260,
          plugins: [horizonPlugin],
          cursor: { drag: { x: true, y: false } },
          scales: { x: { time: false }, y: { distr: 3, range: [yRange.lo, yRange.hi] } },
          axes: [
            { label: 'timestep', labelSize: 16, font: '11px system-ui' },
            {
              size: 56,
              font: '11px system-ui',
              splits: () => yRange.splits,
              // Keep every decade we chose (uPlot thins log ticks by default).
              filter: (_u, splits) => splits,
              values: (_u, splits) => splits.map((v) => (v > 0 ? `1e${Math.round(Math.log10(v))}` : '')),
            },
          ],
          series: [
            { label: 'timestep' },
            ...lines.map(({ it, ci }, k) => {
              const hz = horizons[k]!;
              const horizon =
                hz.lag !== null ? `horizon ${hz.lag}` : hz.reachesStart ? `horizon ≥ ${T}` : 'no horizon';
              return {
                label: `iteration ${it} (${horizon})`,
                stroke: iterationColor(ci),
                width: 1.5,
                points: { show: false },
                value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)),
              };
            }),
          ],
        },
        [xs, ...rows] as unknown as uPlot.AlignedData,
        block,
      );
      chart.root.setAttribute('role', 'img');
      chart.root.setAttribute(
        'aria-label',
        `gradient norm per timestep${m.name ? ` (${m.name})` : ''}, log scale`,
      );
      charts.push(chart);
      linesRow.append(block);
    }
    root.append(linesRow);
  }
  return { panels: matrices.length * (lines.length > 0 ? 2 : 1), diagnoses };
}

/**
 * A log y range over whole decades covering the positive finite values (at most MAX_DECADES below the largest)
 * and its tick values, at most 8 of them.
 */
export function logRange(rows: readonly Float32Array[]): { lo: number; hi: number; splits: number[] } {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const row of rows)
    for (let i = 0; i < row.length; i++) {
      const v = row[i]!;
      if (v > 0 && v < Number.POSITIVE_INFINITY) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  if (!(max > 0)) return { lo: 1e-3, hi: 1, splits: [1e-3, 1e-2, 1e-1, 1] };
  const top = Math.ceil(Math.log10(max));
  const bottom = Math.max(Math.floor(Math.log10(min)), top - MAX_DECADES);
  const lo = bottom < top ? bottom : top - 1;
  const step = Math.max(1, Math.ceil((top - lo) / 8));
  const splits: number[] = [];
  for (let e = top; e >= lo; e -= step) splits.unshift(10 ** e);
  return { lo: 10 ** lo, hi: 10 ** top, splits };
}

/** Index of the value in an ascending list nearest to `v` (-1 for an empty list). */
export function nearestIndex(sorted: readonly number[], v: number): number {
  let best = -1;
  let dist = Number.POSITIVE_INFINITY;
  for (let i = 0; i < sorted.length; i++) {
    const d = Math.abs(sorted[i]! - v);
    if (d < dist) {
      dist = d;
      best = i;
    }
  }
  return best;
}
