// Test helpers: deterministic snapshots and runs, temp directories.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kind, RunInfo, Snapshot } from '@gradscope/format';

/** Deterministic float32 values over many orders of magnitude (xorshift32), optionally with NaN/±Infinity. */
export function values(seed: number, n: number, nonFinite = 0): Float32Array {
  const out = new Float32Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  for (let i = 0; i < n; i++) out[i] = (next() < 0.5 ? -1 : 1) * 10 ** (-12 + next() * 14);
  const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let k = 0; k < nonFinite; k++) out[Math.floor(next() * n)] = specials[k % 3]!;
  if (n > 4) {
    out[1] = 0;
    out[2] = -0;
  }
  return out;
}

export interface SnapOpts {
  run?: string;
  iteration?: number;
  layer?: string;
  layerClass?: string;
  kind?: Kind;
  part?: string;
  shape?: number[];
  dims?: string[];
  channelParts?: string[];
  seed?: number;
  nonFinite?: number;
}

export function snapshot(o: SnapOpts = {}): Snapshot {
  const shape = o.shape ?? [3, 7, 4];
  const dims = o.dims ?? ['sample', 'timestep', 'channel'];
  const iteration = o.iteration ?? 0;
  const data = values(
    o.seed ?? iteration + 1,
    shape.reduce((a, b) => a * b, 1),
    o.nonFinite ?? 0,
  );
  const s: Snapshot = {
    run: o.run ?? 'run-1',
    iteration,
    epoch: Math.floor(iteration / 10),
    batch: iteration % 10,
    layer: o.layer ?? 'lstm_1',
    layerClass: o.layerClass ?? 'LSTM',
    kind: o.kind ?? 'output-grad',
    shape,
    dims: dims as Snapshot['dims'],
    data,
    loss: 1 / (iteration + 1),
    time: 1_764_000_000_000 + iteration,
    nonFinite: data.filter((v) => !Number.isFinite(v)).length,
  };
  if (o.part !== undefined) s.part = o.part;
  if (o.channelParts !== undefined) s.channelParts = o.channelParts;
  return s;
}

export function runInfo(id = 'run-1', name = 'experiment'): RunInfo {
  return {
    id,
    name,
    startedAt: 1_764_000_000_000,
    model: {
      name: 'model',
      className: 'Sequential',
      layers: [],
      inputShape: [],
      outputShape: [],
      losses: [],
    },
    options: { mode: 'probe', every: 20, capture: ['output-grad'], layers: ['lstm_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'test-host',
  };
}

/** A fresh temp directory and a cleanup function. */
export function tempDir(prefix = 'gradscope-export-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The bytes of a Float32Array (for byte-exact comparisons, NaN payloads included). */
export function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
