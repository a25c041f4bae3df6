// See RNN's show_features_1D: one small chart per channel of the gradient vs timestep, one sample or all samples
// overlaid, 1–4 iterations side by side on shared y ranges.
import { hcl } from 'd3-color';
import { schemeTableau10 } from 'd3-scale-chromatic';
import uPlot from 'uplot';
import { fitYAxis, xAxisSize } from '../axes';
import type { ViewContext } from '../context';
import { h } from '../dom';
import { hoverReadout, READOUT_CURSOR } from '../hover';
import { fitGrid, integerTicks, parseRange } from '../layout';
import { readoutNumber } from '../readout';
import { formatNumber } from '../state';
import type { Cube } from '../tensor';
import { type Compared, cap, comparedCubes, figureTitle, sampleList } from './common';

const GAP = 8;
const AXIS_FONT = '10px system-ui';
/** Charts per iteration when no channel range is given: enough to read, few enough to stay fast. */
export const DEFAULT_CHANNELS = 16;

/** Channel range [from, to) to draw: the requested one, else the first DEFAULT_CHANNELS. */
export function channelWindow(text: string | null, cols: number): [number, number] {
  return parseRange(text, cols) ?? [0, Math.min(cols, DEFAULT_CHANNELS)];
}

/** Values of channel c of one sample over the first `count` rows (timesteps): a strided copy. */
export function channelSeries(cube: Cube, sample: number, c: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const base = sample * cube.rows * cube.cols + c;
  for (let r = 0; r < count; r++) out[r] = cube.data[base + r * cube.cols]!;
  return out;
}

/** max |v| over finite values of one channel (every sample, first `count` rows). */
function channelMax(cube: Cube, c: number, count: number, samples: number[]): number {
  let m = 0;
  for (const s of samples) {
    const base = s * cube.rows * cube.cols + c;
    for (let r = 0; r < count; r++) {
      const v = Math.abs(cube.data[base + r * cube.cols]!);
      if (v > m && v !== Number.POSITIVE_INFINITY) m = v;
    }
  }
  return m;
}

/**
 * Colour of sample i of n: Tableau 10 up to 10 samples, else n hues evenly spaced around the HCL wheel at one
 * lightness and chroma (See RNN overlays all 16 samples; 10 colours would repeat).
 */
export function sampleColor(i: number, n = 10): string {
  if (n <= schemeTableau10.length) return schemeTableau10[i % schemeTableau10.length]!;
  return hcl((360 * i) / n + 20, 62, 52).formatHex();
}

