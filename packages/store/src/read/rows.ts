// Series matrices from `series_chunks` rows: rows in (iteration, id) order, downsampled before anything is
// copied, channel parts aligned to the whole tensor's rows by snapshot id (a part missing at some iteration
// leaves a NaN row, never a shifted one).

import type { HorizonRows } from '@gradscope/format';
import { CHUNK_STATS, type ChunkStat } from '../columns.js';
import { HISTOGRAM_BUCKETS } from '../histogram.js';
import type { SeriesOptions } from '../provider.js';
import type { SeriesChunkRow } from '../schema.js';

/** The columns the series queries select. */
export type ChunkRow = Pick<
  SeriesChunkRow,
  | 'channel_part'
  | 'level'
  | 'count'
  | 'width'
  | 'ids'
  | 'iterations'
  | 'timestep_norms'
  | 'histograms'
  | 'minmax'
  | 'stats'
>;

/** How many rows a series query returns. */
function view<T extends Float32Array | Float64Array | Uint32Array>(
  Type: { new (b: ArrayBuffer, o: number, n: number): T; new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number },
  buf: Buffer,
): T {
  const size = Type.BYTES_PER_ELEMENT;
  if (buf.byteOffset % size === 0)
    return new Type(buf.buffer as ArrayBuffer, buf.byteOffset, buf.byteLength / size);
  return new Type(new Uint8Array(buf).buffer);
}

export const f32 = (b: Buffer) => view(Float32Array, b);
export const f64 = (b: Buffer) => view(Float64Array, b);
export const u32 = (b: Buffer) => view(Uint32Array, b);

/** `max` row indices evenly spaced over [0, n), first and last included; every index when n ≤ max. */
export function evenRows(n: number, max: number | undefined): Int32Array {
  if (max === undefined || n <= max) return identity(n);
  if (max <= 1) return Int32Array.of(n - 1);
  const out: number[] = [];
  for (let i = 0; i < max; i++) {
    const r = Math.round((i * (n - 1)) / (max - 1));
    if (out.length === 0 || out[out.length - 1] !== r) out.push(r);
  }
  return Int32Array.from(out);
}

function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/**
 * The rows of one channel part: where each snapshot's row lives in the chunks. Chunks of a sampled level
 * come with the last level-0 chunk, of which only the last row (the newest snapshot) is taken; a snapshot
 * met twice is taken once.
 */
class PartRows {
  readonly n: number;
  readonly ids: Float64Array;
  readonly iterations: Float64Array;
  /** Index into `chunks` and row within it, per row. */
  readonly chunk: Int32Array;
  readonly row: Int32Array;
  readonly width: number;

  constructor(
    readonly chunks: ChunkRow[],
    level: number,
  ) {
    let n = 0;
    let width = 0;
    for (const c of chunks) {
      n += c.count;
      width = Math.max(width, c.width);
    }
    this.width = width;
    const ids = new Float64Array(n);
    const iterations = new Float64Array(n);
    const chunk = new Int32Array(n);
    const row = new Int32Array(n);
    const seen = level > 0 ? new Set<number>() : undefined;
    let at = 0;
    chunks.forEach((c, ci) => {
      const cIds = f64(c.ids);
      const cIts = f64(c.iterations);
      const from = c.level < level ? c.count - 1 : 0;
      for (let k = from; k < c.count; k++) {
        const id = cIds[k]!;
        if (seen) {
          if (seen.has(id)) continue;
          seen.add(id);
        }
        ids[at] = id;
        iterations[at] = cIts[k]!;
        chunk[at] = ci;
        row[at] = k;
        at++;
      }
    });
    this.n = at;
    this.ids = ids.subarray(0, at);
    this.iterations = iterations.subarray(0, at);
    this.chunk = chunk.subarray(0, at);
    this.row = row.subarray(0, at);
  }

  private readonly views = new Map<string, (Float32Array | Float64Array | Uint32Array)[]>();

  /** Typed views of one BLOB column of every chunk, made once (a chunk's BLOB is read by many rows). */
  column<T extends Float32Array | Float64Array | Uint32Array>(
    name: 'timestep_norms' | 'histograms' | 'minmax' | 'stats',
    as: (b: Buffer) => T,
  ): T[] {
    let v = this.views.get(name);
    if (!v) {
      v = this.chunks.map((c) => as(c[name]));
      this.views.set(name, v);
    }
    return v as T[];
  }

  /** Row positions in (iteration, id) order. */
  order(): Int32Array {
    const idx = identity(this.n);
    const { ids, iterations: its } = this;
    let sorted = true;
    for (let i = 1; i < this.n && sorted; i++) {
      sorted = its[i]! > its[i - 1]! || (its[i] === its[i - 1] && ids[i]! > ids[i - 1]!);
    }
    if (!sorted) idx.sort((a, b) => its[a]! - its[b]! || ids[a]! - ids[b]!);
    return idx;
  }

  /** Row position of each snapshot id. */
  byId(): Map<number, number> {
    const m = new Map<number, number>();
    for (let i = 0; i < this.n; i++) m.set(this.ids[i]!, i);
    return m;
  }
}

