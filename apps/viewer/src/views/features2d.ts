// See RNN's show_features_2D: channels × timesteps heatmaps, one per sample, for 1–4 iterations side by side on
// one symmetric diverging colour scale.

import { textWidth } from '../axes';
import { lut } from '../colormap';
import type { ViewContext } from '../context';
import { h } from '../dom';
import { colorbar, FONT, heatmapPanel, imageCanvas } from '../draw';
import { fillDiverging, type HeatmapSpec, heatmapSize, shownValues, splitHalves } from '../heatmap';
import { autoRows, gridLayout, heatmapHeight, integerTicks, panelWidth } from '../layout';
import { readoutNumber } from '../readout';
import { resolveNorm } from '../scales';
import { formatNorm, formatNumber } from '../state';
import { type Cube, maxAbs } from '../tensor';
import { type Compared, cap, comparedCubes, figureTitle, sampleList } from './common';

/** Gap between compared blocks, and between small multiples (px; the stylesheet uses the same). */
const BLOCK_GAP = 16;
const GAP = 8;
const COLORBAR_WIDTH = 78;

/**
 * The axis order in a 2D title, See RNN's "(Channels vs. Timesteps)": y axis vs x axis; a cube with one row (a
 * bias) is just its columns ("Units"); several samples add "vs. Samples".
 */
export function heatmapOrder(cube: Pick<Cube, 'rows' | 'axes'>, rowsOnX: boolean, samples: number): string {
  const rowName = cube.axes[1];
  const colName = cube.axes[2];
  const order =
    cube.rows === 1 && rowName === 'row'
      ? `${cap(colName)}s`
      : rowsOnX
        ? `(${cap(colName)}s vs. ${cap(rowName)}s)`
        : `(${cap(rowName)}s vs. ${cap(colName)}s)`;
  return samples > 1 ? `(${order} vs. Samples)` : order;
}

/** Cell (x, y) of a panel → row and column of the cube, undoing the panel's flips and orientation. */
export function panelCell(
  spec: Pick<HeatmapSpec, 'cube' | 'colFrom' | 'colTo' | 'reversed' | 'timeReversed' | 'rowsOnX'>,
  x: number,
  y: number,
): { row: number; col: number } {
  const [k, j] = spec.rowsOnX ? [x, y] : [y, x];
  const row = spec.timeReversed ? spec.cube.rows - 1 - k : k;
  const col = spec.reversed ? spec.colTo - 1 - j : spec.colFrom + j;
  return { row, col };
}

export function render2D(root: HTMLElement, fc: ViewContext, items: Compared[]): number {
  const { state } = fc;
  const { cubes, diffNote } = comparedCubes(items, state.diff);
  const first = cubes[0]!;
  const rowsOnX = state.timeAxis === 'x' || !first.timeRows;
  const rowCount = Math.min(first.rows, state.maxT ?? first.rows);
  const halves = splitHalves(first.cols, fc.channelParts, state.reflect, state.mirror);
  const samples = sampleList(first.samples, state.sample);
  const { a } = resolveNorm(
    state.norm,
    cubes.map((c) => shownValues(c, samples, halves, rowCount)),
  );
  const table = lut(state.cmap);
  const rowName = first.axes[1];
  const colName = first.axes[2];
  root.append(
    figureTitle(
      `${heatmapOrder(first, rowsOnX, samples.length)} — ${fc.seriesName} — ${formatNorm(a)}${state.norm === 'auto' ? ' (auto)' : ''}`,
    ),
  );
  if (diffNote) root.append(h('p', { class: 'note' }, diffNote));

  const k = cubes.length;
  const blockWidth = Math.floor(
    (fc.width - (state.colorbar ? COLORBAR_WIDTH + BLOCK_GAP : 0) - BLOCK_GAP * (k - 1)) / k,
  );
  const grid = gridLayout(samples.length, state.rows ?? autoRows(samples.length, 1));
  // Room for the widest y label: channel numbers (timesteps on x) or timestep numbers.
  const widestY = Math.max(0, (rowsOnX ? halves[0]!.colTo - halves[0]!.colFrom : first.rows) - 1);
  const left = Math.ceil(textWidth(String(widestY), FONT)) + 9;
  // Horizontal space of a panel besides its image (see heatmapPanel's margins).
  const margin = state.ticks ? left + 10 : 6;
  const cellWidth = panelWidth(blockWidth, grid.cols, GAP, 48);
  const areaWidth = Math.max(24, cellWidth - margin);
  let panels = 0;
  let tallest = 0;
  const row = h('div', { class: 'compare-row' });
  cubes.forEach((cube, i) => {
    const item = items[i]!;
    const block = h('section', { class: 'compare-block' });
    block.style.width = `${Math.max(blockWidth, grid.cols * cellWidth + GAP * (grid.cols - 1))}px`;
    block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, item.label));
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
          timeReversed: half.timeReversed,
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
        // Channel numbers within the part: a mirrored half counts down.
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
        // A time-reversed half labels its cells with the input timestep they show, counting down.
        const rows = cube.rows;
        const timeTicks = integerTicks(
          rows,
          Math.max(2, Math.floor((rowsOnX ? w : hgt) / (rowsOnX ? 40 : 22))),
        );
        const rowAxis = half.timeReversed
          ? {
              count: rowCount,
              value: (kk: number) => rows - 1 - kk,
              at: timeTicks.map((v) => rows - 1 - v).filter((kk) => kk < rowCount),
            }
          : { count: rowCount };
        const partName = half.name ? `, ${half.name}` : '';
        const canvas = heatmapPanel({
          image: imageCanvas(size.width, size.height, (out) => fillDiverging(out, spec, a, table)),
          width: w,
          height: hgt,
          x: rowsOnX ? rowAxis : colAxis,
          y: rowsOnX ? colAxis : rowAxis,
          ticks: state.ticks,
          leftMargin: left,
          border: state.borders,
          label: `${item.label}, sample ${s}${partName}: ${colName}s × ${rowName}s`,
          readout: (x, y) => {
            const at = panelCell(spec, x, y);
            const v = cube.data[(s * cube.rows + at.row) * cube.cols + at.col]!;
            const inPart = at.col - half.colFrom;
            return [
              `${state.diff && i > 0 ? 'Δ value' : 'value'} ${readoutNumber(v)}`,
              ...(cube.samples > 1 || first.axes[0] === 'sample' ? [`sample ${s}`] : []),
              `${colName} ${inPart}${half.name ? ` (${half.name})` : ''}`,
              ...(cube.rows > 1 || rowName !== 'row' ? [`${rowName} ${at.row}`] : []),
              item.label,
            ];
          },
        });
        tallest = Math.max(tallest, hgt);
        panels++;
        halvesEl.append(
          half.name
            ? h(
                'div',
                { class: 'half' },
                h(
                  'span',
                  { class: 'half-name', 'data-png-text': '' },
                  half.timeReversed ? `${half.name} (time flipped)` : half.name,
                ),
                canvas,
              )
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
        (halves.length > 1
          ? ` · ${halves.map((x) => x.name).join(' / ')} halves, the second flipped about the timesteps (reflect_half)${state.mirror ? ' and its channels mirrored' : ''}`
          : '') +
        (rowCount < first.rows ? ` · first ${rowCount} of ${first.rows} ${rowName}s` : '') +
        ` · colour: ${state.cmap}, white = 0, black = non-finite · |max| ${formatNumber(maxAbs(cubes.map((c) => c.data)))}`,
    ),
  );
  return panels;
}
