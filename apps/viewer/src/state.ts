// The whole view state, kept in the URL fragment so that a view can be shared and survives a reload.
// `#/gallery` is the gallery; `#/run?run=…&layer=…&…` a view of one run. Defaults are left out of the URL.
import { KINDS, type Kind } from '@gradscope/format';
import { DIVERGING, type DivergingName, SEQUENTIAL, type SequentialName } from './colormap';
import { MAX_COMPARED } from './iterations';
import { DEFAULT_SMOOTHING } from './smooth';

export { KINDS, type Kind };

/**
 * The figures: See RNN's show_features_2D / 1D / 0D, the gradient flow map, the distribution (bands, or
 * histograms overlaid / offset), and See RNN's rnn_heatmap + rnn_histogram weights page.
 */
export type View = '2d' | '1d' | '0d' | 'flow' | 'dist' | 'weights';
export const VIEWS: readonly View[] = ['2d', '1d', '0d', 'flow', 'dist', 'weights'];

/** Distribution view: percentile bands over iterations, or TensorBoard's histogram overlay / offset modes. */
export type HistMode = 'bands' | 'overlay' | 'offset';
export const HIST_MODES: readonly HistMode[] = ['bands', 'overlay', 'offset'];

/** 'auto': max |value| over the compared iterations; 'p99': the 99th percentile of |value|; a number: (-a, a). */
export type Norm = 'auto' | 'p99' | number;

/**
 * Samples to draw. 'auto': every sample of a small probe (at most AUTO_ALL_SAMPLES); of a larger one, the 2D view
 * shows the mean |value| over the samples and the AUTO_TOP_SAMPLES samples with the largest norms (1D overlays
 * all). 'all': every sample. A number or a list: those samples.
 */
export type SampleChoice = 'auto' | 'all' | number | number[];

/** A probe of at most this many samples shows all of them by default (See RNN's small multiples). */
export const AUTO_ALL_SAMPLES = 8;
/** Of a larger probe, the 2D view shows by default the mean |value| and this many samples with the largest norms. */
export const AUTO_TOP_SAMPLES = 3;

/** The 2D colour scale: one for every compared iteration, or one per iteration (a trained iteration's gradients
 * can be orders of magnitude smaller than the first's: on the shared scale they look blank). */
export type ColorScale = 'shared' | 'each';

export interface ViewState {
  page: 'gallery' | 'run';
  run: string | null;
  layer: string | null;
  kind: Kind;
  /** Part of the layer (weight/gate, or direction of a non-concat bidirectional); null = whole output. */
  part: string | null;
  view: View;
  /** Iterations to compare, 1–4; empty = the defaults (20/200/400 or first/middle/last). */
  iterations: number[];
  /** Show every iteration after the first as its difference against the first. */
  diff: boolean;
  norm: Norm;
  /** Rows of the small multiples (See RNN's n_rows); null = automatic. */
  rows: number | null;
  /**
   * See RNN's reflect_half: the directions of a bidirectional layer as separate panels, the second half of the
   * channels flipped about the timesteps dimension (so the backward direction reads in the order it ran).
   */
  reflect: boolean;
  /** Mirror the channel order of the second half as well (a separate option; off by default). */
  mirror: boolean;
  /** Axis the timesteps run along in the 2D heatmaps (See RNN's timesteps_xaxis). */
  timeAxis: 'x' | 'y';
  colorbar: boolean;
  ticks: boolean;
  borders: boolean;
  /** Which samples (2D: one panel per sample; 1D: overlaid); see SampleChoice. */
  sample: SampleChoice;
  /** 2D: one colour scale shared by the compared iterations, or one per iteration. */
  scale: ColorScale;
  /** 1D: one y range for every channel (See RNN's equate_axes). */
  equal: boolean;
  /** Show only the first maxT timesteps (See RNN's max_timesteps); null = all. */
  maxT: number | null;
  /** Channel range "a-b" for the 1D small multiples; null = the first ones that fit. */
  channels: string | null;
  cmap: DivergingName;
  flowCmap: SequentialName;
  /** Follow a running training: new iterations appear as they are recorded. */
  follow: boolean;
  /** Distribution view: arcsinh y scale (gradients span orders of magnitude). */
  asinh: boolean;
  hist: HistMode;
  /** Loss chart: smoothing weight in [0, 0.999] (TensorBoard's debiased EMA). */
  smooth: number;
  /** Loss chart: log y axis. */
  logY: boolean;
  /** Loss chart's x axis: the optimizer step, or the wall time each point was recorded (`x=time`). */
  lossX: 'step' | 'time';
}

