// Heatmap pixels: values → LUT index → packed RGBA, written into a Uint32Array view of an ImageData.
// Pure (no DOM), so the hot loops are unit-tested in Node.
import { LUT_CENTER, LUT_LAST, NONFINITE_INDEX, sequentialIndex } from './colormap';
import type { Cube } from './tensor';

/** Which part of a cube one heatmap panel shows, and how. */
export interface HeatmapSpec {
  cube: Cube;
  sample: number;
  /** Columns (channels) [colFrom, colTo) of the cube. */
  colFrom: number;
  colTo: number;
  /** Draw the columns in reverse order (the mirrored backward half of a bidirectional layer). */
  reversed: boolean;
  /** Rows (timesteps) [0, rowCount) of the cube: See RNN's max_timesteps. */
  rowCount: number;
  /** Cube rows (timesteps) along x, columns (channels) along y — See RNN's timesteps_xaxis. */
  rowsOnX: boolean;
}

/** Pixel size of a panel's image: one pixel per value. */
export function heatmapSize(spec: HeatmapSpec): { width: number; height: number } {
  const cols = spec.colTo - spec.colFrom;
  return spec.rowsOnX ? { width: spec.rowCount, height: cols } : { width: cols, height: spec.rowCount };
}

/**
 * Paints one panel under the symmetric norm (-a, a) with a diverging LUT: `out` has width × height entries
 * (see heatmapSize). Reads the cube in memory order (rows outer, columns inner) whatever the orientation.
 */
export function fillDiverging(out: Uint32Array, spec: HeatmapSpec, a: number, lut: Uint32Array): void {
  const { cube, sample, colFrom, colTo, reversed, rowCount, rowsOnX } = spec;
  const { data, rows, cols } = cube;
  const nonFinite = lut[NONFINITE_INDEX]!;
  const scale = a > 0 ? LUT_CENTER / a : 0;
  const width = rowsOnX ? rowCount : colTo - colFrom;
  const first = lut[0]!;
  const last = lut[LUT_LAST]!;
  for (let r = 0; r < rowCount; r++) {
    const base = (sample * rows + r) * cols;
    for (let c = colFrom; c < colTo; c++) {
      const v = data[base + c]!;
      const k = reversed ? colTo - 1 - c : c - colFrom;
      const at = rowsOnX ? k * width + r : r * width + k;
      if (v - v !== 0) {
        out[at] = nonFinite;
        continue;
      }
      // divergingIndex inlined: clamp, then round half away from zero (|f| < 127 here, so `| 0` is exact).
      const f = v * scale;
      if (f >= LUT_CENTER) out[at] = last;
      else if (f <= -LUT_CENTER) out[at] = first;
      else out[at] = lut[LUT_CENTER + (f >= 0 ? (f + 0.5) | 0 : -((0.5 - f) | 0))]!;
    }
  }
}

/** Paints a row-major width × height matrix with a sequential LUT on [lo, hi] (the flow heatmap). */
export function fillSequential(
  out: Uint32Array,
  values: Float32Array,
  width: number,
  height: number,
  lo: number,
  hi: number,
  lut: Uint32Array,
): void {
  const n = width * height;
  for (let i = 0; i < n; i++) out[i] = lut[sequentialIndex(values[i]!, lo, hi)]!;
}

/** One panel of a reflect_half split: a block of channels and whether it is drawn mirrored. */
export interface HalfPanel {
  name: string;
  colFrom: number;
  colTo: number;
  reversed: boolean;
}

/**
 * See RNN's reflect_half for a bidirectional layer with concatenated directions: one panel per channel part
 * (equal blocks along the channel axis, e.g. ['forward', 'backward']), every panel after the first mirrored so
 * that the two directions meet at the boundary channel by channel (forward unit u-1 next to backward unit u-1).
 * Time is not flipped: snapshots are already in input time order. Without parts (or reflect off): one panel.
 */
export function splitHalves(
  cols: number,
  parts: readonly string[] | undefined,
  reflect: boolean,
): HalfPanel[] {
  if (!reflect || !parts || parts.length < 2 || cols % parts.length !== 0)
    return [{ name: '', colFrom: 0, colTo: cols, reversed: false }];
  const width = cols / parts.length;
  return parts.map((name, i) => ({ name, colFrom: i * width, colTo: (i + 1) * width, reversed: i > 0 }));
}
