// The viewer's only way to the data: the HTTP API of docs/api.md, relative to the page (so any mount prefix works).
import type {
  DiagnosisResponse,
  FlowResponse,
  HistogramsResponse,
  LayersResponse,
  OutcomesResponse,
  RunResponse,
  RunsResponse,
  ScalarsResponse,
  SeriesResponse,
  SnapshotInfoJson,
  SnapshotSummaryJson,
  SnapshotsResponse,
} from '@gradscope/format';
import type { Kind } from './state';
import { decodeTensor, type Tensor } from './tensor';

// The response types are @gradscope/format's, as the server sends them (numbers that were not finite are null).
export type {
  DiagnosisResponse,
  FlowResponse,
  HistogramsResponse,
  LayerInfo,
  LayerSummary,
  RunDetails,
  ScalarSeriesJson,
  ScalarsResponse,
  SeriesResponse,
  SnapshotInfoJson as SnapshotInfo,
  SnapshotSummaryJson as SnapshotSummary,
} from '@gradscope/format';

/**
 * A run as listed. `description` is not sent by the server (the description lives in `meta.description`);
 * it stays optional here for runDescription's older callers.
 */
export type RunRecord = RunsResponse[number] & { description?: string };

/** An HTTP error with the server's message (`{ error, message }` bodies). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'gradscope.token';

/**
 * Reads `?token=` from the page URL on first load, keeps it in sessionStorage and takes it out of the address
 * bar (a shared view URL must not carry it).
 */
export function takeToken(): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.toString());
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Which rows of GET /api/runs/:run/snapshots: iterations from..to (inclusive), `limit` rows after `offset`. */
export interface SnapshotPage {
  from?: number;
  to?: number;
  limit?: number;
  offset?: number;
  order?: 'asc' | 'desc';
}

export interface SeriesKey {
  layer: string;
  kind: Kind;
  part: string | null;
}

function seriesQuery(key: SeriesKey, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ layer: key.layer, kind: key.kind, ...extra });
  if (key.part !== null) q.set('part', key.part);
  return q.toString();
}

/** Tensors are immutable (the server says so too): keep the most recent ones, up to this many bytes. */
const TENSOR_CACHE_BYTES = 384 * 1024 * 1024;

export class Api {
  private readonly tensors = new Map<number, Tensor>();
  private tensorBytes = 0;

  constructor(
    private readonly token: string | null,
    private readonly base = new URL('./', location.href),
  ) {}

  url(path: string): string {
    return new URL(path, this.base).toString();
  }

  private async get(path: string, accept: string): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await fetch(this.url(path), { headers });
    if (!res.ok) {
      let message = `${res.status} ${res.statusText} from ${path}`;
      try {
        const body = (await res.json()) as { message?: string };
        if (body.message) message = `${body.message} (${res.status})`;
      } catch {
        // not JSON: keep the status line
      }
      throw new ApiError(res.status, message);
    }
    return res;
  }

  private async json<T>(path: string): Promise<T> {
    return (await (await this.get(path, 'application/json')).json()) as T;
  }

  runs(): Promise<RunRecord[]> {
    return this.json('api/runs');
  }

  /** Every run with the verdict of each recurrent layer (the runs table's one request). */
  outcomes(): Promise<OutcomesResponse> {
    return this.json('api/outcomes');
  }

  run(run: string): Promise<RunResponse> {
    return this.json(`api/runs/${encodeURIComponent(run)}`);
  }

  layers(run: string): Promise<LayersResponse> {
    return this.json(`api/runs/${encodeURIComponent(run)}/layers`);
  }

  snapshots(run: string, key: SeriesKey): Promise<SnapshotsResponse> {
    return this.json(`api/runs/${encodeURIComponent(run)}/snapshots?${seriesQuery(key)}`);
  }

  /** Some rows of the snapshot index: an iteration range and/or one page (`limit`, `offset`) of a series. */
  snapshotRows(run: string, key: SeriesKey, page: SnapshotPage): Promise<SnapshotsResponse> {
    const extra = Object.fromEntries(Object.entries(page).map(([k, v]) => [k, String(v)]));
    return this.json(`api/runs/${encodeURIComponent(run)}/snapshots?${seriesQuery(key, extra)}`);
  }

  /** One row of the snapshot index. */
  snapshot(id: number): Promise<SnapshotInfoJson> {
    return this.json(`api/snapshots/${id}`);
  }

  /** The columnar index of one series (iterations and summaries), at most `max` rows evenly downsampled. */
  series(run: string, key: SeriesKey, max?: number): Promise<SeriesResponse> {
    const extra: Record<string, string> = max === undefined ? {} : { max: String(max) };
    return this.json(`api/runs/${encodeURIComponent(run)}/series?${seriesQuery(key, extra)}`);
  }

  /** The verdict of every recurrent layer of a run (the doctor's JSON; docs/api.md "Diagnosis"). */
  diagnosis(run: string): Promise<DiagnosisResponse> {
    return this.json(`api/runs/${encodeURIComponent(run)}/diagnosis`);
  }

  flow(run: string, key: SeriesKey): Promise<FlowResponse> {
    return this.json(`api/runs/${encodeURIComponent(run)}/flow?${seriesQuery(key)}`);
  }

  histograms(run: string, key: SeriesKey): Promise<HistogramsResponse> {
    return this.json(`api/runs/${encodeURIComponent(run)}/histograms?${seriesQuery(key)}`);
  }

  /** Training scalars of a run (loss, metrics, probe/loss), each downsampled to at most `maxPoints`. */
  scalars(run: string, maxPoints?: number): Promise<ScalarsResponse> {
    const q = maxPoints === undefined ? '' : `?maxPoints=${maxPoints}`;
    return this.json(`api/runs/${encodeURIComponent(run)}/scalars${q}`);
  }

  summary(id: number): Promise<SnapshotSummaryJson> {
    return this.json(`api/snapshots/${id}/summary`);
  }

  /** The Arrow export of one series (a download link; the server's token cookie authorizes it). */
  exportUrl(run: string, key: SeriesKey, iterations: number[]): string {
    const extra: Record<string, string> = { format: 'arrow', layout: 'tensor' };
    if (iterations.length > 0) extra.iterations = iterations.join(',');
    return this.url(`api/runs/${encodeURIComponent(run)}/export?${seriesQuery(key, extra)}`);
  }

  /** The live event stream (EventSource cannot send headers: the token goes in the query). */
  eventsUrl(run: string | null): string {
    const q = new URLSearchParams();
    if (run) q.set('run', run);
    if (this.token) q.set('token', this.token);
    const s = q.toString();
    return this.url(s ? `api/events?${s}` : 'api/events');
  }

  /** One snapshot's tensor, decoded from Arrow IPC (cached: snapshots never change). */
  async tensor(info: SnapshotsResponse[number]): Promise<Tensor> {
    const hit = this.tensors.get(info.id);
    if (hit) {
      this.tensors.delete(info.id);
      this.tensors.set(info.id, hit);
      return hit;
    }
    const res = await this.get(`api/snapshots/${info.id}/tensor`, 'application/vnd.apache.arrow.stream');
    const tensor = decodeTensor(new Uint8Array(await res.arrayBuffer()), info.shape, info.dims);
    this.tensors.set(info.id, tensor);
    this.tensorBytes += tensor.data.byteLength;
    for (const [id, t] of this.tensors) {
      if (this.tensorBytes <= TENSOR_CACHE_BYTES || id === info.id) break;
      this.tensors.delete(id);
      this.tensorBytes -= t.data.byteLength;
    }
    return tensor;
  }
}
