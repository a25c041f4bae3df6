// gradscope copy <src> <dst> [--run …]: moves runs between stores, a file and PostgreSQL either way (or file to
// file, database to database), losslessly: every tensor's Arrow payload as stored, the run's record (model,
// capture options, meta, group, params, status and times), every scalar. The destination is created when
// missing (a file, or the tables in a database); a run it already holds is refused, never merged.
import {
  openRunReader,
  openStore,
  type RunDetails,
  type RunReader,
  type Store,
  snapshotFromIpc,
} from '@gradscope/store';
import type { Command } from 'commander';
import { collect } from '../args.js';
import { UserError } from '../errors.js';
import { resolveRuns } from './store-file.js';

export interface CopyResult {
  runs: { id: string; name: string; snapshots: number; scalars: number }[];
  /** The destination as messages show it: a file's absolute path, a URL without its password. */
  path: string;
}

/** Scalar points per writeScalars call. */
const SCALAR_BATCH = 10_000;

/** A reader on the destination when it already holds a store; undefined when it is new or empty. */
async function existing(dst: string): Promise<RunReader | undefined> {
  let reader: RunReader | undefined;
  try {
    reader = openRunReader(dst);
    await reader.dataVersion();
    return reader;
  } catch (err) {
    await reader?.close();
    const code = (err as { code?: string }).code;
    // No store there yet: the copy makes one.
    if (code === 'ENOENT' || code === 'ENOTDB') return undefined;
    throw err;
  }
}

/** Copies one run: its record, its snapshots in the order they were written, its scalars, its end. */
async function copyRun(
  reader: RunReader,
  store: Store,
  run: RunDetails,
): Promise<CopyResult['runs'][number]> {
  await store.startRun({
    id: run.id,
    name: run.name,
    startedAt: run.startedAt,
    model: run.model,
    options: run.options,
    backend: run.backend,
    tfjsVersion: run.tfjsVersion,
    host: run.host,
    meta: run.meta,
    ...(run.group !== null ? { group: run.group } : {}),
    params: run.params,
  });
  // In id order: a series' positions (its downsampling levels) follow the order of writing.
  const snapshots = (await reader.listSnapshots({ run: run.id })).sort((a, b) => a.id - b.id);
  for (const s of snapshots) {
    // The payload carries the snapshot's metadata: what the capture wrote, decoded as the ingest does.
    await store.write(snapshotFromIpc(await reader.getTensor(s.id), `snapshot ${s.id}`));
  }
  let scalars = 0;
  for (const series of await reader.scalars(run.id)) {
    for (let from = 0; from < series.count; from += SCALAR_BATCH) {
      const points = [];
      for (let i = from; i < Math.min(series.count, from + SCALAR_BATCH); i++) {
        points.push({
          name: series.name,
          iteration: series.iterations[i]!,
          value: series.values[i]!,
          time: series.times[i]!,
        });
      }
      await store.writeScalars(run.id, points);
      scalars += points.length;
    }
  }
  if (run.status === 'finished' || run.status === 'failed')
    await store.endRun(run.id, run.status, run.endedAt ?? undefined);
  return { id: run.id, name: run.name, snapshots: snapshots.length, scalars };
}

/**
 * Copies the runs `runs` (ids or names; default every run, oldest first) of the store `src` into `dst`.
 * Refuses (before writing anything) a run the destination already holds, and a copy onto itself.
 */
export async function copyStore(src: string, dst: string, runs?: string[]): Promise<CopyResult> {
  if (src === dst) throw new UserError(`copy: the source and the destination are the same store (${src})`);
  const reader = openRunReader(src);
  let store: Store | undefined;
  try {
    const chosen = await resolveRuns(reader, runs ?? (await reader.listRuns()).map((x) => x.id).reverse());
    const there = await existing(dst);
    if (there) {
      try {
        for (const r of chosen) {
          if ((await there.getRun(r.id))?.id === r.id)
            throw new UserError(
              `run '${r.name}' (${r.id}) is already in ${there.path}: delete it there first (gradscope runs delete), or copy other runs with --run`,
              'EINPUT',
            );
        }
      } finally {
        await there.close();
      }
    }
    // Every operation is awaited and its failure reported by the command: the store prints nothing itself.
    store = openStore(dst, { onError: () => {} });
    const out: CopyResult = { runs: [], path: store.path };
    for (const run of chosen) out.runs.push(await copyRun(reader, store, run));
    await store.close();
    return out;
  } finally {
    await store?.close().catch(() => {});
    await reader.close();
  }
}

export function registerCopy(program: Command): void {
  program
    .command('copy')
    .description(
      'copy runs from one store to another (a file or a postgres:// URL, either way), every tensor byte for byte',
    )
    .argument('<src>', 'the store to copy from: database file or postgres:// URL')
    .argument('<dst>', 'the store to copy into (made when missing): database file or postgres:// URL')
    .option('--run <name|id>', 'only this run (repeatable; default: every run)', collect)
    .action(async (src: string, dst: string, flags: { run?: string[] }) => {
      const result = await copyStore(src, dst, flags.run);
      for (const r of result.runs)
        process.stdout.write(`${r.name} (${r.id}): ${r.snapshots} snapshots, ${r.scalars} scalar points\n`);
      process.stdout.write(
        `copied ${result.runs.length} run${result.runs.length === 1 ? '' : 's'} into ${result.path}\n`,
      );
    });
}
