// Canvas drawing shared by the heatmap figures: a LUT-painted image with ticks and a border, and colorbars.
import { textWidth } from './axes';
import { type ColormapName, LUT_LAST, lut } from './colormap';
import { h, hiDpiCanvas } from './dom';
import { fillSequential } from './heatmap';
import { integerTicks } from './layout';
import { attachReadout, cellAt } from './readout';
import { formatNumber } from './state';

export const FONT = '11px system-ui, -apple-system, "Segoe UI", sans-serif';
const TICK_COLOR = '#333';
const BORDER_COLOR = '#444';

/**
 * An offscreen canvas of width × height pixels (one per value) whose pixels `paint` writes as packed RGBA into a
 * Uint32Array view of the ImageData: no intermediate copy.
 */
export function imageCanvas(
  width: number,
  height: number,
  paint: (out: Uint32Array) => void,
): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, width);
  canvas.height = Math.max(1, height);
  if (width > 0 && height > 0) {
    const image = new ImageData(width, height);
    paint(new Uint32Array(image.data.buffer, image.data.byteOffset, width * height));
    canvas.getContext('2d')!.putImageData(image, 0, 0);
  }
  return canvas;
}

export interface Axis {
  /** Cells along the axis. */
  count: number;
  /** The label of cell k (e.g. the channel or timestep it shows); defaults to k. */
  value?: (k: number) => number | string;
  /** Cells at which to put a tick; default: integer ticks over the count. */
  at?: number[];
  title?: string;
}

export interface PlotRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface HeatmapPanelOptions {
  image: HTMLCanvasElement;
  /** Size of the image area in CSS pixels. */
  width: number;
  height: number;
  x: Axis;
  y: Axis;
  ticks: boolean;
  border: boolean;
  /** Extra drawing over the image (e.g. memory horizons), in CSS pixels. */
  overlay?: (ctx: CanvasRenderingContext2D, plot: PlotRect) => void;
  label?: string;
  /** Room for the y tick labels (px, with ticks on); default: the widest label, measured. */
  leftMargin?: number;
  /** Room right of the image (px); default 10 with ticks (half of the last x label), 4 without. */
  rightMargin?: number;
  /** Drawing outside the image (markers in the margins), in CSS pixels, after the ticks. */
  annotate?: (ctx: CanvasRenderingContext2D, plot: PlotRect) => void;
  /** Hover readout of the cell (x, y) under the pointer (cell indices along each axis); null: none. */
  readout?: (x: number, y: number) => string[] | null;
}

/** Left margin that fits the widest y tick label of `axis` (px): label, gap and tick. */
export function leftMarginFor(axis: Axis, height: number): number {
  let widest = 0;
  for (const k of axis.at ?? integerTicks(axis.count, Math.max(2, Math.floor(height / 22))))
    widest = Math.max(widest, textWidth(String(axis.value ? axis.value(k) : k), FONT));
  return Math.ceil(widest) + 9;
}

/** A panel canvas: the image scaled without smoothing (one value = one block of pixels), ticks, border. */
export function heatmapPanel(o: HeatmapPanelOptions): HTMLCanvasElement {
  const left = o.ticks ? (o.leftMargin ?? leftMarginFor(o.y, o.height)) : 2;
  const bottom = o.ticks ? (o.x.title ? 30 : 18) : 2;
  const top = 2;
  // With ticks, room for half of the last x label, which is centred on the last cell.
  const right = o.rightMargin ?? (o.ticks ? 10 : 4);
  const { canvas, ctx } = hiDpiCanvas(left + o.width + right, top + o.height + bottom);
  const plot = { x: left, y: top, w: o.width, h: o.height };
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(o.image, plot.x, plot.y, plot.w, plot.h);
  if (o.overlay) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x, plot.y, plot.w, plot.h);
    ctx.clip();
    o.overlay(ctx, plot);
    ctx.restore();
  }
  if (o.border) {
    ctx.strokeStyle = BORDER_COLOR;
    ctx.lineWidth = 1;
    ctx.strokeRect(plot.x - 0.5, plot.y - 0.5, plot.w + 1, plot.h + 1);
  }
  if (o.ticks) {
    ctx.font = FONT;
    ctx.fillStyle = TICK_COLOR;
    ctx.strokeStyle = TICK_COLOR;
    const cw = plot.w / Math.max(1, o.x.count);
    const ch = plot.h / Math.max(1, o.y.count);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const k of o.x.at ?? integerTicks(o.x.count, Math.max(2, Math.floor(plot.w / 55)))) {
      const px = Math.round(plot.x + (k + 0.5) * cw) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, plot.y + plot.h);
      ctx.lineTo(px, plot.y + plot.h + 3);
      ctx.stroke();
      ctx.fillText(String(o.x.value ? o.x.value(k) : k), px, plot.y + plot.h + 4);
    }
    if (o.x.title) ctx.fillText(o.x.title, plot.x + plot.w / 2, plot.y + plot.h + 17);
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const k of o.y.at ?? integerTicks(o.y.count, Math.max(2, Math.floor(plot.h / 22)))) {
      const py = Math.round(plot.y + (k + 0.5) * ch) + 0.5;
      ctx.beginPath();
      ctx.moveTo(plot.x - 3, py);
      ctx.lineTo(plot.x, py);
      ctx.stroke();
      ctx.fillText(String(o.y.value ? o.y.value(k) : k), plot.x - 5, py);
    }
  }
  if (o.annotate) o.annotate(ctx, plot);
  if (o.label) canvas.setAttribute('aria-label', o.label);
  canvas.setAttribute('role', 'img');
  const readout = o.readout;
  if (readout) {
    canvas.dataset.plot = `${plot.x},${plot.y},${plot.w},${plot.h}`;
    attachReadout(canvas, (x, y) => {
      const cx = cellAt(x, plot.x, plot.w, o.x.count);
      const cy = cellAt(y, plot.y, plot.h, o.y.count);
      return cx === null || cy === null ? null : readout(cx, cy);
    });
  }
  return canvas;
}

