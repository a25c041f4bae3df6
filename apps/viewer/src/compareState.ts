// The compare page's state, kept in the URL fragment like the run page's:
// `#/compare?runs=a,b,c&layer=…&kind=…&it=…&smooth=…&logy=1&by=group&band=minmax`. Defaults are left out of the URL.
import { SEQUENTIAL, type SequentialName } from './colormap';
import { MAX_COMPARED } from './iterations';
import { DEFAULT_SMOOTHING } from './smooth';
import { KINDS, type Kind } from './state';

/** The compare page lays two to eight runs side by side, one line each… */
export const MIN_RUNS = 2;
export const MAX_RUNS = 8;
/** …or any number of runs in groups, one band per group (`by`). */
export const MAX_GROUPED_RUNS = 2000;

/** A group's band: mean ± one standard deviation, or the range (min–max) over its runs. */
export const BANDS = ['std', 'minmax'] as const;
export type Band = (typeof BANDS)[number];

export interface CompareState {
  /** Run names or ids, in the order they are shown (duplicates dropped, at most MAX_RUNS; MAX_GROUPED_RUNS with `by`). */
  runs: string[];
  /** A layer name of any of the runs, or a role ('recurrent:1'); null = the first recurrent layer. */
  layer: string | null;
  /** null = the kind the verdict rests on: the jacobian when recorded, else input-grad, else what there is. */
  kind: Kind | null;
  /**
   * What runs are grouped by, one band per value: 'group' (RunInfo.group) or a parameter's name ('cell', 'lr');
   * null = one line per run.
   */
  by: string | null;
  /** What a group's band spans. */
  band: Band;
  /** Iterations of the norm lines (each run shows its nearest recorded one); empty = first and last. */
  iterations: number[];
  /** Loss smoothing weight in [0, 0.999] (TensorBoard's debiased EMA). */
  smooth: number;
  /** Loss on a log y axis. */
  logY: boolean;
  flowCmap: SequentialName;
}

export const DEFAULT_COMPARE: Readonly<CompareState> = Object.freeze({
  runs: [],
  layer: null,
  kind: null,
  by: null,
  band: 'std',
  iterations: [],
  smooth: DEFAULT_SMOOTHING,
  logY: false,
  flowCmap: 'viridis',
}) as CompareState;

function fragment(hash: string): { path: string; query: string; params: URLSearchParams } {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const q = h.indexOf('?');
  const query = q < 0 ? '' : h.slice(q + 1);
  return { path: q < 0 ? h : h.slice(0, q), query, params: new URLSearchParams(query) };
}

/** The `runs` list split on its raw commas before decoding (an encoded comma belongs to a name). */
function runList(query: string): string[] {
  const raw = query.split('&').find((s) => s.startsWith('runs='));
  if (!raw) return [];
  return raw
    .slice(5)
    .split(',')
    .map((s) => {
      try {
        return decodeURIComponent(s.replaceAll('+', ' ')).trim();
      } catch {
        return '';
      }
    })
    .filter((s) => s.length > 0);
}

/** The smoothing weight a URL asks for, clamped to [0, 0.999]; unreadable = the default. */
function parseSmooth(text: string | null): number {
  if (text === null || text.trim() === '') return DEFAULT_COMPARE.smooth;
  const v = Number(text);
  if (!Number.isFinite(v)) return DEFAULT_COMPARE.smooth;
  return Math.min(0.999, Math.max(0, v));
}

/** The compare state of a URL fragment; anything unreadable is a default. */
export function parseCompare(hash: string): CompareState {
  const { query, params: p } = fragment(hash);
  const by = p.get('by')?.trim() || null;
  const runs = [...new Set(runList(query))].slice(0, by ? MAX_GROUPED_RUNS : MAX_RUNS);
  const kind = p.get('kind');
  const cmap = p.get('fcmap');
  const band = p.get('band');
  return {
    runs,
    layer: p.get('layer') || null,
    kind: kind && (KINDS as readonly string[]).includes(kind) ? (kind as Kind) : DEFAULT_COMPARE.kind,
    by,
    band: band && (BANDS as readonly string[]).includes(band) ? (band as Band) : DEFAULT_COMPARE.band,
    iterations: [
      ...new Set(
        (p.get('it') ?? '')
          .split(',')
          .filter((s) => /^\d+$/.test(s))
          .map(Number),
      ),
    ]
      .sort((a, b) => a - b)
      .slice(0, MAX_COMPARED),
    smooth: parseSmooth(p.get('smooth')),
    logY: p.get('logy') === '1',
    flowCmap:
      cmap && (SEQUENTIAL as readonly string[]).includes(cmap)
        ? (cmap as SequentialName)
        : DEFAULT_COMPARE.flowCmap,
  };
}

/**
 * The URL fragment of a compare state (with the leading '#'); parseCompare(formatCompare(s)) equals s for
 * every state parseCompare can return. Run names are kept readable (only what would break the list is escaped).
 */
export function formatCompare(s: CompareState): string {
  const parts: string[] = [];
  if (s.runs.length > 0) parts.push(`runs=${s.runs.map(encodeRunName).join(',')}`);
  if (s.layer !== null) parts.push(`layer=${encodeURIComponent(s.layer)}`);
  if (s.kind !== DEFAULT_COMPARE.kind) parts.push(`kind=${s.kind}`);
  if (s.by !== null) parts.push(`by=${encodeURIComponent(s.by)}`);
  if (s.band !== DEFAULT_COMPARE.band) parts.push(`band=${s.band}`);
  if (s.iterations.length > 0) parts.push(`it=${s.iterations.join(',')}`);
  if (s.smooth !== DEFAULT_COMPARE.smooth) parts.push(`smooth=${s.smooth}`);
  if (s.logY) parts.push('logy=1');
  if (s.flowCmap !== DEFAULT_COMPARE.flowCmap) parts.push(`fcmap=${s.flowCmap}`);
  return parts.length ? `#/compare?${parts.join('&')}` : '#/compare';
}

/** A run name in the `runs` list: percent-encoded, so a comma or '&' in a name cannot split it. */
function encodeRunName(name: string): string {
  return encodeURIComponent(name);
}

/** The compare page of these runs (names or ids). */
export function compareLink(runs: readonly string[], patch: Partial<CompareState> = {}): string {
  return formatCompare({ ...DEFAULT_COMPARE, ...patch, runs: [...runs] });
}
