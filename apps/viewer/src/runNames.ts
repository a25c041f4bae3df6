// Runs are identified by id; a name is what people read. Two runs may share a name (a rerun): then the name
// alone points at neither, so links use the id and labels tell them apart by start order ("name #2").
import type { RunRecord } from './api';

/** What a URL names a run by: its name when no other run has it, else its id. */
export function runKey(
  run: Pick<RunRecord, 'id' | 'name'>,
  runs: readonly Pick<RunRecord, 'name'>[],
): string {
  if (!run.name) return run.id;
  let n = 0;
  for (const r of runs) if (r.name === run.name) n++;
  return n > 1 ? run.id : run.name;
}

/** A run in a selector: its label, and its start time when its name is shared. */
export function runOption(
  run: Pick<RunRecord, 'id' | 'name' | 'startedAt'>,
  runs: readonly Pick<RunRecord, 'id' | 'name' | 'startedAt'>[],
): string {
  const label = runLabel(run, runs);
  return label === run.name || label === run.id
    ? label
    : `${label} (started ${new Date(run.startedAt).toLocaleString(undefined, {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
      })})`;
}

/**
 * What a run is called on screen: its name, with "#k" (k-th started of the runs sharing that name, from 1) when
 * the name is not unique; its id when it has no name.
 */
export function runLabel(
  run: Pick<RunRecord, 'id' | 'name' | 'startedAt'>,
  runs: readonly Pick<RunRecord, 'id' | 'name' | 'startedAt'>[],
): string {
  if (!run.name) return run.id;
  const same = runs.filter((r) => r.name === run.name);
  if (same.length <= 1) return run.name;
  same.sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
  return `${run.name} #${same.findIndex((r) => r.id === run.id) + 1}`;
}