/** A vertical colorbar for values lo…hi of a colormap, with ticks at `ticks` (values) and a title. */
export function colorbar(
  name: ColormapName,
  lo: number,
  hi: number,
  ticks: number[],
  title: string,
  height: number,
  format: (v: number) => string = formatNumber,
): HTMLElement {
  const table = lut(name);
  // Top = hi: row r shows entry LUT_LAST - r.
  const strip = imageCanvas(1, LUT_LAST + 1, (out) => {
    for (let r = 0; r <= LUT_LAST; r++) out[r] = table[LUT_LAST - r]!;
  });
  const barH = Math.max(60, height - 16);
  const { canvas, ctx } = hiDpiCanvas(78, barH + 16);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(strip, 2, 8, 14, barH);
  ctx.strokeStyle = BORDER_COLOR;
  ctx.strokeRect(1.5, 7.5, 15, barH + 1);
  ctx.font = FONT;
  ctx.fillStyle = TICK_COLOR;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  for (const v of ticks) {
    if (!(hi > lo)) break;
    const y = 8 + (1 - (v - lo) / (hi - lo)) * barH;
    ctx.fillRect(16, Math.round(y), 4, 1);
    ctx.fillText(format(v), 22, y);
  }
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `colorbar ${title}: ${format(lo)} to ${format(hi)}`);
  return h(
    'div',
    { class: 'colorbar' },
    h('div', { class: 'colorbar-title', 'data-png-text': '' }, title),
    canvas,
  );
}

export interface FlowMapOptions {
  /** log10 norms, iteration-major (iterations.length × T). */
  log: Float32Array;
  iterations: readonly number[];
  T: number;
  lo: number;
  hi: number;
  table: Uint32Array;
  width: number;
  height: number;
  left: number;
  /** Room right of the map for the row marks. */
  gutter: number;
  xTitle: string;
  label: string;
  /** Rows to mark in the gutter (the compared iterations), with their colours. */
  marks: readonly { row: number; color: string }[];
  readout: (t: number, r: number) => string[];
  overlay?: HeatmapPanelOptions['overlay'];
}

/** One flow map: iteration rows (labelled by iteration), timestep columns, marks in the gutter beside it. */
export function flowMapPanel(o: FlowMapOptions): HTMLCanvasElement {
  const I = o.iterations.length;
  const half = Math.round(o.gutter * 0.36);
  return heatmapPanel({
    image: imageCanvas(o.T, I, (out) => fillSequential(out, o.log, o.T, I, o.lo, o.hi, o.table)),
    width: o.width,
    height: o.height,
    x: { count: o.T, title: o.xTitle },
    y: {
      count: I,
      value: (k) => o.iterations[k]!,
      at: integerTicks(I, Math.max(2, Math.floor(o.height / 24))),
    },
    ticks: true,
    border: true,
    leftMargin: o.left,
    rightMargin: o.gutter,
    label: o.label,
    readout: o.readout,
    // Never over the map's cells: triangles in the gutter pointing at the rows.
    annotate: (ctx, plot) => {
      const ch = plot.h / I;
      for (const { row, color } of o.marks) {
        const y = plot.y + (row + 0.5) * ch;
        ctx.fillStyle = color;
        ctx.beginPath();
        ctx.moveTo(plot.x + plot.w + 2, y);
        ctx.lineTo(plot.x + plot.w + o.gutter - 1, y - half);
        ctx.lineTo(plot.x + plot.w + o.gutter - 1, y + half);
        ctx.closePath();
        ctx.fill();
      }
    },
    ...(o.overlay ? { overlay: o.overlay } : {}),
  });
}
