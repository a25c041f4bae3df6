// See RNN's show_features_2D: channels × timesteps heatmaps, one per sample, for 1–4 iterations side by side on
// one symmetric diverging colour scale (or one per iteration). A large probe shows a readable subset by default:
// the mean |value| over its samples and the few samples with the largest norms, and the page says so.

import { textWidth } from '../axes';
import { lut } from '../colormap';
import type { ViewContext } from '../context';
import { h } from '../dom';
import { colorbar, FONT, heatmapPanel, imageCanvas } from '../draw';
import {
  fillDiverging,
  type HalfPanel,
  type HeatmapSpec,
  heatmapSize,
  shownValues,
  splitHalves,
} from '../heatmap';
import { autoRows, gridLayout, heatmapHeight, integerTicks, panelWidth } from '../layout';
import { readoutNumber } from '../readout';
import { resolveNorm } from '../scales';
import { AUTO_ALL_SAMPLES, AUTO_TOP_SAMPLES, formatNorm, formatNumber, type SampleChoice } from '../state';
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

/** The mean |value| over a cube's samples, as a cube of one sample (non-finite values stay non-finite). */
export function meanAbsCube(cube: Cube): Cube {
  const n = cube.rows * cube.cols;
  const out = new Float32Array(n);
  for (let s = 0; s < cube.samples; s++) {
    const base = s * n;
    for (let k = 0; k < n; k++) out[k]! += Math.abs(cube.data[base + k]!);
  }
  for (let k = 0; k < n; k++) out[k]! /= Math.max(1, cube.samples);
  return { ...cube, data: out, samples: 1 };
}

/**
 * The `count` samples with the largest L2 norm over what the panels show (the halves' channels, the first
 * rowCount rows, summed over every compared cube), largest first, ties to the lower index; non-finite values
 * are left out of the norm.
 */
export function largestSamples(
  cubes: readonly Cube[],
  halves: readonly Pick<HalfPanel, 'colFrom' | 'colTo' | 'timeReversed'>[],
  rowCount: number,
  count: number,
): number[] {
  const samples = cubes[0]?.samples ?? 0;
  const energy = new Float64Array(samples);
  for (const cube of cubes)
    for (let s = 0; s < Math.min(samples, cube.samples); s++) {
      let e = 0;
      for (const v of shownValues(cube, [s], halves, rowCount)) if (Number.isFinite(v)) e += v * v;
      energy[s]! += e;
    }
  return Array.from({ length: samples }, (_, s) => s)
    .sort((a, b) => energy[b]! - energy[a]! || a - b)
    .slice(0, count);
}

/** What the 2D view draws of the samples: the mean |value| panel or not, the samples, and what it says of them. */
export interface SamplePlan {
  mean: boolean;
  samples: number[];
  /** A sentence saying which samples are shown when they are a subset chosen for the user; '' otherwise. */
  note: string;
}

/** The samples of the 2D view for a choice (state.ts' SampleChoice). */
export function samplePlan(
  choice: SampleChoice,
  cubes: readonly Cube[],
  halves: readonly Pick<HalfPanel, 'colFrom' | 'colTo' | 'timeReversed'>[],
  rowCount: number,
): SamplePlan {
  const n = cubes[0]?.samples ?? 1;
  if (choice !== 'auto' || n <= AUTO_ALL_SAMPLES)
    return { mean: false, samples: sampleList(n, choice), note: '' };
  const top = largestSamples(cubes, halves, rowCount, AUTO_TOP_SAMPLES);
  return {
    mean: true,
    samples: top,
    note: `${n} samples: shown are the mean |value| over all ${n} (on its own scale, 0 to its largest) and the ${top.length} with the largest norms (samples ${top.join(', ')}). Pick "all" or samples under Samples to see others.`,
  };
}

/** One panel of a compared block: the cube it reads (the iteration's, or its mean |value|) and which sample. */
interface PanelOf {
  cube: Cube;
  sample: number;
  /** 'sample 3' or 'mean |value|'. */
  caption: string;
  mean: boolean;
}

