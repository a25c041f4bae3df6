// Axis sizes from their labels: the room a tick label takes is measured in the font it is drawn with, so that
// no label ("-0.00201") is cut at the canvas edge.

import type uPlot from 'uplot';

let measureCtx: CanvasRenderingContext2D | null = null;

/** Width in CSS pixels of `text` drawn in `font` (a canvas measure; a rough estimate outside a browser). */
export function textWidth(text: string, font: string): number {
  if (typeof document === 'undefined') return text.length * 7;
  measureCtx ??= document.createElement('canvas').getContext('2d');
  if (!measureCtx) return text.length * 7;
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

/**
 * Size of a y axis (its width) for the given labels: the widest label, the gap before it, the tick and a
 * pixel of slack, rounded up. `measure` gives a label's width.
 */
export function yAxisSize(
  labels: readonly (string | null | undefined)[] | null | undefined,
  measure: (text: string) => number,
  tick: number,
  gap: number,
): number {
  let widest = 0;
  for (const l of labels ?? []) if (l) widest = Math.max(widest, measure(l));
  return Math.ceil(widest + gap + tick + 2);
}

/** Height of an x axis: the tick, the gap, one line of text of `fontPx` (with descenders), and its title. */
export function xAxisSize(fontPx: number, tick: number, gap: number): number {
  return Math.ceil(tick + gap + fontPx * 1.25 + 2);
}

/** A uPlot `axes[].size` function for a y axis drawn in `font`. */
export function fitYAxis(font: string, tick: number, gap: number) {
  return (_u: unknown, values: string[] | null) => yAxisSize(values, (t) => textWidth(t, font), tick, gap);
}

/**
 * The two axes of a per-timestep norm chart: whole timesteps on x, the chosen decades on a log y (uPlot thins
 * log ticks by default; `filter` keeps every one), both sized to their labels.
 */
export function timestepLogAxes(xLabel: string, xSplits: number[], ySplits: number[]): uPlot.Axis[] {
  const font = '11px system-ui';
  return [
    {
      label: xLabel,
      labelSize: 16,
      font,
      size: xAxisSize(11, 10, 5),
      splits: () => xSplits,
      values: (_u, splits) => splits.map((v) => String(v)),
    },
    {
      size: fitYAxis(font, 10, 5),
      font,
      splits: () => ySplits,
      filter: (_u, splits) => splits,
      values: (_u, splits) => splits.map((v) => (v > 0 ? `1e${Math.round(Math.log10(v))}` : '')),
    },
  ];
}
