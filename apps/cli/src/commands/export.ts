// gradscope export <db> --run R --out PATH: Arrow, Parquet (or, for scalars, CSV) files of a run.
import {
  type ExportFormat,
  type ExportLayout,
  type ExportRequest,
  planExport,
  writeExport,
} from '@gradscope/export';
import { KINDS, type Kind } from '@gradscope/format';
import { openRunReader } from '@gradscope/store';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { parseIterations, size } from '../args.js';

interface ExportFlags {
  run: string;
  layer?: string;
  kind?: Kind;
  part?: string;
  iterations?: string;
  out: string;
  format?: ExportFormat;
  layout?: ExportLayout;
  scalars?: boolean;
}

function progressBar() {
  if (!process.stderr.isTTY) return undefined;
  return new cliProgress.SingleBar(
    {
      format: 'exporting {bar} {value}/{total} snapshots | {file}',
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description(
      'export the tensors of a run as Arrow IPC (tensor or long layout) or Parquet (long layout), or its scalars (--scalars) as Arrow, Parquet or CSV',
    )
    .argument('<db>', 'database file (e.g. runs.gradscope) or postgres:// URL')
    .requiredOption('--run <name|id>', 'run to export (id, or name of the latest run with that name)')
    .option('--scalars', 'export the loss and metrics per step (columns run, name, iteration, value, time)')
    .option('--layer <layer>', 'only this layer')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(KINDS))
    .option('--part <part>', "only this part (e.g. 'kernel/i'; 'whole' for whole-layer outputs)")
    .option('--iterations <list>', 'only these iterations, comma-separated (e.g. 20,200,400)')
    .requiredOption(
      '--out <path>',
      'a file (.arrow, .arrows, .feather, .ipc, .parquet, .csv) or a directory (one file per layer/kind/part)',
    )
    .addOption(
      new Option(
        '--format <format>',
        'file format (default: from --out, else arrow; csv: scalars only)',
      ).choices(['arrow', 'parquet', 'csv']),
    )
    .addOption(
      new Option(
        '--layout <layout>',
        'tensor: one row per snapshot; long: one row per value (default: tensor for arrow, long for parquet)',
      ).choices(['tensor', 'long']),
    )
    .action(async (db: string, flags: ExportFlags) => {
      const iterations = flags.iterations === undefined ? undefined : parseIterations(flags.iterations);
      const request: ExportRequest = {
        run: flags.run,
        out: flags.out,
        ...(flags.scalars ? { data: 'scalars' as const } : {}),
        ...(flags.layer !== undefined ? { layer: flags.layer } : {}),
        ...(flags.kind !== undefined ? { kind: flags.kind } : {}),
        ...(flags.part !== undefined ? { part: flags.part === 'whole' ? null : flags.part } : {}),
        ...(iterations !== undefined ? { iterations } : {}),
        ...(flags.format !== undefined ? { format: flags.format } : {}),
        ...(flags.layout !== undefined ? { layout: flags.layout } : {}),
      };
      const reader = openRunReader(db);
      const bar = progressBar();
      let started = false;
      try {
        const plan = await planExport(reader, request);
        const result = await writeExport(plan, {
          onProgress: ({ done, total, file }) => {
            if (!bar || plan.data === 'scalars') return;
            if (!started) {
              bar.start(total, 0, { file });
              started = true;
            }
            bar.update(done, { file });
          },
        });
        bar?.stop();
        started = false;
        for (const f of result.files) {
          const what =
            plan.data === 'scalars' ? `${f.rows} points` : `${f.snapshots} snapshots, ${f.rows} rows`;
          process.stdout.write(`${f.path}  ${what}, ${size(f.bytes)}\n`);
        }
      } finally {
        if (started) bar?.stop();
        await reader.close();
      }
    });
}
