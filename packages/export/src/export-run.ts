// exportRun(): plan and write in one call, for scripts.
import type { RunReader } from '@gradscope/store';
import { planExport } from './plan.js';
import type { ExportRequest, ExportResult, WriteOptions } from './types.js';
import { writeExport } from './write.js';

/**
 * Plans and writes an export to `out` (a file, or a directory with one file per (layer, kind, part)).
 *
 * @example
 * const reader = openReader('runs.gradscope');
 * await exportRun(reader, { run: 'my-run', out: 'grads.parquet' });
 */
export async function exportRun(
  reader: RunReader,
  request: ExportRequest & { out: string } & WriteOptions,
): Promise<ExportResult> {
  const { onProgress, ...rest } = request;
  return writeExport(await planExport(reader, rest), onProgress ? { onProgress } : {});
}
