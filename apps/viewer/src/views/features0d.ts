// See RNN's show_features_0D, for a layer without a time axis (returnSequences false: sample × channel):
// every channel's value per sample as a scatter, channels colour-graded, a zero line, iterations side by side.
import uPlot from 'uplot';
import { fitYAxis, xAxisSize } from '../axes';
import { colorAt } from '../colormap';
import type { ViewContext } from '../context';
import { h } from '../dom';
import { hoverReadout, READOUT_CURSOR } from '../hover';
import { readoutNumber } from '../readout';
import { formatNumber } from '../state';
import { maxAbs } from '../tensor';
import { type Compared, comparedCubes, figureTitle } from './common';

const GAP = 16;

/** Colour of channel c of n: viridis from dark to green-yellow (its last, pale yellow tenth is hard to see on white). */
export function channelColor(c: number, n: number): string {
  return colorAt('viridis', n <= 1 ? 0 : (0.9 * c) / (n - 1));
}

/** Values of every sample for channel c of a sample × channel cube (a strided copy). */
export function channelValues(
  data: Float32Array,
  samples: number,
  channels: number,
  c: number,
): Float32Array {
  const out = new Float32Array(samples);
  for (let s = 0; s < samples; s++) out[s] = data[s * channels + c]!;
  return out;
}

const zeroLine: uPlot.Plugin = {
  hooks: {
    drawAxes: (u) => {
      const y = Math.round(u.valToPos(0, 'y', true)) + 0.5;
      const { ctx } = u;
      ctx.save();
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      ctx.restore();
    },
  },
};

export function render0D(root: HTMLElement, fc: ViewContext, items: Compared[]): number {
  const { state, charts } = fc;
  const { cubes, diffNote } = comparedCubes(items, state.diff);
  const first = cubes[0]!;
  const samples = first.samples;
  const channels = first.cols;
  root.append(figureTitle(`(Values vs. Samples) vs. Channels — ${fc.seriesName}`));
  if (diffNote) root.append(h('p', { class: 'note' }, diffNote));
  const m = (maxAbs(cubes.map((c) => c.data)) || 1e-12) * 1.08;
  const xs = new Float64Array(samples);
  for (let s = 0; s < samples; s++) xs[s] = s;
  const k = cubes.length;
  // Less 2 px for the optional border of each block.
  const width = Math.max(220, Math.floor((fc.width - GAP * (k - 1)) / k) - 2);
  const row = h('div', { class: 'compare-row' });
  cubes.forEach((cube, i) => {
    const block = h('section', { class: state.borders ? 'compare-block bordered' : 'compare-block' });
    block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, items[i]!.label));
    const data = [
      xs,
      ...Array.from({ length: channels }, (_, c) => channelValues(cube.data, samples, channels, c)),
    ] as unknown as uPlot.AlignedData;
    const chart = new uPlot(
      {
        width,
        height: Math.round(Math.min(360, Math.max(200, width * 0.45))),
        legend: { show: false },
        cursor: READOUT_CURSOR,
        plugins: [
          zeroLine,
          hoverReadout((idx, si) => [
            `${state.diff && i > 0 ? 'Δ value' : 'value'} ${readoutNumber((data[si] as Float32Array)[idx]!)}`,
            `sample ${idx}`,
            `channel ${si - 1}`,
            items[i]!.label,
          ]),
        ],
        scales: { x: { time: false, range: [-0.5, samples - 0.5] }, y: { range: [-m, m] } },
        axes: [
          {
            show: state.ticks,
            label: 'sample',
            labelSize: 16,
            labelFont: '11px system-ui',
            // Tick, gap and one line of labels: the title below never covers them.
            size: xAxisSize(10, 4, 3),
            gap: 3,
            ticks: { size: 4 },
            font: '10px system-ui',
            splits: () => Array.from({ length: samples }, (_, s) => s),
            values: (_u, splits) => splits.map((s) => (samples <= 32 || s % 5 === 0 ? String(s) : '')),
          },
          {
            show: state.ticks,
            size: fitYAxis('10px system-ui', 4, 3),
            gap: 3,
            ticks: { size: 4 },
            font: '10px system-ui',
            values: (_u, splits) => splits.map(formatNumber),
          },
        ],
        series: [
          {},
          ...Array.from({ length: channels }, (_, c) => ({
            label: `channel ${c}`,
            stroke: channelColor(c, channels),
            fill: channelColor(c, channels),
            paths: () => null,
            points: { show: true, size: 7, width: 1.5, fill: 'transparent' },
          })),
        ],
      },
      data,
      block,
    );
    chart.root.setAttribute('role', 'img');
    chart.root.setAttribute('aria-label', `${items[i]!.label}: value per sample, ${channels} channels`);
    charts.push(chart);
    row.append(block);
  });
  root.append(row);
  const legend = h(
    'div',
    { class: 'axis-note' },
    h('span', { 'data-png-text': '' }, `channels 0–${channels - 1}, colour-graded: `),
  );
  const bar = h('span', { class: 'gradient-bar' });
  for (let c = 0; c < Math.min(channels, 64); c++) {
    const swatch = h('span', { class: 'gradient-step', 'data-png-box': '' });
    swatch.style.background = channelColor(c, Math.min(channels, 64));
    bar.append(swatch);
  }
  legend.append(
    h('span', { 'data-png-text': '' }, '0 '),
    bar,
    h(
      'span',
      { 'data-png-text': '' },
      ` ${channels - 1} · black line: zero · one y range for every iteration`,
    ),
  );
  root.append(legend);
  return cubes.length;
}