export function render1D(root: HTMLElement, fc: ViewContext, items: Compared[]): number {
  const { state, charts } = fc;
  const { cubes, diffNote } = comparedCubes(items, state.diff);
  const first = cubes[0]!;
  const count = Math.min(first.rows, state.maxT ?? first.rows);
  const [c0, c1] = channelWindow(state.channels, first.cols);
  const samples = sampleList(first.samples, state.sample);
  const rowName = first.axes[1];
  const colName = first.axes[2];
  const title =
    samples.length > 1
      ? `((Values vs. ${cap(rowName)}s) vs. Samples) vs. ${cap(colName)}s`
      : `(Values vs. ${cap(rowName)}s) vs. ${cap(colName)}s`;
  root.append(
    figureTitle(`${title} — ${fc.seriesName}${samples.length === 1 ? ` — sample ${samples[0]}` : ''}`),
  );
  if (diffNote) root.append(h('p', { class: 'note' }, diffNote));
  if (c1 - c0 < first.cols)
    root.append(
      h(
        'p',
        { class: 'note' },
        `${colName}s ${c0}–${c1 - 1} of ${first.cols} (set the ${colName} range above to see others)`,
      ),
    );

  // y ranges: one symmetric range for every chart (equal axes), else one per channel shared by the iterations.
  const perChannel = new Float64Array(c1 - c0);
  for (let c = c0; c < c1; c++)
    for (const cube of cubes)
      perChannel[c - c0] = Math.max(perChannel[c - c0]!, channelMax(cube, c, count, samples));
  const overall = perChannel.reduce((a, b) => Math.max(a, b), 0);
  const rangeOf = (c: number) => {
    const m = state.equal ? overall : perChannel[c - c0]!;
    return m > 0 ? m * 1.05 : 1e-12;
  };

  const xs = new Float64Array(count);
  for (let t = 0; t < count; t++) xs[t] = t;
  const k = cubes.length;
  const blockWidth = Math.floor((fc.width - GAP * 2 * (k - 1)) / k);
  const n = c1 - c0;
  const grid = fitGrid(n, state.rows, blockWidth, GAP, 110, 1.5);
  const chartWidth = grid.panel;
  const chartHeight = Math.round(Math.min(200, Math.max(90, chartWidth * 0.62)));
  const xSplits = integerTicks(count, Math.max(2, Math.floor(chartWidth / 45)));
  const row = h('div', { class: 'compare-row' });
  let panels = 0;
  cubes.forEach((cube, i) => {
    const block = h('section', { class: 'compare-block' });
    // Never narrower than its grid: blocks wrap to the next line rather than overlap.
    block.style.width = `${Math.max(blockWidth, grid.width)}px`;
    block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, items[i]!.label));
    const gridEl = h('div', { class: 'multiples' });
    gridEl.style.gridTemplateColumns = `repeat(${grid.cols}, ${chartWidth}px)`;
    const item = items[i]!;
    for (let c = c0; c < c1; c++) {
      const cell = h('figure', { class: state.borders ? 'cell chart bordered' : 'cell chart' });
      cell.append(h('figcaption', { class: 'channel-label', 'data-png-text': '' }, `${colName} ${c}`));
      const data: uPlot.AlignedData = [xs, ...samples.map((s) => channelSeries(cube, s, c, count))] as never;
      const m = rangeOf(c);
      const opts: uPlot.Options = {
        width: chartWidth,
        height: chartHeight,
        legend: { show: false },
        cursor: READOUT_CURSOR,
        plugins: [
          hoverReadout((idx, si) => {
            const v = (data[si] as Float32Array)[idx]!;
            return [
              `${state.diff && i > 0 ? 'Δ value' : 'value'} ${readoutNumber(v)}`,
              `sample ${samples[si - 1]}`,
              `${colName} ${c}`,
              `${rowName} ${idx}`,
              item.label,
            ];
          }),
        ],
        scales: { x: { time: false, range: [0, Math.max(1, count - 1)] }, y: { range: [-m, m] } },
        axes: [
          {
            show: state.ticks,
            size: xAxisSize(10, 3, 2),
            gap: 2,
            font: AXIS_FONT,
            ticks: { size: 3 },
            splits: () => xSplits,
          },
          {
            show: state.ticks,
            // As wide as its widest label: "-0.00201" keeps its sign.
            size: fitYAxis(AXIS_FONT, 3, 2),
            gap: 2,
            font: AXIS_FONT,
            ticks: { size: 3 },
            // See RNN's equal axes are symmetric about zero: label the ends and the zero.
            splits: () => [-m / 1.05, 0, m / 1.05],
            values: (_u, splits) => splits.map(formatNumber),
          },
        ],
        series: [
          {},
          ...samples.map((s) => ({
            label: `sample ${s}`,
            stroke: samples.length === 1 ? '#1f5fa8' : sampleColor(s, first.samples),
            width: 1,
            points: { show: false },
          })),
        ],
      };
      const chart = new uPlot(opts, data, cell);
      chart.root.setAttribute('role', 'img');
      chart.root.setAttribute('aria-label', `${items[i]!.label}, ${colName} ${c}: value vs ${rowName}`);
      charts.push(chart);
      panels++;
      gridEl.append(cell);
    }
    block.append(gridEl);
    row.append(block);
  });
  root.append(row);
  const legend = h('p', { class: 'axis-note' });
  legend.append(
    h(
      'span',
      { 'data-png-text': '' },
      `x: ${rowName} (0–${count - 1}), y: value${state.equal ? ', every chart on one symmetric range' : ', one range per channel'}`,
    ),
  );
  if (samples.length > 1 && samples.length <= 20) {
    legend.append(h('span', { 'data-png-text': '' }, ' · '));
    for (const s of samples) {
      const swatch = h('span', { class: 'swatch', 'data-png-box': '' });
      swatch.style.background = sampleColor(s, first.samples);
      legend.append(
        h('span', { class: 'legend-item' }, swatch, h('span', { 'data-png-text': '' }, `sample ${s}`)),
      );
    }
  }
  root.append(legend);
  return panels;
}
