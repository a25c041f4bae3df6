// planExport(): resolves run, groups, format, layout and target of an export, or throws a StoreError naming
// what cannot be honoured, before any byte is written (the server sends its headers only after this).
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { SnapshotInfo } from '@gradscope/format';
import { isKind, KINDS } from '@gradscope/format';
import { type RunReader, StoreError } from '@gradscope/store';
import type {
  ExportFormat,
  ExportGroup,
  ExportLayout,
  ExportPlan,
  ExportRequest,
  ExportSelection,
  ExportTarget,
  PlannedFile,
} from './types.js';

/** Extensions that make `out` one file rather than a directory. */
const FILE_EXTENSIONS = new Set(['.arrow', '.arrows', '.feather', '.ipc', '.parquet', '.csv']);
const FORMATS: ExportFormat[] = ['arrow', 'parquet', 'csv'];

export const CONTENT_TYPES: Record<ExportFormat | 'arrow-stream', string> = {
  arrow: 'application/vnd.apache.arrow.file',
  'arrow-stream': 'application/vnd.apache.arrow.stream',
  parquet: 'application/vnd.apache.parquet',
  csv: 'text/csv; charset=utf-8',
};

function contentTypeOf(format: ExportFormat, ipc: 'file' | 'stream'): string {
  return format === 'arrow' && ipc === 'stream' ? CONTENT_TYPES['arrow-stream'] : CONTENT_TYPES[format];
}

function invalid(message: string): StoreError {
  return new StoreError('EINVAL', message);
}

function safeName(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return cleaned === '' ? '_' : cleaned.slice(0, 100);
}

function checkSelection(selection: ExportSelection): void {
  if (typeof selection.run !== 'string' || selection.run === '') {
    throw invalid(`run must be a run id or name, got ${JSON.stringify(selection.run)}`);
  }
  if (selection.layer !== undefined && typeof selection.layer !== 'string') {
    throw invalid(`layer must be a string, got ${JSON.stringify(selection.layer)}`);
  }
  if (selection.kind !== undefined && !isKind(selection.kind)) {
    throw invalid(`kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(selection.kind)}`);
  }
  if (selection.part !== undefined && selection.part !== null && typeof selection.part !== 'string') {
    throw invalid(`part must be a string or null, got ${JSON.stringify(selection.part)}`);
  }
  if (
    selection.iterations !== undefined &&
    (!Array.isArray(selection.iterations) ||
      !selection.iterations.every((i) => Number.isInteger(i) && i >= 0))
  ) {
    throw invalid(`iterations must be integers >= 0, got ${JSON.stringify(selection.iterations)}`);
  }
}

/** Snapshots of a selection, grouped per file: by (layer, kind, part), and by shape for the tensor layout. */
export async function exportGroups(
  reader: RunReader,
  selection: ExportSelection,
  layout: ExportLayout,
): Promise<ExportGroup[]> {
  checkSelection(selection);
  const snapshots = await reader.listSnapshots({
    run: selection.run,
    ...(selection.layer !== undefined ? { layer: selection.layer } : {}),
    ...(selection.kind !== undefined ? { kind: selection.kind } : {}),
    ...(selection.part !== undefined ? { part: selection.part } : {}),
    ...(selection.iterations !== undefined ? { iterations: selection.iterations } : {}),
  });
  const series = new Map<string, SnapshotInfo[]>();
  for (const s of snapshots) {
    const key = JSON.stringify([s.layer, s.kind, s.part]);
    const list = series.get(key);
    if (list) list.push(s);
    else series.set(key, [s]);
  }
  const groups: ExportGroup[] = [];
  const used = new Set<string>();
  // File names compare case-insensitively (macOS, Windows): `a` and `A` get `A_2`.
  const unique = (stem: string) => {
    let name = stem;
    for (let k = 2; used.has(name.toLowerCase()); k++) name = `${stem}_${k}`;
    used.add(name.toLowerCase());
    return name;
  };
  for (const list of series.values()) {
    const first = list[0]!;
    const stem = `${safeName(first.layer)}__${first.kind}${first.part !== null ? `__${safeName(first.part)}` : ''}`;
    if (layout === 'long') {
      const dims = [...first.dims];
      for (const s of list) for (const d of s.dims) if (!dims.includes(d)) dims.push(d);
      const sameShape = list.every((s) => s.shape.join(',') === first.shape.join(','));
      groups.push({
        layer: first.layer,
        kind: first.kind,
        part: first.part,
        shape: sameShape ? first.shape : null,
        dims,
        snapshots: list,
        name: unique(stem),
      });
      continue;
    }
    const byShape = new Map<string, SnapshotInfo[]>();
    for (const s of list) {
      const key = JSON.stringify([s.shape, s.dims]);
      const l = byShape.get(key);
      if (l) l.push(s);
      else byShape.set(key, [s]);
    }
    for (const l of byShape.values()) {
      const s0 = l[0]!;
      groups.push({
        layer: s0.layer,
        kind: s0.kind,
        part: s0.part,
        shape: s0.shape,
        dims: s0.dims,
        snapshots: l,
        name: unique(byShape.size > 1 ? `${stem}__${s0.shape.join('x')}` : stem),
      });
    }
  }
  return groups;
}

