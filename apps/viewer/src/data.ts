// The page's data caches over the API: runs, run details, layers, snapshot indexes, flow matrices and
// histograms, each dropped when a live event says it changed. Tensors are cached by the Api (they never change).
import type {
  Api,
  DiagnosisResponse,
  FlowResponse,
  HistogramsResponse,
  LayerInfo,
  RunDetails,
  RunRecord,
  ScalarsResponse,
  SeriesKey,
  SnapshotInfo,
} from './api';
import { partRowsAt, SeriesIndex } from './series-index';
import type { Kind } from './state';

/** Points per scalar series the page asks for: enough for a wide chart, bounded whatever the run length. */
export function scalarPoints(width: number): number {
  return Math.max(1000, Math.min(8000, Math.round(width * 2)));
}

/** What the live event stream says was stored. */
export interface SnapshotEvent {
  run: string;
  layer: string;
  kind: Kind;
  part: string | null;
  iteration: number;
}

/**
 * The read of `key`, kept in `cache` from its start so that every caller meanwhile and after shares it; a read
 * that fails is forgotten (the next call reads again).
 */
export function sharedRead<K, V>(cache: Map<K, Promise<V>>, key: K, read: () => Promise<V>): Promise<V> {
  const hit = cache.get(key);
  if (hit) return hit;
  const made = read();
  cache.set(key, made);
  made.catch(() => cache.get(key) === made && cache.delete(key));
  return made;
}

export function seriesCacheKey(run: string, key: SeriesKey): string {
  return `${run}\u0000${key.layer}\u0000${key.kind}\u0000${key.part ?? ''}`;
}

/**
 * What the run page's views read of a run: the DataCache itself, or a frame of it (frame.ts) that clips a
 * running run's pieces to one iteration.
 */
export type SeriesData = Pick<DataCache, 'api' | 'flow' | 'histograms' | 'scalars' | 'partSnapshots'>;

/** Cached look-ups; a finished run's details are kept, a running one's are asked again. */
export class DataCache {
  private runList: RunRecord[] | null = null;
  private readonly details = new Map<string, RunDetails>();
  private readonly layerLists = new Map<string, LayerInfo[]>();
  /** Bounded (downsampled) series indexes: a 50,000-snapshot run loads as many rows as a 2,000 one. */
  private readonly indexes = new Map<string, Promise<SeriesIndex>>();
  /** The snapshots of every part of one layer and kind at some iterations, for the weights page. */
  private readonly kindIndexes = new Map<string, SnapshotInfo[]>();
  /** Flow matrices and histograms, kept from the request's start (sharedRead): one request per key. */
  private readonly flows = new Map<string, Promise<FlowResponse>>();
  private readonly histogramsByKey = new Map<string, Promise<HistogramsResponse>>();
  /** Diagnoses of finished runs (a running run's is asked again: every capture can change it). */
  private readonly diagnoses = new Map<string, DiagnosisResponse>();
  /** Training scalars of finished runs (a running run's are asked again: they change every step). */
  private readonly scalarsByRun = new Map<string, ScalarsResponse>();

  constructor(readonly api: Api) {}

  /** The cached run list, or null before the first look-up. */
  get knownRuns(): RunRecord[] | null {
    return this.runList;
  }

  async runs(fresh = false): Promise<RunRecord[]> {
    if (fresh || !this.runList) this.runList = await this.api.runs();
    return this.runList;
  }

  async run(id: string): Promise<RunDetails> {
    const hit = this.details.get(id);
    if (hit && hit.status !== 'running') return hit;
    const d = await this.api.run(id);
    this.details.set(id, d);
    return d;
  }

  async layers(run: string): Promise<LayerInfo[]> {
    let layers = this.layerLists.get(run);
    if (!layers) {
      layers = await this.api.layers(run);
      this.layerLists.set(run, layers);
    }
    return layers;
  }

  /** A run's details and its recorded layers, asked at the same time (neither needs the other). */
  runWithLayers(id: string): Promise<[RunDetails, LayerInfo[]]> {
    return Promise.all([this.run(id), this.layers(id)]);
  }

  /** The series' bounded index (columnar, downsampled to SERIES_ROWS rows; see series-index.ts). */
  seriesIndex(run: string, key: SeriesKey): Promise<SeriesIndex> {
    return sharedRead(this.indexes, seriesCacheKey(run, key), () => SeriesIndex.load(this.api, run, key));
  }

  /**
   * The snapshot rows of one series the run page resolves against: the bounded index, plus the exact rows
   * of `wanted` iterations it left out. Never every row of a long run.
   */
  async snapshots(run: string, key: SeriesKey, wanted: readonly number[] = []): Promise<SnapshotInfo[]> {
    return (await this.seriesIndex(run, key)).withIterations(wanted);
  }

  /** The snapshots of the given parts of one layer and kind at `iterations` (one small listing per iteration). */
  async partSnapshots(
    run: string,
    layer: string,
    kind: Kind,
    parts: readonly (string | null)[],
    iterations: readonly number[],
  ): Promise<SnapshotInfo[]> {
    const k = `${seriesCacheKey(run, { layer, kind, part: '\u0001all' })}\u0000${parts.join('\u0002')}\u0000${iterations.join(',')}`;
    const hit = this.kindIndexes.get(k);
    if (hit) return hit;
    const list = await partRowsAt(this.api, run, layer, kind, parts, iterations);
    this.kindIndexes.set(k, list);
    return list;
  }

  /** A series' flow matrices; concurrent callers of one key share one request. */
  flow(run: string, key: SeriesKey): Promise<FlowResponse> {
    return sharedRead(this.flows, seriesCacheKey(run, key), () => this.api.flow(run, key));
  }

  /** A series' histograms; concurrent callers of one key share one request. */
  histograms(run: string, key: SeriesKey): Promise<HistogramsResponse> {
    return sharedRead(this.histogramsByKey, seriesCacheKey(run, key), () => this.api.histograms(run, key));
  }

  /** A run's training scalars, each downsampled to at most `maxPoints` (kept once the run has ended). */
  async scalars(run: RunRecord, maxPoints: number): Promise<ScalarsResponse> {
    const k = `${run.id}\u0000${maxPoints}`;
    const hit = this.scalarsByRun.get(k);
    if (hit) return hit;
    const got = await this.api.scalars(run.id, maxPoints);
    if (run.status !== 'running') this.scalarsByRun.set(k, got);
    return got;
  }

  /** The verdict of every recurrent layer of a run (kept once the run has ended). */
  async diagnosis(run: RunRecord): Promise<DiagnosisResponse> {
    const hit = this.diagnoses.get(run.id);
    if (hit) return hit;
    const got = await this.api.diagnosis(run.id);
    if (run.status !== 'running') this.diagnoses.set(run.id, got);
    return got;
  }

  /** A new snapshot was stored: drop everything that lists it. */
  forgetSnapshot(ev: SnapshotEvent): void {
    this.layerLists.delete(ev.run);
    const key = seriesCacheKey(ev.run, { layer: ev.layer, kind: ev.kind, part: ev.part ?? null });
    this.indexes.delete(key);
    this.flows.delete(key);
    this.histogramsByKey.delete(key);
    const kindKey = seriesCacheKey(ev.run, { layer: ev.layer, kind: ev.kind, part: '\u0001all' });
    for (const k of this.kindIndexes.keys()) if (k.startsWith(kindKey)) this.kindIndexes.delete(k);
  }

  forgetRuns(): void {
    this.runList = null;
  }

  forgetRun(id: string): void {
    this.details.delete(id);
    this.diagnoses.delete(id);
  }
}
