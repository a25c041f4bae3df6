// The series resolver: URL state + what the server holds (runs, layers, snapshots) → what to draw, the URL
// fix-ups that make the address say what is shown, and the notes telling the user what was replaced. Pure.
import type { LayerInfo, RunDetails, RunRecord, SeriesKey, SnapshotInfo } from './api';
import { resolveIterations } from './iterations';
import { runKey } from './runNames';
import { DEFAULT_STATE, KINDS, type Kind, type View, type ViewState } from './state';
import { isZeroD } from './tensor';

/** One series of one run, resolved: everything a figure needs besides its data. */
export interface Series {
  run: RunDetails;
  layers: LayerInfo[];
  layer: LayerInfo;
  key: SeriesKey;
  /** The snapshots of the series (one per iteration), ascending by iteration. */
  snapshots: SnapshotInfo[];
  /** Recorded iterations, ascending (of a long run, those of its downsampled index: see series-index.ts). */
  available: number[];
  /** Snapshots the series holds, when more than `available` lists (a downsampled index). */
  recorded?: number;
  /** Iterations to show. */
  iterations: number[];
  /** A layer output without a time axis (sample × channel): See RNN's 0D case. */
  zeroD: boolean;
  hasTime: boolean;
  /** True for a weight or weight gradient (their channel parts are gates, never directions). */
  weightKind: boolean;
}

/** The run a URL names (by id or name), else the newest one; `missing` when it names one that is not there. */
export function pickRun(
  wanted: string | null,
  runs: readonly RunRecord[],
): { run: RunRecord; missing: false } | { run: null; missing: boolean } {
  if (runs.length === 0) return { run: null, missing: wanted !== null };
  // An id names one run; a name shared by several (a rerun) names the newest of them.
  const hit =
    wanted === null
      ? undefined
      : (runs.find((r) => r.id === wanted) ??
        runs.filter((r) => r.name === wanted).sort((a, b) => b.startedAt - a.startedAt)[0]);
  if (hit) return { run: hit, missing: false };
  if (wanted !== null) return { run: null, missing: true };
  return { run: [...runs].sort((a, b) => b.startedAt - a.startedAt)[0]!, missing: false };
}

/** Layer, kind and part to show: the wanted ones when the layer has them, else the first that exists. */
export function pickSeries(
  state: Pick<ViewState, 'layer' | 'kind' | 'part' | 'view'>,
  layers: readonly LayerInfo[],
): { layer: LayerInfo; key: SeriesKey } | null {
  if (layers.length === 0) return null;
  const layer =
    layers.find((l) => l.layer === state.layer) ?? layers.find((l) => l.kinds['output-grad']) ?? layers[0]!;
  const kinds = KINDS.filter((k) => layer.kinds[k]);
  const kind: Kind = kinds.includes(state.kind) ? state.kind : (kinds[0] ?? 'output-grad');
  const parts = layer.kinds[kind] ?? [null];
  const part = parts.includes(state.part) ? state.part : (parts[0] ?? null);
  return { layer, key: { layer: layer.layer, kind, part } };
}

/** True for the kinds whose snapshots are a layer's parameters (or their gradients). */
export function isWeightKind(kind: Kind): boolean {
  return kind === 'weight' || kind === 'weight-grad';
}

/**
 * The figure a series can draw: a 0D series cannot draw 2D/1D/flow and vice versa; a series without a time axis
 * has no flow map (it falls back to 2D, or 0D); the weights page needs a weight kind.
 */
export function usableView(view: View, s: { zeroD: boolean; hasTime: boolean; weightKind: boolean }): View {
  if (view === 'weights') return s.weightKind ? 'weights' : s.zeroD ? '0d' : '2d';
  if (s.zeroD && (view === '2d' || view === '1d' || view === 'flow')) return '0d';
  if (!s.zeroD && view === '0d') return '2d';
  if (view === 'flow' && !s.hasTime) return s.zeroD ? '0d' : '2d';
  return view;
}