/**
 * One series as stored: the whole tensor's rows (''), and each channel part's rows aligned to them. Only the
 * rows picked by `options.maxRows` are ever copied out.
 */
export class SeriesRows {
  private readonly whole: PartRows;
  private readonly parts = new Map<string, PartRows>();
  /** Row positions (into the whole's rows) of the selected rows, in (iteration, id) order. */
  private readonly pick: Int32Array;
  private partIndex = new Map<string, Map<number, number>>();

  /**
   * @param rows chunk rows of one level (and the last level-0 chunk of each part when `level` > 0)
   * @param total snapshots in the series (level 0), what `count` reports
   */
  constructor(
    rows: ChunkRow[],
    options: SeriesOptions,
    level: number,
    private readonly total: number,
  ) {
    const byPart = new Map<string, ChunkRow[]>();
    for (const r of rows) {
      const list = byPart.get(r.channel_part);
      if (list) list.push(r);
      else byPart.set(r.channel_part, [r]);
    }
    this.whole = new PartRows(byPart.get('') ?? [], level);
    for (const [p, list] of byPart) if (p !== '') this.parts.set(p, new PartRows(list, level));
    const order = this.whole.order();
    this.pick = evenRows(order.length, options.maxRows).map((i) => order[i]!);
  }

  get empty(): boolean {
    return this.whole.n === 0;
  }

  /** Rows stored before downsampling. */
  get count(): number {
    return this.total;
  }

  get width(): number {
    return this.whole.width;
  }

  get partNames(): string[] {
    return [...this.parts.keys()];
  }

  ids(): number[] {
    return Array.from(this.pick, (r) => this.whole.ids[r]!);
  }

  iterations(): number[] {
    return Array.from(this.pick, (r) => this.whole.iterations[r]!);
  }

  /** The selected rows' source position in `part` ('' = whole), -1 where the part has no row for that snapshot. */
  private sources(part: string): { rows: PartRows; at: Int32Array } {
    if (part === '') return { rows: this.whole, at: this.pick };
    const rows = this.parts.get(part)!;
    let index = this.partIndex.get(part);
    if (!index) {
      index = rows.byId();
      this.partIndex.set(part, index);
    }
    const at = new Int32Array(this.pick.length);
    this.pick.forEach((r, i) => {
      at[i] = index!.get(this.whole.ids[r]!) ?? -1;
    });
    return { rows, at };
  }

  /** Selected rows × `width` float32 timestep norms; NaN pads short rows and rows a part lacks. */
  norms(part: string, width = this.width): Float32Array {
    const { rows, at } = this.sources(part);
    const out = new Float32Array(at.length * width);
    const views = rows.column('timestep_norms', f32);
    at.forEach((src, i) => {
      if (src < 0) {
        out.fill(Number.NaN, i * width, (i + 1) * width);
        return;
      }
      const ci = rows.chunk[src]!;
      const w = rows.chunks[ci]!.width;
      const k = rows.row[src]!;
      const from = views[ci]!.subarray(k * w, (k + 1) * w);
      out.set(from.subarray(0, Math.min(w, width)), i * width);
      if (w < width) out.fill(Number.NaN, i * width + w, (i + 1) * width);
    });
    return out;
  }

  /** Selected rows × HISTOGRAM_BUCKETS counts (zeros for rows a part lacks), and min/max per row. */
  histograms(part: string): { counts: Uint32Array; minmax: Float64Array } {
    const { rows, at } = this.sources(part);
    const B = HISTOGRAM_BUCKETS;
    const counts = new Uint32Array(at.length * B);
    const minmax = new Float64Array(at.length * 2).fill(Number.NaN);
    const hists = rows.column('histograms', u32);
    const mms = rows.column('minmax', f64);
    at.forEach((src, i) => {
      if (src < 0) return;
      const ci = rows.chunk[src]!;
      const k = rows.row[src]!;
      counts.set(hists[ci]!.subarray(k * B, (k + 1) * B), i * B);
      minmax.set(mms[ci]!.subarray(2 * k, 2 * k + 2), 2 * i);
    });
    return { counts, minmax };
  }

  /** One CHUNK_STATS column of the selected rows (NaN for null and for rows a part lacks). */
  stat(part: string, field: ChunkStat): Float64Array {
    const { rows, at } = this.sources(part);
    const j = CHUNK_STATS.indexOf(field);
    const F = CHUNK_STATS.length;
    const out = new Float64Array(at.length).fill(Number.NaN);
    const views = rows.column('stats', f64);
    at.forEach((src, i) => {
      if (src < 0) return;
      const stats = views[rows.chunk[src]!]!;
      if (stats.length > 0) out[i] = stats[rows.row[src]! * F + j]!;
    });
    return out;
  }

  /** Memory horizon of the selected rows (null where unknown). */
  horizons(part: string): HorizonRows {
    const nullable = (a: Float64Array) => Array.from(a, (v) => (Number.isNaN(v) ? null : v));
    return { horizon: nullable(this.stat(part, 'horizon')), t0Ratio: nullable(this.stat(part, 't0Ratio')) };
  }
}
