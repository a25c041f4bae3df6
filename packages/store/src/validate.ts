// Argument checks shared by the writer, the reader and the export. Every message names the value and what
// was expected.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { checkGroup, checkOptions, checkParams, KINDS, WRITTEN_RUN_STATUSES } from '@gradscope/format';
import { StoreError } from './errors.js';
import type { CompactPolicy, RunTag } from './provider.js';
import type { Kind, RunInfo, ScalarPoint, Snapshot, WrittenRunStatus } from './types.js';

export const KIND_SET: ReadonlySet<Kind> = new Set<Kind>(KINDS);
export const STATUS_SET: ReadonlySet<WrittenRunStatus> = new Set<WrittenRunStatus>(WRITTEN_RUN_STATUSES);

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `a ${typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value}`;
}

function invalid(message: string): StoreError {
  return new StoreError('EINVAL', message);
}

/**
 * Checks a database path and returns it absolute. `mustExist` for readers. Errors: EPATH for a
 * non-string or empty path, a directory, or a missing parent directory; ENOENT for a missing file.
 */
export function checkDbPath(path: unknown, mustExist: boolean): string {
  if (typeof path !== 'string')
    throw new StoreError('EPATH', `database path must be a string, got ${show(path)}`);
  if (path.trim() === '') throw new StoreError('EPATH', 'database path must not be empty');
  if (path.includes('\0')) throw new StoreError('EPATH', `database path ${show(path)} contains a NUL byte`);
  const abs = resolve(path);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (st?.isDirectory()) {
    throw new StoreError(
      'EPATH',
      `${abs} is a directory; expected a database file such as ${abs}/runs.gradscope`,
      {
        file: abs,
      },
    );
  }
  if (!st) {
    if (mustExist) throw new StoreError('ENOENT', `${abs}: no such database file`, { file: abs });
    const dir = dirname(abs);
    const dst = statSync(dir, { throwIfNoEntry: false });
    if (!dst) throw new StoreError('EPATH', `${abs}: directory ${dir} does not exist`, { file: abs });
    if (!dst.isDirectory()) throw new StoreError('EPATH', `${abs}: ${dir} is not a directory`, { file: abs });
  } else if (!st.isFile()) {
    throw new StoreError('EPATH', `${abs} is not a regular file`, { file: abs });
  }
  return abs;
}

export function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '')
    throw invalid(`${name} must be a non-empty string, got ${show(value)}`);
  return value;
}

function nonNegativeInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(`${name} must be an integer >= 0, got ${show(value)}`);
  }
  return value;
}

/** Checks what the store relies on in a snapshot; returns a label for messages. */
export function validateSnapshot(s: unknown): string {
  if (typeof s !== 'object' || s === null) throw invalid(`snapshot must be an object, got ${show(s)}`);
  const snap = s as Partial<Snapshot>;
  nonEmptyString(snap.run, 'snapshot.run');
  nonEmptyString(snap.layer, 'snapshot.layer');
  if (typeof snap.layerClass !== 'string')
    throw invalid(`snapshot.layerClass must be a string, got ${show(snap.layerClass)}`);
  nonNegativeInt(snap.iteration, 'snapshot.iteration');
  nonNegativeInt(snap.epoch, 'snapshot.epoch');
  nonNegativeInt(snap.batch, 'snapshot.batch');
  nonNegativeInt(snap.nonFinite, 'snapshot.nonFinite');
  if (!KIND_SET.has(snap.kind as Kind)) {
    throw invalid(`snapshot.kind must be one of ${[...KIND_SET].join(', ')}, got ${show(snap.kind)}`);
  }
  if (snap.part !== undefined && typeof snap.part !== 'string') {
    throw invalid(`snapshot.part must be a string or undefined, got ${show(snap.part)}`);
  }
  if (typeof snap.loss !== 'number') throw invalid(`snapshot.loss must be a number, got ${show(snap.loss)}`);
  if (typeof snap.time !== 'number' || !Number.isFinite(snap.time)) {
    throw invalid(`snapshot.time must be a finite number, got ${show(snap.time)}`);
  }
  const label = `${snap.layer} ${snap.kind}${snap.part ? ` ${snap.part}` : ''} iteration ${snap.iteration}`;
  if (!(snap.data instanceof Float32Array))
    throw invalid(`snapshot.data of ${label} must be a Float32Array, got ${show(snap.data)}`);
  if (!Array.isArray(snap.shape) || !snap.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw invalid(
      `snapshot.shape of ${label} must be an array of integers >= 0, got ${JSON.stringify(snap.shape)}`,
    );
  }
  if (
    !Array.isArray(snap.dims) ||
    snap.dims.length !== snap.shape.length ||
    !snap.dims.every((d) => typeof d === 'string')
  ) {
    throw invalid(
      `snapshot.dims of ${label} must name each of the ${snap.shape.length} axes, got ${JSON.stringify(snap.dims)}`,
    );
  }
  const size = snap.shape.reduce((a, b) => a * b, 1);
  if (size !== snap.data.length) {
    throw invalid(
      `snapshot.data of ${label} has ${snap.data.length} values but shape [${snap.shape.join(', ')}] needs ${size}`,
    );
  }
  if (snap.channelParts !== undefined) {
    const parts = snap.channelParts;
    const last = snap.shape[snap.shape.length - 1] ?? 0;
    if (
      !Array.isArray(parts) ||
      parts.length === 0 ||
      !parts.every((p) => typeof p === 'string' && p !== '') ||
      new Set(parts).size !== parts.length ||
      last % parts.length !== 0
    ) {
      throw invalid(
        `snapshot.channelParts of ${label} must be distinct non-empty names splitting the last axis (${last}) evenly, got ${JSON.stringify(parts)}`,
      );
    }
  }
  return label;
}