export function render2D(root: HTMLElement, fc: ViewContext, items: Compared[]): number {
  const { state } = fc;
  const { cubes, diffNote } = comparedCubes(items, state.diff);
  const first = cubes[0]!;
  const rowsOnX = state.timeAxis === 'x' || !first.timeRows;
  const rowCount = Math.min(first.rows, state.maxT ?? first.rows);
  const halves = splitHalves(first.cols, fc.channelParts, state.reflect, state.mirror);
  const plan = samplePlan(state.sample, cubes, halves, rowCount);
  const meanWord = state.diff ? 'mean |Δ value|' : 'mean |value|';
  const panelsOf: PanelOf[][] = cubes.map((cube) => [
    ...(plan.mean ? [{ cube: meanAbsCube(cube), sample: 0, caption: meanWord, mean: true }] : []),
    ...plan.samples.map((s) => ({ cube, sample: s, caption: `sample ${s}`, mean: false })),
  ]);
  // The values each block's samples show: what its automatic norm is computed over.
  const shown = panelsOf.map((panels) =>
    panels.filter((p) => !p.mean).map((p) => shownValues(p.cube, [p.sample], halves, rowCount)),
  );
  // A mean |value| is far below the largest sample's values: on their scale it would be all but white. It has
  // its own (0, a), named in its caption; a manual norm is the same for every panel.
  const meanNorm = (p: PanelOf) =>
    typeof state.norm === 'number'
      ? state.norm
      : resolveNorm(state.norm, [shownValues(p.cube, [0], halves, rowCount)]).a;
  // One norm for all (shared), or one per compared iteration; a manual norm is the same for every one.
  const perIteration = state.scale === 'each' && typeof state.norm !== 'number';
  const shared = resolveNorm(state.norm, shown.flat()).a;
  const norms = shown.map((values) => (perIteration ? resolveNorm(state.norm, values).a : shared));
  const table = lut(state.cmap);
  const rowName = first.axes[1];
  const colName = first.axes[2];
  const count = panelsOf[0]!.length;
  root.append(
    figureTitle(
      `${heatmapOrder(first, rowsOnX, count)} — ${fc.seriesName} — ${
        perIteration
          ? `one norm per iteration${state.norm === 'p99' ? ' (99th pct)' : ''}`
          : `${formatNorm(shared)}${state.norm === 'auto' ? ' (auto)' : ''}`
      }`,
    ),
  );
  if (diffNote) root.append(h('p', { class: 'note' }, diffNote));
  if (plan.note) root.append(h('p', { class: 'note sample-note', 'data-png-text': '' }, plan.note));

  const k = cubes.length;
  // A colorbar per block (per-iteration norms) or one for all.
  const bars = state.colorbar ? (perIteration ? k : 1) : 0;
  const blockWidth = Math.floor((fc.width - bars * (COLORBAR_WIDTH + BLOCK_GAP) - BLOCK_GAP * (k - 1)) / k);
  const grid = gridLayout(count, state.rows ?? autoRows(count, 1));
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
  const bar = (a: number, title: string) =>
    colorbar(state.cmap, -a, a, [-a, -a / 2, 0, a / 2, a], title, Math.min(320, Math.max(140, tallest * 2)));
  cubes.forEach((cube, i) => {
    const item = items[i]!;
    const a = norms[i]!;
    const block = h('section', { class: 'compare-block' });
    block.dataset.norm = String(a);
    block.dataset.iteration = String(item.iteration);
    block.style.width = `${Math.max(blockWidth, grid.cols * cellWidth + GAP * (grid.cols - 1))}px`;
    block.append(
      h(
        'h3',
        { class: 'block-title', 'data-png-text': '' },
        perIteration ? `${item.label} — ${formatNorm(a)}` : item.label,
      ),
    );
    const gridEl = h('div', { class: 'multiples' });
    gridEl.style.gridTemplateColumns = `repeat(${grid.cols}, ${cellWidth}px)`;
    for (const p of panelsOf[i]!) {
      const s = p.sample;
      const pc = p.cube;
      const pa = p.mean ? meanNorm(p) : a;
      const cell = h('figure', { class: p.mean ? 'cell mean' : 'cell' });
      const halvesEl = h('div', { class: rowsOnX ? 'halves stacked' : 'halves side' });
      for (const half of halves) {
        const spec: HeatmapSpec = {
          cube: pc,
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
        const rows = pc.rows;
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
          image: imageCanvas(size.width, size.height, (out) => fillDiverging(out, spec, pa, table)),
          width: w,
          height: hgt,
          x: rowsOnX ? rowAxis : colAxis,
          y: rowsOnX ? colAxis : rowAxis,
          ticks: state.ticks,
          leftMargin: left,
          border: state.borders,
          label: `${item.label}, ${p.caption}${partName}: ${colName}s × ${rowName}s`,
          readout: (x, y) => {
            const at = panelCell(spec, x, y);
            const v = pc.data[(s * pc.rows + at.row) * pc.cols + at.col]!;
            const inPart = at.col - half.colFrom;
            return [
              p.mean
                ? `${meanWord} ${readoutNumber(v)}`
                : `${state.diff && i > 0 ? 'Δ value' : 'value'} ${readoutNumber(v)}`,
              ...(p.mean
                ? [`over ${cube.samples} samples`]
                : cube.samples > 1 || first.axes[0] === 'sample'
                  ? [`sample ${s}`]
                  : []),
              `${colName} ${inPart}${half.name ? ` (${half.name})` : ''}`,
              ...(pc.rows > 1 || rowName !== 'row' ? [`${rowName} ${at.row}`] : []),
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
      const caption = p.mean
        ? `${state.diff ? 'mean |Δ|' : 'mean |v|'} 0–${formatNumber(pa)}`
        : count > 1 || first.samples > 1
          ? p.caption
          : '';
      if (caption) cell.append(h('figcaption', { 'data-png-text': '' }, caption));
      cell.append(halvesEl);
      gridEl.append(cell);
    }
    block.append(gridEl);
    row.append(block);
    if (state.colorbar && perIteration) row.append(bar(a, state.diff && i > 0 ? 'Δ value' : 'value'));
  });
  if (state.colorbar && !perIteration) row.append(bar(shared, state.diff ? 'value / Δ' : 'value'));
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
        ` · colour: ${state.cmap}, white = 0, black = non-finite${perIteration ? ', one scale per iteration' : ''} · |max| ${formatNumber(maxAbs(cubes.map((c) => c.data)))}`,
    ),
  );
  return panels;
}