function describeSelection(s: ExportSelection): string {
  const bits = [`run ${JSON.stringify(s.run)}`];
  if (s.layer !== undefined) bits.push(`layer ${JSON.stringify(s.layer)}`);
  if (s.kind !== undefined) bits.push(`kind ${s.kind}`);
  if (s.part !== undefined) bits.push(`part ${JSON.stringify(s.part)}`);
  if (s.iterations !== undefined) bits.push(`iterations ${s.iterations.join(',')}`);
  return bits.join(', ');
}

function groupLabel(g: ExportGroup): string {
  return `${g.layer}/${g.kind}${g.part ? `/${g.part}` : ''}${g.shape ? ` [${g.shape.join('x')}]` : ''}`;
}

/** Resolves `out` into a target and the format its extension implies. */
function resolveTarget(out: unknown): { target: ExportTarget; ext: string | undefined } {
  if (out === undefined) return { target: { type: 'stream' }, ext: undefined };
  if (typeof out !== 'string' || out.trim() === '') {
    throw invalid(`out must be a file or directory path, got ${JSON.stringify(out)}`);
  }
  const path = resolve(out);
  const ext = extname(path).toLowerCase();
  const st = statSync(path, { throwIfNoEntry: false });
  if (FILE_EXTENSIONS.has(ext)) {
    if (st?.isDirectory()) {
      throw invalid(`out ${path} is a directory; give a file name or a directory without a file extension`);
    }
    const parent = dirname(path);
    if (!existsSync(parent)) throw new StoreError('EPATH', `out ${path}: directory ${parent} does not exist`);
    return { target: { type: 'file', path }, ext };
  }
  if (st && !st.isDirectory()) throw invalid(`out ${path} exists and is not a directory`);
  return { target: { type: 'directory', path }, ext: undefined };
}

function resolveFormat(format: unknown, ext: string | undefined): ExportFormat {
  const f = format ?? (ext === '.parquet' ? 'parquet' : ext === '.csv' ? 'csv' : 'arrow');
  if (!FORMATS.includes(f as ExportFormat)) {
    throw invalid(`format must be 'arrow', 'parquet' or 'csv', got ${JSON.stringify(format)}`);
  }
  return f as ExportFormat;
}

function checkExtension(target: ExportTarget, ext: string | undefined, format: ExportFormat): void {
  if (target.type !== 'file' || ext === undefined) return;
  const want = format === 'arrow' ? ['.arrow', '.arrows', '.feather', '.ipc'] : [`.${format}`];
  if (!want.includes(ext)) {
    throw invalid(`out ${target.path} has extension ${ext}, which does not match format '${format}'`);
  }
}

async function runOf(reader: RunReader, run: string): Promise<{ id: string; name: string }> {
  const details = await reader.requireRun(run);
  return { id: details.id, name: details.name };
}

/** The download name of a one-file export, e.g. `my-run-lstm_1-output-grad.arrow`. */
function streamName(run: string, request: ExportRequest, ext: string): string {
  const stem = `${run}${request.layer ? `-${request.layer}` : ''}${request.kind ? `-${request.kind}` : ''}`;
  return `${stem.replace(/[^\w.-]+/g, '_')}${ext}`;
}

/**
 * Checks an export request against the store and resolves everything the write needs: the run, the
 * (layer, kind, part[, shape]) groups and which file each goes to, format, layout and IPC flavour. Throws a
 * `StoreError` before anything is written: `EINVAL` for options that cannot be honoured together (naming
 * them), `ENOTFOUND` for a missing run or an empty selection, `EPATH` for an unusable `out`.
 *
 * @example
 * const plan = await planExport(reader, { run: 'my-run', layer: 'lstm_1', out: 'grads.arrow' });
 * await writeExport(plan); // grads.arrow, or nothing at all
 */