export function validateRunInfo(run: unknown): RunInfo {
  if (typeof run !== 'object' || run === null) throw invalid(`run must be an object, got ${show(run)}`);
  const r = run as Partial<RunInfo>;
  nonEmptyString(r.id, 'run.id');
  if (typeof r.name !== 'string') throw invalid(`run.name must be a string, got ${show(r.name)}`);
  if (typeof r.startedAt !== 'number' || !Number.isFinite(r.startedAt)) {
    throw invalid(`run.startedAt must be a finite number, got ${show(r.startedAt)}`);
  }
  if (r.group !== undefined) checkGroup(r.group, 'run.group', invalid);
  if (r.params !== undefined) checkParams(r.params, 'run.params', invalid);
  return r as RunInfo;
}

/** Checks what tagRun sets; returns a plain copy (safe to post to the writer thread). */
/** A run's `meta` (updateRunMeta): a JSON object, returned as a plain copy. */
export function validateRunMeta(meta: unknown): Record<string, unknown> {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new StoreError(
      'EINVAL',
      `meta must be a JSON object, got ${Array.isArray(meta) ? 'an array' : String(meta)}`,
    );
  }
  try {
    return JSON.parse(JSON.stringify(meta)) as Record<string, unknown>;
  } catch (err) {
    throw new StoreError('EINVAL', `meta is not JSON: ${(err as Error).message}`);
  }
}

export function validateRunTag(tag: unknown): RunTag {
  checkOptions(tag, ['group', 'params'], 'tagRun', invalid);
  if (tag === undefined) throw invalid('tagRun needs { group } or { params }, got undefined');
  const t = tag as RunTag;
  if (t.group === undefined && t.params === undefined)
    throw invalid('tagRun needs { group } or { params } (or both), got neither');
  return {
    ...(t.group !== undefined
      ? { group: t.group === null ? null : checkGroup(t.group, 'group', invalid) }
      : {}),
    ...(t.params !== undefined ? { params: checkParams(t.params, 'params', invalid) } : {}),
  };
}

export function validateStatus(status: unknown): WrittenRunStatus {
  if (!STATUS_SET.has(status as WrittenRunStatus)) {
    throw invalid(`run status must be one of ${[...STATUS_SET].join(', ')}, got ${show(status)}`);
  }
  return status as WrittenRunStatus;
}

/** Checks scalar points of `run`; returns plain copies (safe to post to the writer thread). */
export function validateScalars(run: unknown, points: unknown): ScalarPoint[] {
  nonEmptyString(run, 'run');
  if (!Array.isArray(points)) throw invalid(`scalar points must be an array, got ${show(points)}`);
  return points.map((p: Partial<ScalarPoint>, i) => {
    const at = `scalar point ${i}`;
    if (typeof p !== 'object' || p === null) throw invalid(`${at} must be an object, got ${show(p)}`);
    nonNegativeInt(p.iteration, `${at}.iteration`);
    nonEmptyString(p.name, `${at}.name`);
    if (typeof p.value !== 'number') throw invalid(`${at}.value must be a number, got ${show(p.value)}`);
    if (typeof p.time !== 'number' || !Number.isFinite(p.time)) {
      throw invalid(`${at}.time must be a finite number, got ${show(p.time)}`);
    }
    return { iteration: p.iteration!, name: p.name!, value: p.value, time: p.time };
  });
}

export function validateCompactPolicy(policy: unknown): CompactPolicy {
  if (typeof policy !== 'object' || policy === null) {
    throw invalid(`compact policy must be an object, got ${show(policy)}`);
  }
  const p = policy as Partial<CompactPolicy>;
  positiveInt(p.every, 'compact policy.every', 0);
  if (p.every === undefined) throw invalid('compact policy.every must be a positive integer, got undefined');
  if (p.keepFirst !== undefined) nonNegativeInt(p.keepFirst, 'compact policy.keepFirst');
  if (
    p.keep !== undefined &&
    (!Array.isArray(p.keep) || !p.keep.every((i: unknown) => Number.isInteger(i)))
  ) {
    throw invalid(`compact policy.keep must be an array of iterations, got ${show(p.keep)}`);
  }
  if (
    p.runs !== undefined &&
    (!Array.isArray(p.runs) || !p.runs.every((r: unknown) => typeof r === 'string'))
  ) {
    throw invalid(`compact policy.runs must be an array of run ids or names, got ${show(p.runs)}`);
  }
  return {
    every: p.every,
    ...(p.keepFirst !== undefined ? { keepFirst: p.keepFirst } : {}),
    ...(p.keep !== undefined ? { keep: [...p.keep] } : {}),
    ...(p.runs !== undefined ? { runs: [...p.runs] } : {}),
  };
}

export function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalid(`${name} must be a positive integer, got ${show(value)}`);
  }
  return value;
}
