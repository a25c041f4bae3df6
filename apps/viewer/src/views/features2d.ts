// See RNN's show_features_2D: channels × timesteps heatmaps, one per sample, for 1–4 iterations side by side on
// one symmetric diverging colour scale.
import { lut } from '../colormap';
import { h } from '../dom';
import { colorbar, heatmapPanel, imageCanvas } from '../draw';
import { fillDiverging, type HeatmapSpec, heatmapSize, splitHalves } from '../heatmap';
import { autoRows, gridLayout, heatmapHeight, integerTicks, panelWidth } from '../layout';
import { formatNorm, formatNumber } from '../state';
import { type Cube, maxAbs, quantileAbs } from '../tensor';
import { type Compared, cap, comparedCubes, type FigureContext, figureTitle, sampleList } from './common';

/** Gap between compared blocks, and between small multiples (px; the stylesheet uses the same). */
const BLOCK_GAP = 16;
const GAP = 8;
const COLORBAR_WIDTH = 78;

/** The symmetric norm a of (-a, a): manual, or from the values shown (shared across the compared iterations). */
export function resolveNorm(
  norm: 'auto' | 'p99' | number,
  cubes: readonly Cube[],
): { a: number; auto: boolean } {
  if (typeof norm === 'number') return { a: norm, auto: false };
  const arrays = cubes.map((c) => c.data);
  const a = norm === 'p99' ? quantileAbs(arrays, 0.99) : maxAbs(arrays);
  return { a: a > 0 ? a : 1e-12, auto: true };
}

export function render2D(root: HTMLElement, items: Compared[], fc: FigureContext): number {
  const { state } = fc;
  const { cubes, diffNote } = comparedCubes(items, state.diff);
  const { a } = resolveNorm(state.norm, cubes);
  const first = cubes[0]!;
  const rowsOnX = state.timeAxis === 'x' || !first.timeRows;
  const rowCount = Math.min(first.rows, state.maxT ?? first.rows);
  const halves = splitHalves(first.cols, fc.channelParts, state.reflect);
  const samples = sampleList(first.samples, state.sample);
  const table = lut(state.cmap);
  const rowName = first.axes[1];
  const colName = first.axes[2];
  const order = rowsOnX
    ? `(${cap(colName)}s vs. ${cap(rowName)}s)`
    : `(${cap(rowName)}s vs. ${cap(colName)}s)`;
  const context = samples.length > 1 ? `(${order} vs. Samples)` : order;
  root.append(
    figureTitle(`${context} — ${fc.seriesName} — ${formatNorm(a)}${state.norm === 'auto' ? ' (auto)' : ''}`),
  );
  if (diffNote) root.append(h('p', { class: 'note' }, diffNote));

  const k = cubes.length;
  const blockWidth = Math.floor(
    (fc.width - (state.colorbar ? COLORBAR_WIDTH + BLOCK_GAP : 0) - BLOCK_GAP * (k - 1)) / k,
  );
  const grid = gridLayout(samples.length, state.rows ?? autoRows(samples.length, 1));
  const left = tickMargin(halves[0]!.colTo - halves[0]!.colFrom, rowCount, rowsOnX);
  // Horizontal space of a panel besides its image (see heatmapPanel's margins).
  const margin = state.ticks ? left + 10 : 6;
  const cellWidth = panelWidth(blockWidth, grid.cols, GAP, 48);
  const areaWidth = Math.max(24, cellWidth - margin);
  let panels = 0;
  let tallest = 0;
  const row = h('div', { class: 'compare-row' });
  cubes.forEach((cube, i) => {
    const block = h('section', { class: 'compare-block' });
    block.style.width = `${blockWidth}px`;
    block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, items[i]!.label));
    const gridEl = h('div', { class: 'multiples' });
    gridEl.style.gridTemplateColumns = `repeat(${grid.cols}, ${cellWidth}px)`;
    for (const s of samples) {
      const cell = h('figure', { class: 'cell' });
      const halvesEl = h('div', { class: rowsOnX ? 'halves stacked' : 'halves side' });
      for (const half of halves) {
        const spec: HeatmapSpec = {
          cube,
          sample: s,
          colFrom: half.colFrom,
          colTo: half.colTo,
          reversed: half.reversed,
          rowCount,
          rowsOnX,
        };
        const size = heatmapSize(spec);
        // Side by side (timesteps on y), each half has its own tick margin.
        const w =
          rowsOnX || halves.length === 1
            ? areaWidth
            : Math.max(12, Math.floor((cellWidth - halves.length * margin - 2) / halves.length));
        const hgt = heatmapHeight(w, size.width, size.height);
        // Channel numbers within the part: the mirrored half counts down.
        const colValue = (kk: number) => (half.reversed ? half.colTo - half.colFrom - 1 - kk : kk);
        const colCount = size[rowsOnX ? 'height' : 'width'];
        // Ticks at round channel numbers, also when they count down.
        const colTicks = integerTicks(
          colCount,
          Math.max(2, Math.floor((rowsOnX ? hgt : w) / (rowsOnX ? 22 : 40))),
        );
        const colAxis = {
          count: colCount,
          value: colValue,
          at: half.reversed ? colTicks.map((v) => colCount - 1 - v) : colTicks,
        };
        const rowAxis = { count: rowCount };
        const canvas = heatmapPanel({
          image: imageCanvas(size.width, size.height, (out) => fillDiverging(out, spec, a, table)),
          width: w,
          height: hgt,
          x: rowsOnX ? rowAxis : colAxis,
          y: rowsOnX ? colAxis : rowAxis,
          ticks: state.ticks,
          leftMargin: left,
          border: state.borders,
          label: `${items[i]!.label}, sample ${s}${half.name ? `, ${half.name}` : ''}: ${colName}s × ${rowName}s`,
        });
        tallest = Math.max(tallest, hgt);
        panels++;
        halvesEl.append(
          half.name
            ? h('div', { class: 'half' }, h('span', { class: 'half-name' }, half.name), canvas)
            : canvas,
        );
      }
      const caption = samples.length > 1 || first.samples > 1 ? `sample ${s}` : '';
      if (caption) cell.append(h('figcaption', { 'data-png-text': '' }, caption));
      cell.append(halvesEl);
      gridEl.append(cell);
    }
    block.append(gridEl);
    row.append(block);
  });
  if (state.colorbar) {
    const ticks = [-a, -a / 2, 0, a / 2, a];
    row.append(
      colorbar(
        state.cmap,
        -a,
        a,
        ticks,
        state.diff ? 'value / Δ' : 'value',
        Math.min(320, Math.max(140, tallest * 2)),
      ),
    );
  }
  root.append(row);
  root.append(
    h(
      'p',
      { class: 'axis-note' },
      `${rowsOnX ? `x: ${rowName}, y: ${colName}` : `x: ${colName}, y: ${rowName}`}` +
        (halves.length > 1 ? ` · ${halves.map((x) => x.name).join(' / ')} halves, the second mirrored` : '') +
        (rowCount < first.rows ? ` · first ${rowCount} of ${first.rows} ${rowName}s` : '') +
        ` · colour: ${state.cmap}, white = 0, black = non-finite · |max| ${formatNumber(maxAbs(cubes.map((c) => c.data)))}`,
    ),
  );
  return panels;
}

/** Horizontal space the ticks take: the widest y label (channel or timestep number) plus the tick itself. */
function tickMargin(cols: number, rows: number, rowsOnX: boolean): number {
  const widest = String(Math.max(0, (rowsOnX ? cols : rows) - 1)).length;
  return 14 + 7 * widest;
}
