// The viewer's only way to the data: the HTTP API of docs/api.md, relative to the page (so any mount prefix works).
import type { MatrixJson } from './matrix';
import type { Kind } from './state';
import { decodeTensor, type Tensor } from './tensor';

export interface RunRecord {
  id: string;
  name: string;
  startedAt: number;
  endedAt?: number | null;
  status: 'running' | 'finished' | 'failed';
  snapshots: number;
  lastIteration: number | null;
  backend: string;
  tfjsVersion: string;
  host: string;
  layers?: string[];
  /** Free-form run metadata (e.g. a description), when the server passes it on. */
  meta?: Record<string, unknown>;
  description?: string;
}

export interface LayerSummary {
  index: number;
  name: string;
  className: string;
  units?: number;
  returnSequences?: boolean;
  mergeMode?: string | null;
  innerClassName?: string;
  gates?: string;
  outputShape: unknown;
  captured: boolean;
}

export interface RunDetails extends RunRecord {
  model: {
    name: string;
    className: string;
    layers: LayerSummary[];
    inputShape?: unknown;
    outputShape?: unknown;
    losses?: string[];
    optimizer?: string;
  };
  options: { mode: string; every?: number; at?: number[]; capture: Kind[]; layers: string[] };
}

export interface LayerInfo {
  layer: string;
  layerClass: string;
  kinds: Partial<Record<Kind, (string | null)[]>>;
  iterations: number[];
  channelParts?: string[];
}

export interface ScalarSummary {
  l2: number;
  maxAbs: number;
  mean: number;
  std: number;
  nonFinite: number;
}

export interface SnapshotInfo {
  id: number;
  iteration: number;
  epoch: number;
  batch: number;
  layer: string;
  kind: Kind;
  part: string | null;
  shape: number[];
  dims: string[];
  loss: number;
  time: number;
  nonFinite: number;
  summary: ScalarSummary;
  channelParts?: string[] | null;
}

export interface FlowResponse {
  iterations: number[];
  timesteps: number;
  /** iterations × timesteps, iteration-major. */
  norms: MatrixJson;
  parts?: Record<string, MatrixJson>;
}

export interface HistogramsResponse {
  iterations: number[];
  edges: (number | null)[];
  counts: MatrixJson;
  /** values: iterations × p.length, iteration-major. */
  percentiles: { p: number[]; values: MatrixJson };
}

/** The per-snapshot summary (GET /api/snapshots/:id/summary); only what the viewer reads. */
export interface SnapshotSummary {
  timestepNorms: MatrixJson | null;
  parts?: Record<string, { timestepNorms: MatrixJson | null }>;
}

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

  run(run: string): Promise<RunDetails> {
    return this.json(`api/runs/${encodeURIComponent(run)}`);
  }

  layers(run: string): Promise<LayerInfo[]> {
    return this.json(`api/runs/${encodeURIComponent(run)}/layers`);
  }

  snapshots(run: string, key: SeriesKey): Promise<SnapshotInfo[]> {
    return this.json(`api/runs/${encodeURIComponent(run)}/snapshots?${seriesQuery(key)}`);
  }

  flow(run: string, key: SeriesKey): Promise<FlowResponse> {
    return this.json(`api/runs/${encodeURIComponent(run)}/flow?${seriesQuery(key)}`);
  }

  histograms(run: string, key: SeriesKey): Promise<HistogramsResponse> {
    return this.json(`api/runs/${encodeURIComponent(run)}/histograms?${seriesQuery(key)}`);
  }

  summary(id: number): Promise<SnapshotSummary> {
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
  async tensor(info: SnapshotInfo): Promise<Tensor> {
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