export const DEFAULT_STATE: Readonly<ViewState> = Object.freeze({
  page: 'gallery',
  run: null,
  layer: null,
  kind: 'output-grad',
  part: null,
  view: '2d',
  iterations: [],
  diff: false,
  norm: 'auto',
  rows: null,
  reflect: true,
  mirror: false,
  timeAxis: 'x',
  colorbar: true,
  ticks: true,
  borders: true,
  sample: 'auto',
  scale: 'shared',
  equal: true,
  maxT: null,
  channels: null,
  cmap: 'RdBu',
  flowCmap: 'viridis',
  follow: false,
  asinh: false,
  hist: 'bands',
  smooth: DEFAULT_SMOOTHING,
  logY: false,
  lossX: 'step',
}) as ViewState;

export function defaultState(): ViewState {
  return { ...DEFAULT_STATE, iterations: [] };
}

function positiveInt(text: string | null): number | null {
  if (text === null || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function flag(text: string | null, fallback: boolean): boolean {
  if (text === '1' || text === 'true') return true;
  if (text === '0' || text === 'false') return false;
  return fallback;
}

function parseNorm(text: string | null): Norm {
  if (text === null || text === 'auto') return 'auto';
  if (text === 'p99') return 'p99';
  const a = Math.abs(Number(text));
  return Number.isFinite(a) && a > 0 ? a : 'auto';
}

/** Most samples of the listed kind a URL names (a probe has at most a few hundred). */
const MAX_LISTED_SAMPLES = 64;

/** `sample=`: absent (auto), 'auto', 'all', one index, or a comma-separated list of them (one index: a number). */
export function parseSample(text: string | null): SampleChoice {
  if (text === 'all') return 'all';
  if (text === null || !/^\d+(,\d+)*$/.test(text)) return 'auto';
  const list = [...new Set(text.split(',').map(Number))].slice(0, MAX_LISTED_SAMPLES);
  return list.length === 1 ? list[0]! : list;
}

/** The state a URL (its fragment, or `?view=gallery` in its query) describes; anything unreadable is a default. */
export function parseState(hash: string, search = ''): ViewState {
  const state = defaultState();
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const q = h.indexOf('?');
  const path = q < 0 ? h : h.slice(0, q);
  const p = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
  const outer = new URLSearchParams(search);
  if (path !== '/run' || outer.get('view') === 'gallery') return state;
  state.page = 'run';
  state.run = p.get('run') || null;
  state.layer = p.get('layer') || null;
  const kind = p.get('kind');
  if (kind && (KINDS as readonly string[]).includes(kind)) state.kind = kind as Kind;
  state.part = p.get('part') || null;
  const view = p.get('view');
  if (view && (VIEWS as readonly string[]).includes(view)) state.view = view as View;
  state.iterations = [
    ...new Set(
      (p.get('it') ?? '')
        .split(',')
        .filter((s) => /^\d+$/.test(s))
        .map(Number),
    ),
  ].slice(0, MAX_COMPARED);
  state.diff = flag(p.get('diff'), false);
  state.norm = parseNorm(p.get('norm'));
  state.rows = positiveInt(p.get('rows'));
  state.reflect = flag(p.get('reflect'), DEFAULT_STATE.reflect);
  state.mirror = flag(p.get('mirror'), DEFAULT_STATE.mirror);
  state.timeAxis = p.get('t') === 'y' ? 'y' : 'x';
  state.colorbar = flag(p.get('cb'), DEFAULT_STATE.colorbar);
  state.ticks = flag(p.get('ticks'), DEFAULT_STATE.ticks);
  state.borders = flag(p.get('borders'), DEFAULT_STATE.borders);
  const sample = p.get('sample');
  state.sample = parseSample(sample);
  state.scale = p.get('scale') === 'each' ? 'each' : 'shared';
  state.equal = flag(p.get('equal'), DEFAULT_STATE.equal);
  state.maxT = positiveInt(p.get('maxT'));
  state.channels = p.get('ch') || null;
  const cmap = p.get('cmap');
  if (cmap && (DIVERGING as readonly string[]).includes(cmap)) state.cmap = cmap as DivergingName;
  const flowCmap = p.get('fcmap');
  if (flowCmap && (SEQUENTIAL as readonly string[]).includes(flowCmap))
    state.flowCmap = flowCmap as SequentialName;
  state.follow = flag(p.get('follow'), false);
  state.asinh = flag(p.get('asinh'), false);
  const hist = p.get('hist');
  if (hist && (HIST_MODES as readonly string[]).includes(hist)) state.hist = hist as HistMode;
  const smooth = Number(p.get('smooth') ?? Number.NaN);
  if (p.get('smooth') !== null && Number.isFinite(smooth))
    state.smooth = Math.min(0.999, Math.max(0, smooth));
  state.logY = flag(p.get('logy'), false);
  state.lossX = p.get('x') === 'time' ? 'time' : 'step';
  return state;
}

/** The URL fragment of a state (with the leading '#'); parseState(formatState(s)) equals s. */
export function formatState(state: ViewState): string {
  if (state.page === 'gallery') return '#/gallery';
  const p = new URLSearchParams();
  const d = DEFAULT_STATE;
  const set = (
    key: string,
    value: string | number | boolean | null,
    dflt: string | number | boolean | null,
  ) => {
    if (value === dflt || value === null) return;
    p.set(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  };
  set('run', state.run, null);
  set('layer', state.layer, null);
  set('kind', state.kind, d.kind);
  set('part', state.part, null);
  set('view', state.view, d.view);
  if (state.iterations.length > 0) p.set('it', state.iterations.join(','));
  set('diff', state.diff, d.diff);
  set('norm', state.norm, d.norm);
  set('rows', state.rows, null);
  set('reflect', state.reflect, d.reflect);
  set('mirror', state.mirror, d.mirror);
  set('t', state.timeAxis, d.timeAxis);
  set('cb', state.colorbar, d.colorbar);
  set('ticks', state.ticks, d.ticks);
  set('borders', state.borders, d.borders);
  set('sample', Array.isArray(state.sample) ? state.sample.join(',') : state.sample, d.sample as string);
  set('scale', state.scale, d.scale);
  set('equal', state.equal, d.equal);
  set('maxT', state.maxT, null);
  set('ch', state.channels, null);
  set('cmap', state.cmap, d.cmap);
  set('fcmap', state.flowCmap, d.flowCmap);
  set('follow', state.follow, d.follow);
  set('asinh', state.asinh, d.asinh);
  set('hist', state.hist, d.hist);
  set('smooth', state.smooth, d.smooth);
  set('logy', state.logY, d.logY);
  set('x', state.lossX, d.lossX);
  const query = p.toString();
  return query ? `#/run?${query}` : '#/run';
}

/** The norm as See RNN writes it in a title: "norm=(-0.01, 0.01)". */
export function formatNorm(a: number): string {
  const s = formatNumber(a);
  return `norm=(-${s}, ${s})`;
}

/** A short, readable number: 3 significant digits, exponent form outside [1e-3, 1e4). */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e-3 && abs < 1e4) return String(Number(v.toPrecision(3)));
  return v.toExponential(2).replace(/\.?0+e/, 'e');
}

/** The URL fragment of a run's page with every other setting at its default (`run`: its URL key, runNames.ts). */
export function runLink(run: string): string {
  return formatState({ ...defaultState(), page: 'run', run });
}