export async function planExport(reader: RunReader, request: ExportRequest): Promise<ExportPlan> {
  if (request === null || typeof request !== 'object') {
    throw invalid(`the export request must be an object, got ${JSON.stringify(request)}`);
  }
  const data = request.data ?? 'tensors';
  if (data !== 'tensors' && data !== 'scalars') {
    throw invalid(`data must be 'tensors' or 'scalars', got ${JSON.stringify(request.data)}`);
  }
  if (request.ipc !== undefined && request.ipc !== 'file' && request.ipc !== 'stream') {
    throw invalid(`ipc must be 'file' or 'stream', got ${JSON.stringify(request.ipc)}`);
  }
  const { target, ext } = resolveTarget(request.out);
  const format = resolveFormat(request.format, ext);
  checkExtension(target, ext, format);
  const ipc = target.type === 'file' ? (ext === '.arrows' ? 'stream' : 'file') : (request.ipc ?? 'file');
  checkSelection(request);
  if (data === 'scalars') return planScalars(reader, request, target, format, ipc);
  if (format === 'csv') {
    throw invalid(
      `format 'csv' is for scalars only (data 'scalars', gradscope export --scalars); tensors export as 'arrow' or 'parquet'`,
    );
  }

  const requested = request.layout;
  if (requested !== undefined && requested !== 'tensor' && requested !== 'long' && requested !== 'auto') {
    throw invalid(`layout must be 'tensor', 'long' or 'auto', got ${JSON.stringify(requested)}`);
  }
  if (format === 'parquet' && requested === 'tensor') {
    throw invalid(
      `Parquet exports use the long layout (one row per value); use format 'arrow' for the tensor layout`,
    );
  }
  const run = await runOf(reader, request.run);
  const selection = { ...request, run: run.id };
  let layout: ExportLayout = format === 'parquet' || requested === 'long' ? 'long' : 'tensor';
  let groups = await exportGroups(reader, selection, layout);
  if (groups.length === 0) {
    throw new StoreError('ENOTFOUND', `${reader.path}: no snapshot matching ${describeSelection(request)}`, {
      file: reader.path,
    });
  }
  // 'auto' keeps the tensor layout when it fits the target, else falls back to one row per value.
  if (requested === 'auto' && target.type !== 'directory' && groups.length > 1) {
    layout = 'long';
    groups = await exportGroups(reader, selection, layout);
  }

  const fileExt = format === 'parquet' ? '.parquet' : ipc === 'stream' ? '.arrows' : '.arrow';
  const snapshots = groups.reduce((a, g) => a + g.snapshots.length, 0);
  let files: PlannedFile[];
  if (target.type === 'directory') {
    files = groups.map((g) => ({
      path: join(target.path, `${g.name}${fileExt}`),
      name: `${g.name}${fileExt}`,
      groups: [g],
      snapshots: g.snapshots.length,
    }));
  } else {
    if (layout === 'tensor' && groups.length > 1) {
      const names = groups.map(groupLabel);
      throw invalid(
        `the tensor layout puts one (layer, kind, part, shape) group in ${target.type === 'file' ? 'one file' : 'a stream'}, but the selection has ${groups.length}: ${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}; pick one with layer/kind/part, export to a directory, or use the long layout`,
      );
    }
    const path = target.type === 'file' ? target.path : null;
    const name = path === null ? streamName(run.name, request, fileExt) : basename(path);
    files = [{ path, name, groups, snapshots }];
  }
  return {
    reader,
    data,
    run,
    format,
    layout,
    ipc,
    target,
    files,
    snapshots,
    contentType: contentTypeOf(format, ipc),
  };
}

async function planScalars(
  reader: RunReader,
  request: ExportRequest,
  target: ExportTarget,
  format: ExportFormat,
  ipc: 'file' | 'stream',
): Promise<ExportPlan> {
  for (const option of ['layer', 'kind', 'part', 'iterations'] as const) {
    if (request[option] !== undefined) {
      throw invalid(`the scalars export takes the whole run: ${option} selects tensors, leave it out`);
    }
  }
  if (request.layout !== undefined && request.layout !== 'long' && request.layout !== 'auto') {
    throw invalid(
      `the scalars export has one layout (one row per point), got layout ${JSON.stringify(request.layout)}`,
    );
  }
  const run = await runOf(reader, request.run);
  const series = await reader.scalars(run.id);
  const points = series.reduce((a, s) => a + s.count, 0);
  if (points === 0) {
    throw new StoreError('ENOTFOUND', `${reader.path}: run ${JSON.stringify(request.run)} has no scalars`, {
      file: reader.path,
    });
  }
  const ext = format === 'arrow' ? (ipc === 'stream' ? '.arrows' : '.arrow') : `.${format}`;
  const name = `${safeName(run.name)}__scalars${ext}`;
  const path =
    target.type === 'file' ? target.path : target.type === 'directory' ? join(target.path, name) : null;
  return {
    reader,
    data: 'scalars',
    run,
    format,
    layout: 'long',
    ipc,
    target,
    files: [{ path, name: path === null ? name : basename(path), groups: [], snapshots: 0 }],
    snapshots: 0,
    scalars: { names: series.map((s) => s.name), points },
    contentType: contentTypeOf(format, ipc),
  };
}
