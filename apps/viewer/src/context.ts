// The one context every view of a run page takes (the figures — 2D, 1D, 0D, flow, distribution, weights — the
// training strip and the evidence under the verdicts): the page's state, the room the view has, the series shown,
// the run's data as of the page's frame (frame.ts), whether the render is still current, the way to change the
// state, and where its uPlot charts go (the page destroys them with the view). One is made per render.
import type uPlot from 'uplot';
import type { SeriesData } from './data';
import type { Series } from './resolve';
import type { ViewState } from './state';

export interface ViewContext {
  state: ViewState;
  /** Width available to the view, CSS pixels. */
  width: number;
  /**
   * Points per scalar series every view of the render asks for (data.scalars): the frame's, fixed from the
   * figure's width, so that one read of the loss serves the frame, the training strip and the evidence (a view
   * narrower than the figure asking for fewer would be another read, another GET /scalars of a running run).
   */
  lossPoints: number;
  /** The series the page shows (its run, layers, compared iterations, snapshots). */
  series: Series;
  /** "lstm_1 · output-grad" (+ " · part"): what the titles name. */
  seriesName: string;
  /** The layer's channel parts (['forward', 'backward'] for a concat bidirectional layer); absent otherwise. */
  channelParts?: readonly string[];
  /** The run's data as of the page's frame: every piece clipped to `upTo`. */
  data: SeriesData;
  /** The newest iteration every view of the page shows (frame.ts); null: every one (a finished run). */
  upTo: number | null;
  /** False once a newer render started: the view stops without touching the page. */
  current(): boolean;
  /** Changes the page's state (its URL), a new history entry when `push`. */
  set(patch: Partial<ViewState>, push?: boolean): void;
  /** Where a view puts the uPlot charts it creates. */
  charts: uPlot[];
}

/** "lstm_1 · output-grad · forward/kernel/i". */
export function seriesName(series: Pick<Series, 'key'>): string {
  const k = series.key;
  return `${k.layer} · ${k.kind}${k.part ? ` · ${k.part}` : ''}`;
}

/** What a render gives every view besides the series. */
export type PageContext = Pick<
  ViewContext,
  'state' | 'width' | 'lossPoints' | 'data' | 'upTo' | 'current' | 'set'
>;

/**
 * The context of a render's views of a resolved series. Its channel parts are those of the first compared
 * snapshot (a weight's columns are gates, not directions: its snapshots carry none), else of any snapshot of
 * the series.
 */
export function viewContext(series: Series, page: PageContext): ViewContext {
  const first = series.snapshots.find((x) => x.iteration === series.iterations[0]);
  const channelParts = first
    ? first.channelParts
    : series.snapshots.find((x) => x.channelParts?.length)?.channelParts;
  return {
    ...page,
    series,
    seriesName: seriesName(series),
    ...(channelParts?.length ? { channelParts } : {}),
    charts: [],
  };
}
