// Test fixtures: a run and snapshots whose values are easy to check by hand, a store holding them, and
// small HTTP helpers for real servers on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunInfo, Snapshot } from '@gradscope/format';
import { openStore, type Store } from '@gradscope/store';

export const [N, T, C] = [2, 5, 3];

export const RUN: RunInfo = {
  id: 'run-1',
  name: 'ex1-lstm3',
  startedAt: 1_700_000_000_000,
  model: {
    name: 'm',
    className: 'Sequential',
    layers: [],
    inputShape: [],
    outputShape: [],
    losses: ['meanSquaredError'],
  },
  options: { mode: 'probe', every: 20, capture: ['output-grad'], layers: ['lstm_1'] },
  backend: 'cpu',
  tfjsVersion: '4.22.0',
  host: 'test',
  meta: {},
} as RunInfo;

/** A gradient that decays going back in time, scaled per iteration. */
export function snapshot(iteration: number, run = RUN.id, extra: Partial<Snapshot> = {}): Snapshot {
  const data = new Float32Array(N * T * C);
  for (let s = 0; s < N; s++)
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++)
        data[(s * T + t) * C + c] = (iteration / 100) * 2 ** (t - T) * (c + 1) * (s ? -1 : 1);
  return {
    run,
    iteration,
    epoch: 0,
    batch: iteration - 1,
    layer: 'lstm_1',
    layerClass: 'LSTM',
    kind: 'output-grad',
    shape: [N, T, C],
    dims: ['sample', 'timestep', 'channel'],
    data,
    loss: 1 / iteration,
    time: 1_700_000_000_000 + iteration,
    nonFinite: 0,
    ...extra,
  };
}

export interface Fixture {
  dir: string;
  db: string;
  store: Store;
  cleanup(): Promise<void>;
}

/** A new store file holding RUN with a snapshot at each of `iterations`. */
export async function storeWith(iterations: number[], prefix = 'gradscope-server-'): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const db = join(dir, 'runs.gradscope');
  const store = await openStore(db);
  await store.startRun(RUN);
  for (const i of iterations) await store.write(snapshot(i));
  await store.flush();
  return {
    dir,
    db,
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field by the tests
  body: any;
}

/** Status, headers and parsed JSON body (undefined when the body is not JSON). */
export async function request(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

/** A request through node:http, which (unlike fetch) sends any Host header it is given. */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
