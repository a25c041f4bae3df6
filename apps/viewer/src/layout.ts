// Small multiples: how many rows and columns a set of panels takes, and where each one goes.

export interface Grid {
  rows: number;
  cols: number;
  /** Row and column of each panel, row-major. */
  cells: { row: number; col: number }[];
}

/**
 * Rows for `n` small multiples when none are asked for: a grid about `aspect` times wider (in panels) than tall,
 * e.g. 16 samples at aspect 1 → 4 rows (See RNN's n_rows=4), 6 channels at aspect 1.5 → 2 rows (its n_rows=2).
 */
export function autoRows(n: number, aspect = 1): number {
  return n <= 1 ? 1 : Math.max(1, Math.round(Math.sqrt(n / aspect)));
}

/**
 * `n` panels in `nRows` rows, filled row by row. Unlike See RNN's `int(n / n_rows)` columns, which drops panels
 * when n is not a multiple, the column count rounds up and the last row may be short. nRows is clamped to [1, n].
 */
export function gridLayout(n: number, nRows?: number | null): Grid {
  if (n <= 0) return { rows: 0, cols: 0, cells: [] };
  const rowsWanted = Math.min(n, Math.max(1, Math.floor(nRows ?? autoRows(n))));
  const cols = Math.ceil(n / rowsWanted);
  const rows = Math.ceil(n / cols);
  const cells = Array.from({ length: n }, (_, i) => ({ row: Math.floor(i / cols), col: i % cols }));
  return { rows, cols, cells };
}

/**
 * Width of one panel when `cols` panels share `available` pixels with `gap` pixels between them, at least
 * `min` (the page scrolls sideways rather than drawing unreadable panels).
 */
export function panelWidth(available: number, cols: number, gap: number, min = 40): number {
  if (cols <= 0) return 0;
  return Math.max(min, Math.floor((available - gap * (cols - 1)) / cols));
}

/**
 * Height of a heatmap panel of `width` pixels showing `imageWidth` × `imageHeight` values: the image's own
 * aspect ratio, kept between `minRatio` and 1 of the width so that 6 channels × 500 timesteps stay readable
 * (like matplotlib's 'tight' axes, which fill the subplot) and 512 channels × 20 timesteps do not tower.
 */
export function heatmapHeight(
  width: number,
  imageWidth: number,
  imageHeight: number,
  minRatio = 0.5,
): number {
  const ratio = imageWidth > 0 ? imageHeight / imageWidth : 1;
  return Math.round(width * Math.min(1, Math.max(minRatio, ratio)));
}

/** Parses a channel range "a-b" (inclusive) or "a" against `count` channels; null for "all" or nonsense. */
export function parseRange(text: string | null | undefined, count: number): [number, number] | null {
  if (!text) return null;
  const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(text);
  if (!m) return null;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  const lo = Math.min(a, b);
  const hi = Math.min(count - 1, Math.max(a, b));
  return lo > hi ? null : [lo, hi + 1];
}

/**
 * Integer tick positions for an axis of `n` cells (0 … n-1) with at most about `maxTicks` ticks: steps of
 * 1, 2 or 5 × 10^k, always starting at 0.
 */
export function integerTicks(n: number, maxTicks: number): number[] {
  if (n <= 0) return [];
  const span = Math.max(1, n - 1);
  const raw = span / Math.max(1, maxTicks - 1);
  const mag = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v <= span; v += step) out.push(v);
  // Room for two ticks but a step longer than the axis: mark both ends.
  if (out.length < 2 && maxTicks >= 2 && n > 1) out.push(n - 1);
  return out;
}

/**
 * Small multiples that fit `available` pixels: `n` panels of at least `min` px with `gap` between. Automatic rows
 * (`rows` null) grow until the columns fit; asked-for rows are kept, and `width` (the grid's total) then says how
 * much room the grid takes, so that its block can be sized to it instead of overlapping the next one.
 */
export function fitGrid(
  n: number,
  rows: number | null,
  available: number,
  gap: number,
  min: number,
  aspect = 1,
): Grid & { panel: number; width: number } {
  const maxCols = Math.max(1, Math.floor((available + gap) / (min + gap)));
  let grid = gridLayout(n, rows ?? autoRows(n, aspect));
  if (rows === null && grid.cols > maxCols) grid = gridLayout(n, Math.ceil(n / maxCols));
  const panel = panelWidth(available, grid.cols, gap, min);
  return { ...grid, panel, width: grid.cols * panel + gap * Math.max(0, grid.cols - 1) };
}
