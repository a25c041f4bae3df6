// The one context every figure view takes (2D, 1D, 0D, flow, distribution, weights): the page's state, the room
// the figure has, what it shows, and where its uPlot charts go (the page destroys them with the figure).
import type { Kind } from '@gradscope/format';
import type uPlot from 'uplot';
import type { SnapshotInfo } from './api';
import type { Series } from './resolve';
import type { ViewState } from './state';

export interface ViewContext {
  state: ViewState;
  /** Width available to the figure, CSS pixels. */
  width: number;
  /** "lstm_1 · output-grad" (+ " · part"): what the titles name. */
  seriesName: string;
  kind: Kind;
  /** The compared iterations, in the order the page compares them. */
  iterations: readonly number[];
  /** The series' snapshots (one per recorded iteration), ascending by iteration. */
  snapshots: readonly SnapshotInfo[];
  /** The layer's channel parts (['forward', 'backward'] for a concat bidirectional layer); absent otherwise. */
  channelParts?: readonly string[];
  /** Where a view puts the uPlot charts it creates. */
  charts: uPlot[];
}

/** "lstm_1 · output-grad · forward/kernel/i". */
export function seriesName(series: Pick<Series, 'key'>): string {
  const k = series.key;
  return `${k.layer} · ${k.kind}${k.part ? ` · ${k.part}` : ''}`;
}

/**
 * The context of a resolved series' figure. Its channel parts are those of the first compared snapshot (a
 * weight's columns are gates, not directions: its snapshots carry none), else of any snapshot of the series.
 */
export function viewContext(
  series: Pick<Series, 'key' | 'snapshots' | 'iterations'>,
  state: ViewState,
  width: number,
  charts: uPlot[] = [],
): ViewContext {
  const first = series.snapshots.find((x) => x.iteration === series.iterations[0]);
  const channelParts = first
    ? first.channelParts
    : series.snapshots.find((x) => x.channelParts?.length)?.channelParts;
  return {
    state,
    width,
    seriesName: seriesName(series),
    kind: series.key.kind,
    iterations: series.iterations,
    snapshots: series.snapshots,
    ...(channelParts?.length ? { channelParts } : {}),
    charts,
  };
}
