// gradscope list <db>: the runs of a database (a file, or a postgres:// URL).
import { openRunReader, type RunRecord } from '@gradscope/store';
import type { Command } from 'commander';

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

export function formatRuns(runs: RunRecord[]): string {
  const header = ['NAME', 'ID', 'STATUS', 'SNAPSHOTS', 'LAST ITERATION', 'LAYERS'];
  const rows = runs.map((r) => [
    r.name,
    r.id,
    r.status,
    String(r.snapshots),
    r.lastIteration === null ? '-' : String(r.lastIteration),
    r.layers.join(', ') || '-',
  ]);
  return table([header, ...rows]);
}

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list the runs stored in a gradscope database')
    .argument('<db>', 'database file (e.g. runs.gradscope) or postgres:// URL')
    .option('--json', 'print the runs as JSON')
    .action(async (db: string, opts: { json?: boolean }) => {
      const reader = openRunReader(db);
      try {
        const runs = await reader.listRuns();
        if (opts.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
        else if (runs.length === 0) process.stdout.write(`no runs in ${reader.path}\n`);
        else process.stdout.write(`${formatRuns(runs)}\n`);
      } finally {
        await reader.close();
      }
    });
}
