// Colormap lookup tables for the canvas heatmaps: 256 packed RGBA entries written straight into an ImageData.
import { rgb } from 'd3-color';
import { interpolateLab, piecewise } from 'd3-interpolate';
import { interpolateMagma, interpolateViridis, schemeRdBu } from 'd3-scale-chromatic';

/** Entries of every LUT. */
export const LUT_SIZE = 256;
/**
 * Entries 0…254 are the colormap sampled at i / 254 (an odd count, so that the middle entry 127 is exactly the
 * colormap's centre: zero of a symmetric norm); entry 255 marks non-finite values (NaN, ±Infinity).
 */
export const LUT_LAST = 254;
export const LUT_CENTER = 127;
export const NONFINITE_INDEX = 255;

export type DivergingName = 'RdBu' | 'bwr';
export type SequentialName = 'viridis' | 'magma';
export type ColormapName = DivergingName | SequentialName;
export const DIVERGING: readonly DivergingName[] = ['RdBu', 'bwr'];
export const SEQUENTIAL: readonly SequentialName[] = ['viridis', 'magma'];

/** Colour shown for non-finite values: an exploding gradient must not look like a small one. */
export const NONFINITE_COLOR: readonly [number, number, number] = [0, 0, 0];

/**
 * ColorBrewer's 11-class RdBu (from d3-scale-chromatic), reversed so that negative is blue and positive red
 * (matplotlib's 'bwr' convention used by See RNN), with its centre #f7f7f7 replaced by pure white so that a zero
 * gradient is white, interpolated in CIELAB by d3-interpolate.
 */
const rdBu = (() => {
  const anchors = [...(schemeRdBu[11] as readonly string[])].reverse();
  anchors[5] = '#ffffff';
  return piecewise(interpolateLab, anchors);
})();

/** matplotlib's 'bwr' (See RNN's default): linear blue → white → red. Three anchors, no table to keep. */
function bwr(t: number): string {
  const r = t < 0.5 ? 2 * t : 1;
  const g = t < 0.5 ? 2 * t : 2 - 2 * t;
  const b = t < 0.5 ? 1 : 2 - 2 * t;
  return `rgb(${Math.round(r * 255)}, ${Math.round(g * 255)}, ${Math.round(b * 255)})`;
}

const INTERPOLATORS: Record<ColormapName, (t: number) => string> = {
  RdBu: rdBu,
  bwr,
  viridis: interpolateViridis,
  magma: interpolateMagma,
};

/** The colormap as a CSS colour at t ∈ [0, 1]. */
export function colorAt(name: ColormapName, t: number): string {
  return INTERPOLATORS[name](Math.min(1, Math.max(0, t)));
}

/** True when the platform stores Uint32 little-endian (every browser in practice; checked, not assumed). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] === 0x04;

/** One RGBA colour packed the way a Uint32Array view over ImageData.data reads it. */
export function packRgba(r: number, g: number, b: number, a = 255): number {
  return LITTLE_ENDIAN
    ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0
    : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

/** The RGBA bytes of a packed colour. */
export function unpackRgba(packed: number): [number, number, number, number] {
  if (LITTLE_ENDIAN) return [packed & 0xff, (packed >>> 8) & 0xff, (packed >>> 16) & 0xff, packed >>> 24];
  return [packed >>> 24, (packed >>> 16) & 0xff, (packed >>> 8) & 0xff, packed & 0xff];
}

const cache = new Map<ColormapName, Uint32Array>();

/** The 256-entry LUT of a colormap (built once, then shared). */
export function lut(name: ColormapName): Uint32Array {
  let table = cache.get(name);
  if (table) return table;
  table = new Uint32Array(LUT_SIZE);
  for (let i = 0; i <= LUT_LAST; i++) {
    const c = rgb(INTERPOLATORS[name](i / LUT_LAST));
    table[i] = packRgba(Math.round(c.r), Math.round(c.g), Math.round(c.b));
  }
  table[NONFINITE_INDEX] = packRgba(...NONFINITE_COLOR);
  cache.set(name, table);
  return table;
}

/**
 * LUT index of v under the symmetric norm (-a, a): 0 at -a, LUT_CENTER at 0, LUT_LAST at a, clamped beyond.
 * Rounds half away from zero, so that v and -v always land the same distance from the centre.
 */
export function divergingIndex(v: number, a: number): number {
  if (v - v !== 0) return NONFINITE_INDEX;
  const f = (v / a) * LUT_CENTER;
  if (f >= LUT_CENTER) return LUT_LAST;
  if (f <= -LUT_CENTER) return 0;
  return LUT_CENTER + (f >= 0 ? Math.floor(f + 0.5) : -Math.floor(0.5 - f));
}

/**
 * LUT index of v on [lo, hi]: 0 at lo (and for -Infinity, e.g. log10 of a zero norm), LUT_LAST at hi;
 * NaN and +Infinity are non-finite.
 */
export function sequentialIndex(v: number, lo: number, hi: number): number {
  if (v === Number.NEGATIVE_INFINITY) return 0;
  if (v - v !== 0) return NONFINITE_INDEX;
  const span = hi - lo;
  const i = span > 0 ? Math.round(((v - lo) / span) * LUT_LAST) : LUT_CENTER;
  return Math.max(0, Math.min(LUT_LAST, i));
}