export interface Resolution {
  series: Series;
  /** Fields of the state to rewrite in the URL (without a new history entry) so that it says what is shown. */
  fixes: Partial<ViewState>;
  /** Things replaced that the user asked for, in words (shown above the figure). */
  notices: string[];
}

/**
 * Resolves one run's series: the iterations to show (the wanted ones that exist, else the defaults; the
 * newest when following), the view it can draw, and the URL fix-ups and notices for whatever was replaced.
 */
export function resolveSeries(
  state: ViewState,
  record: RunRecord,
  run: RunDetails,
  layers: LayerInfo[],
  picked: { layer: LayerInfo; key: SeriesKey },
  snapshots: readonly SnapshotInfo[],
  /** Every run on the server: a name shared by two runs cannot name either, the URL then names the id. */
  runs: readonly RunRecord[] = [record],
): Resolution {
  const { layer, key } = picked;
  // The index of one series: be strict about the part (a null part is the whole layer output).
  const own = snapshots
    .filter((x) => (x.part ?? null) === key.part && x.kind === key.kind && x.layer === key.layer)
    .sort((a, b) => a.iteration - b.iteration || a.id - b.id);
  const available = [...new Set(own.map((x) => x.iteration))];
  const iterations = resolveIterations(state.iterations, available, state.follow);
  const dims = own[0]?.dims ?? [];
  const zeroD = isZeroD(dims);
  const hasTime = dims.includes('timestep');
  const weightKind = isWeightKind(key.kind);
  const view = usableView(state.view, { zeroD, hasTime, weightKind });
  const notices: string[] = [];
  const fixes: Partial<ViewState> = {};
  const runName = runKey(record, runs);
  if (state.run !== runName) fixes.run = runName;
  if (state.layer !== key.layer) {
    fixes.layer = key.layer;
    if (state.layer !== null) notices.push(`layer "${state.layer}" has no snapshots: showing ${key.layer}`);
  }
  if (state.kind !== key.kind) {
    fixes.kind = key.kind;
    // The default kind is not something the user asked for.
    if (state.kind !== DEFAULT_STATE.kind)
      notices.push(`${key.layer} has no ${state.kind} snapshots: showing ${key.kind}`);
  }
  // The weights page shows every part at once: the URL names none.
  if (view !== 'weights' && state.part !== key.part) {
    fixes.part = key.part;
    if (state.part !== null)
      notices.push(
        `${key.layer} has no part "${state.part}" of ${key.kind}: showing ${key.part ?? 'the whole output'}`,
      );
  }
  if (state.view !== view) {
    fixes.view = view;
    if (state.view !== DEFAULT_STATE.view) notices.push(viewNotice(state.view, view, key.kind));
  }
  const missing = state.iterations.filter((it) => !available.includes(it));
  if (missing.length > 0 && available.length > 0) {
    const list = missing.join(', ');
    notices.push(
      `iteration${missing.length > 1 ? 's' : ''} ${list} ${missing.length > 1 ? 'were' : 'was'} not recorded: showing ${iterations.join(', ')}`,
    );
  }
  // Written back when replaced, or when following moved them on; defaults stay out of the URL.
  if (state.iterations.length > 0 && !sameList(state.iterations, iterations)) fixes.iterations = iterations;
  return {
    series: { run, layers, layer, key, snapshots: own, available, iterations, zeroD, hasTime, weightKind },
    fixes,
    notices,
  };
}

function viewNotice(from: View, to: View, kind: Kind): string {
  const names: Record<View, string> = {
    '2d': '2D',
    '1d': '1D',
    '0d': '0D',
    flow: 'gradient flow',
    dist: 'distribution',
    weights: 'weights',
  };
  const why =
    from === 'flow'
      ? `${kind} has no timestep axis`
      : from === 'weights'
        ? 'the weights page shows kind weight or weight-grad'
        : from === '0d'
          ? 'this series has a timestep axis'
          : 'this series has no timestep axis';
  return `the ${names[from]} view cannot draw this series (${why}): showing ${names[to]}`;
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
