// writeExport(): carries out a plan, to its files (each appears atomically) or to one Node Writable.
import { mkdirSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { product } from '@gradscope/format';
import { StoreError } from '@gradscope/store';
import { ByteSink } from './byte-sink.js';
import { writeAtomically } from './file-output.js';
import { longBatches, writeArrowBatches } from './long-layout.js';
import { writeParquet } from './parquet.js';
import { writeScalars } from './scalars.js';
import { writeTensorGroup } from './tensor-layout.js';
import type { ExportedFile, ExportPlan, ExportResult, PlannedFile, WriteOptions } from './types.js';

/** Writes one planned file's bytes to a sink; resolves to its rows. */
async function writeFile(
  plan: ExportPlan,
  file: PlannedFile,
  sink: ByteSink,
  ipc: 'file' | 'stream',
  tick: () => void,
): Promise<number> {
  if (plan.data === 'scalars') return writeScalars(plan, sink, ipc, tick);
  if (plan.layout === 'tensor') {
    return writeTensorGroup(plan.reader, plan.run, file.groups[0]!, sink, ipc, tick);
  }
  const source = longBatches(plan.reader, plan.run, file.groups, plan.format === 'parquet');
  const rows = await (plan.format === 'parquet'
    ? writeParquet(source, sink, tick)
    : writeArrowBatches(source, sink, ipc, tick));
  // One row per value: a file with fewer would be a silent loss.
  let values = 0;
  for (const g of file.groups) for (const s of g.snapshots) values += product(s.shape);
  if (rows !== values) {
    throw new StoreError(
      'EIO',
      `the export of run ${JSON.stringify(plan.run.name)} wrote ${rows} rows for ${values} values`,
    );
  }
  return rows;
}

function progress(plan: ExportPlan, options: WriteOptions) {
  const total = plan.data === 'scalars' ? plan.files.length : plan.snapshots;
  const state = { done: 0, file: '<stream>' };
  const tick = () => {
    state.done++;
    options.onProgress?.({ done: state.done, total, file: state.file });
  };
  return { state, tick };
}

/**
 * Carries out a plan from `planExport`. Without a Writable, writes the plan's file or directory: each file is
 * written aside and renamed into place when complete, so a failed export leaves no partial file. With a
 * Writable (a plan made without `out`), writes the one file's bytes to it and ends it.
 *
 * @example
 * await writeExport(await planExport(reader, { run: 'my-run', out: 'grads' })); // grads/<layer>__<kind>.arrow, …
 * await writeExport(await planExport(reader, { run: 'my-run', layer: 'lstm_1', kind: 'output-grad' }), reply.raw);
 */
export async function writeExport(plan: ExportPlan, options?: WriteOptions): Promise<ExportResult>;
export async function writeExport(
  plan: ExportPlan,
  out: Writable,
  options?: WriteOptions,
): Promise<ExportResult>;
export async function writeExport(
  plan: ExportPlan,
  outOrOptions?: Writable | WriteOptions,
  maybeOptions?: WriteOptions,
): Promise<ExportResult> {
  const isStream = outOrOptions !== undefined && typeof (outOrOptions as Writable).write === 'function';
  const options = (isStream ? maybeOptions : (outOrOptions as WriteOptions | undefined)) ?? {};
  const { state, tick } = progress(plan, options);
  const files: ExportedFile[] = [];

  if (isStream) {
    if (plan.target.type !== 'stream') {
      throw new StoreError(
        'EINVAL',
        `this plan writes to ${plan.target.path}; plan without 'out' to write to a stream`,
      );
    }
    const out = outOrOptions as Writable;
    const sink = new ByteSink(out);
    const file = plan.files[0]!;
    const rows = await writeFile(plan, file, sink, plan.ipc, tick);
    out.end();
    await finished(out);
    files.push({ path: '<stream>', rows, snapshots: file.snapshots, bytes: sink.bytes });
  } else {
    if (plan.target.type === 'stream') {
      throw new StoreError('EINVAL', `this plan has no 'out' path: pass a Writable to write it to`);
    }
    if (plan.target.type === 'directory') {
      try {
        mkdirSync(plan.target.path, { recursive: true });
      } catch (err) {
        throw new StoreError(
          'EPATH',
          `cannot create export directory ${plan.target.path}: ${(err as Error).message}`,
          { file: plan.target.path, cause: err },
        );
      }
    }
    for (const file of plan.files) {
      const path = file.path!;
      state.file = path;
      const r = await writeAtomically(path, (sink) => writeFile(plan, file, sink, plan.ipc, tick));
      files.push({ path, rows: r.rows, snapshots: file.snapshots, bytes: r.bytes });
    }
  }
  return {
    files,
    snapshots: plan.snapshots,
    rows: files.reduce((a, f) => a + f.rows, 0),
    bytes: files.reduce((a, f) => a + f.bytes, 0),
  };
}
