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
  /** Draw the columns in reverse order (the optional channel mirror of the backward half). */
  reversed: boolean;
  /**
   * Read the rows (timesteps) from the last one back: See RNN's reflect_half, which flips the second half of the
   * channels about the timesteps dimension so that the backward direction reads in the order it ran.
   */
  timeReversed?: boolean;
  /** Rows shown: See RNN's max_timesteps, the first rowCount of the cube (the last ones when time-reversed). */
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
  const flip = spec.timeReversed === true;
  const nonFinite = lut[NONFINITE_INDEX]!;
  const scale = a > 0 ? LUT_CENTER / a : 0;
  const width = rowsOnX ? rowCount : colTo - colFrom;
  const first = lut[0]!;
  const last = lut[LUT_LAST]!;
  for (let r = 0; r < rowCount; r++) {
    const base = (sample * rows + (flip ? rows - 1 - r : r)) * cols;
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

/** One panel of a reflect_half split: a block of channels and how it is drawn. */
export interface HalfPanel {
  name: string;
  colFrom: number;
  colTo: number;
  /** Channel order mirrored (the separate "mirror channels" option). */
  reversed: boolean;
  /** Timesteps flipped (reflect_half proper). */
  timeReversed: boolean;
}

/**
 * See RNN's reflect_half for a bidirectional layer with concatenated directions: one panel per channel part
 * (equal blocks along the channel axis, e.g. ['forward', 'backward']), every panel after the first flipped about
 * the timesteps dimension, so that the backward direction reads in the order it ran (snapshots hold both
 * directions in input time order). `mirror` also reverses the channel order of those panels. Without parts, or
 * with reflect off: one panel.
 */
export function splitHalves(
  cols: number,
  parts: readonly string[] | undefined,
  reflect: boolean,
  mirror = false,
): HalfPanel[] {
  if (!reflect || !parts || parts.length < 2 || cols % parts.length !== 0)
    return [{ name: '', colFrom: 0, colTo: cols, reversed: false, timeReversed: false }];
  const width = cols / parts.length;
  return parts.map((name, i) => ({
    name,
    colFrom: i * width,
    colTo: (i + 1) * width,
    reversed: mirror && i > 0,
    timeReversed: i > 0,
  }));
}

/**
 * The values a set of panels shows (the given samples; per panel its channel block and its rowCount rows,
 * the last ones when time-reversed): what an automatic norm is computed over.
 */
export function shownValues(
  cube: Cube,
  samples: readonly number[],
  panels: readonly Pick<HalfPanel, 'colFrom' | 'colTo' | 'timeReversed'>[],
  rowCount: number,
): Float32Array {
  const { data, rows, cols } = cube;
  const n = Math.min(rowCount, rows);
  // The whole cube: no copy.
  if (
    n === rows &&
    samples.length === cube.samples &&
    panels.length === 1 &&
    panels[0]!.colTo - panels[0]!.colFrom === cols
  )
    return data;
  let total = 0;
  for (const p of panels) total += (p.colTo - p.colFrom) * n * samples.length;
  const out = new Float32Array(total);
  let k = 0;
  for (const s of samples)
    for (const p of panels)
      for (let r = 0; r < n; r++) {
        const row = p.timeReversed ? rows - 1 - r : r;
        const base = (s * rows + row) * cols;
        out.set(data.subarray(base + p.colFrom, base + p.colTo), k);
        k += p.colTo - p.colFrom;
      }
  return out;
}
