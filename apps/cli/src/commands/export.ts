// gradscope export <db> --run R --out PATH: Arrow or Parquet files of a run's tensors.
import { type ExportFormat, type ExportLayout, exportRun, type Kind, openReader } from '@gradscope/store';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import { UserError } from '../errors.js';

export function parseIterations(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new UserError(
      `--iterations must be a comma-separated list of integers >= 0 (e.g. 20,200,400), got "${text}"`,
    );
  }
  return parts.map(Number);
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

interface ExportFlags {
  run: string;
  layer?: string;
  kind?: Kind;
  part?: string;
  iterations?: string;
  out: string;
  format?: ExportFormat;
  layout?: ExportLayout;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export the tensors of a run as Arrow IPC (tensor or long layout) or Parquet (long layout)')
    .argument('<db>', 'database file (e.g. runs.gradscope)')
    .requiredOption('--run <name|id>', 'run to export (id, or name of the latest run with that name)')
    .option('--layer <layer>', 'only this layer')
    .addOption(
      new Option('--kind <kind>', 'only this kind').choices([
        'output-grad',
        'output',
        'weight-grad',
        'weight',
      ]),
    )
    .option('--part <part>', "only this part (e.g. 'kernel/i'; 'whole' for whole-layer outputs)")
    .option('--iterations <list>', 'only these iterations, comma-separated (e.g. 20,200,400)')
    .requiredOption(
      '--out <path>',
      'a file (.arrow, .arrows, .feather, .ipc, .parquet) or a directory (one file per layer/kind/part)',
    )
    .addOption(
      new Option('--format <format>', 'file format (default: from --out, else arrow)').choices([
        'arrow',
        'parquet',
      ]),
    )
    .addOption(
      new Option(
        '--layout <layout>',
        'tensor: one row per snapshot; long: one row per value (default: tensor for arrow, long for parquet)',
      ).choices(['tensor', 'long']),
    )
    .action(async (db: string, flags: ExportFlags) => {
      const iterations = flags.iterations === undefined ? undefined : parseIterations(flags.iterations);
      const reader = openReader(db);
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              format: 'exporting {bar} {value}/{total} snapshots | {file}',
              stream: process.stderr,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      let started = false;
      try {
        const result = await exportRun(reader, {
          run: flags.run,
          out: flags.out,
          ...(flags.layer !== undefined ? { layer: flags.layer } : {}),
          ...(flags.kind !== undefined ? { kind: flags.kind } : {}),
          ...(flags.part !== undefined ? { part: flags.part === 'whole' ? null : flags.part } : {}),
          ...(iterations !== undefined ? { iterations } : {}),
          ...(flags.format !== undefined ? { format: flags.format } : {}),
          ...(flags.layout !== undefined ? { layout: flags.layout } : {}),
          onProgress: ({ done, total, file }) => {
            if (!bar) return;
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
          process.stdout.write(`${f.path}  ${f.snapshots} snapshots, ${f.rows} rows, ${size(f.bytes)}\n`);
        }
      } finally {
        if (started) bar?.stop();
        reader.close();
      }
    });
}
