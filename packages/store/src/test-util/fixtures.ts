// Test helpers: deterministic data, snapshots and runs, temp directories.
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreError } from '../errors.js';
import type { Kind, RunInfo, Snapshot } from '../types.js';

/** Deterministic float32 values over many orders of magnitude (xorshift32), optionally with NaN/±Infinity. */
export function values(seed: number, n: number, opts: { nonFinite?: number } = {}): Float32Array {
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
  for (let i = 0; i < n; i++) {
    const mag = 10 ** (-12 + next() * 14); // 1e-12 … 1e2
    out[i] = (next() < 0.5 ? -1 : 1) * mag;
  }
  const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let k = 0; k < (opts.nonFinite ?? 0); k++) out[Math.floor(next() * n)] = specials[k % 3]!;
  if (n > 4) {
    out[1] = 0;
    out[2] = -0;
  }
  return out;
}

export function countNonFinite(data: Float32Array): number {
  let n = 0;
  for (const v of data) if (!Number.isFinite(v)) n++;
  return n;
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
  loss?: number;
}

export function snapshot(o: SnapOpts = {}): Snapshot {
  const shape = o.shape ?? [3, 7, 4];
  const dims = o.dims ?? ['sample', 'timestep', 'channel'];
  const n = shape.reduce((a, b) => a * b, 1);
  const iteration = o.iteration ?? 0;
  const data = values(o.seed ?? iteration + 1, n, { nonFinite: o.nonFinite ?? 0 });
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
    loss: o.loss ?? 1 / (iteration + 1),
    time: 1_764_000_000_000 + iteration,
    nonFinite: countNonFinite(data),
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
      layers: [
        {
          index: 0,
          name: 'lstm_1',
          className: 'LSTM',
          units: 4,
          returnSequences: true,
          gates: 'ifco',
          outputShape: [null, 7, 4],
          captured: true,
        },
      ],
      inputShape: [[null, 7, 3]],
      outputShape: [[null, 7, 4]],
      losses: ['meanSquaredError'],
    },
    options: { mode: 'probe', every: 20, capture: ['output-grad'], layers: ['lstm_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'test-host',
  };
}

/** A fresh temp directory and a cleanup function. */
export function tempDir(prefix = 'gradscope-store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The bytes of a Float32Array (for byte-exact comparisons, NaN payloads included). */
export function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Plain float64 reference summary of the values whose flat index satisfies `keep`, computed independently. */
export function reference(
  data: Float32Array,
  shape: number[],
  dims: string[],
  keep: (index: number[]) => boolean = () => true,
) {
  const rank = shape.length;
  const tAxis = dims.indexOf('timestep');
  const T = tAxis >= 0 ? shape[tAxis]! : 0;
  const C = rank > 0 ? shape[rank - 1]! : 0;
  const ts = new Float64Array(T);
  const ch = new Float64Array(C);
  let sumSq = 0;
  let sum = 0;
  let n = 0;
  let nonFinite = 0;
  let maxAbs = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  const finite: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const idx: number[] = [];
    let rem = i;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a] = rem % shape[a]!;
      rem = Math.floor(rem / shape[a]!);
    }
    if (!keep(idx)) continue;
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    finite.push(v);
    n++;
    sumSq += v * v;
    sum += v;
    maxAbs = Math.max(maxAbs, Math.abs(v));
    min = Math.min(min, v);
    max = Math.max(max, v);
    if (T > 0) ts[idx[tAxis]!]! += v * v;
    if (C > 0) ch[idx[rank - 1]!]! += v * v;
  }
  const mean = n > 0 ? sum / n : 0;
  let sq = 0;
  for (const v of finite) sq += (v - mean) * (v - mean);
  return {
    l2: Math.sqrt(sumSq),
    maxAbs,
    min: n > 0 ? min : 0,
    max: n > 0 ? max : 0,
    mean,
    std: n > 0 ? Math.sqrt(sq / n) : 0,
    nonFinite,
    count: n + nonFinite,
    timestepNorms: Array.from(ts, Math.sqrt),
    channelNorms: Array.from(ch, Math.sqrt),
    finite,
  };
}

/** Relative closeness for float32-stored norms. */
export function close(a: number, b: number, rel = 2e-6): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Damages a database file the way a bad disk does: zeroes two consecutive pages 60% of the way into it (with
 * payloads of several pages, inside a payload's overflow chain, which a run lookup never reads).
 */
export function zeroPages(file: string, pageSize = 32768): void {
  const pages = statSync(file).size / pageSize;
  const fd = openSync(file, 'r+');
  try {
    for (const page of [Math.floor(pages * 0.6), Math.floor(pages * 0.6) + 1])
      writeSync(fd, Buffer.alloc(pageSize), 0, pageSize, (page - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
}

/** What `fn` throws or its promise rejects with; an Error when it does neither. */
export async function rejected(fn: () => unknown): Promise<StoreError> {
  try {
    await fn();
  } catch (err) {
    return err as StoreError;
  }
  throw new Error('expected a rejection');
}

/** What `fn` throws; an Error when it returns. */
export function thrown(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    return err as StoreError;
  }
  throw new Error('expected a throw');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
