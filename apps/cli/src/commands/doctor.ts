// gradscope doctor <db>: the diagnosis of every recurrent layer of the stored runs, as a table or JSON; with
// --fail-on, a non-zero exit when a layer's verdict or cause is listed (a CI job can fail a training run);
// with --group-by, the runs read as groups (seeds of a configuration, the values of a parameter).
import {
  CAUSES,
  closestName,
  type DoctorReport,
  decisiveReach,
  dependenceReach,
  formatNumber,
  groupRuns,
  type RunDiagnosis,
  type RunGroup,
  type Spread,
  VERDICTS,
} from '@gradscope/format';
import { diagnoseReader, openRunReader, type RunReader } from '@gradscope/store';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { table } from './list.js';
import { resolveRuns } from './store-file.js';

const FAILABLE: readonly string[] = [...VERDICTS, ...CAUSES];

export function parseFailOn(text: string): Set<string> {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0)
    throw new UserError(`--fail-on needs a comma-separated list of ${FAILABLE.join(', ')}`);
  for (const item of items) {
    if (FAILABLE.includes(item)) continue;
    const near = closestName(item, FAILABLE);
    throw new UserError(
      `--fail-on: unknown verdict or cause '${item}'${near ? `; did you mean '${near}'?` : ''} (expected any of ${FAILABLE.join(', ')})`,
    );
  }
  return new Set(items);
}

const num = (v: number | null, digits = 2): string =>
  v === null || !Number.isFinite(v)
    ? '-'
    : Math.abs(v) >= 0.01 || v === 0
      ? v.toFixed(digits)
      : v.toExponential(1);

export function formatDiagnosis(runs: RunDiagnosis[]): string {
  const header = [
    'RUN',
    'LAYER',
    'VERDICT',
    'CAUSES',
    'LOSS/BASELINE',
    'LOSS GRAD>T/2',
    'REACH≥1%',
    'FAR/PEAK',
    'DECADES/STEP',
    'AT',
  ];
  const rows = runs.flatMap((run) =>
    run.layers.map((l) => {
      const r = decisiveReach(l.evidence.reach);
      const e = l.evidence;
      const dependence = dependenceReach(e.reach);
      return [
        run.name,
        l.layer,
        l.verdict,
        l.causes.join(',') || '-',
        e.lossRatio === null
          ? '-'
          : `${num(e.lossRatio)}${e.baselineMethod === 'first-probe-loss' ? ' (first)' : ''}`,
        dependence === undefined ? '-' : `${num(100 * dependence.shareBeyondHalf)}%`,
        r === undefined ? '-' : `${r.reach1e2}/${r.timesteps - 1} ${r.kind}${r.part ? ` ${r.part}` : ''}`,
        r === undefined ? '-' : num(r.farRatio, 3),
        r === undefined ? '-' : num(r.decadesPerStep, 3),
        e.iteration === null ? '-' : String(e.iteration),
      ];
    }),
  );
  const summaries = runs.flatMap((run) => run.layers.map((l) => `  ${run.name} ${l.summary}`));
  return `${table([header, ...rows])}\n\n${summaries.join('\n')}`;
}

const range = (s: Spread | null, digits = 2): string =>
  s === null
    ? '-'
    : s.n === 1
      ? formatNumber(s.median, digits)
      : `${formatNumber(s.median, digits)} (${formatNumber(s.min, digits)}–${formatNumber(s.max, digits)})`;

/** A share (0–1) over a group's runs in percent, as the runs' LOSS GRAD>T/2 column: "62% (0.0051–75%)". */
const percent = (s: Spread | null): string => {
  if (s === null) return '-';
  const f = (v: number) => formatNumber(100 * v);
  return s.n === 1 ? `${f(s.median)}%` : `${f(s.median)}% (${f(s.min)}–${f(s.max)}%)`;
};

/** The groups as a table (one line per group and layer position), then each in words. */
export function formatGroups(groups: RunGroup[]): string {
  const key = groups[0]?.key ?? 'group';
  const header = [
    key.toUpperCase(),
    'LAYER',
    'RUNS',
    ...VERDICTS.map((v) => v.toUpperCase()),
    'CAUSES',
    'LOSS/BASELINE MEDIAN (RANGE)',
    'LOSS GRAD>T/2 MEDIAN (RANGE)',
    'FAR/PEAK MEDIAN (RANGE)',
  ];
  const label = (g: RunGroup) => g.group ?? `(no ${key})`;
  const rows = groups.flatMap((g) =>
    g.evidence.map((e, p) => [
      label(g),
      String(e.position + 1),
      String(e.runs),
      ...VERDICTS.map((v) => String(g.verdicts[p]![v])),
      Object.entries(e.causes)
        .map(([cause, n]) => `${cause} ${n}`)
        .join(',') || '-',
      range(e.lossRatio),
      percent(e.shareBeyondHalf),
      range(e.farRatio, 3),
    ]),
  );
  const words = groups.flatMap((g) => g.summary.map((line) => `  ${label(g)}: ${line}`));
  return `${table([header, ...rows])}\n\n${words.join('\n')}`;
}

/**
 * The doctor's table for every run of a store file (the demo prints it when training ends); with `groupBy`,
 * then the groups of the runs that have one.
 */
export async function doctorTable(db: string, groupBy?: string): Promise<string> {
  const reader = openRunReader(db);
  try {
    const report = await diagnoseReader(reader);
    const groups =
      groupBy === undefined
        ? []
        : (await groupReport(reader, report, groupBy)).filter((g) => g.group !== null);
    return `${formatDiagnosis(report.runs)}${groups.length > 0 ? `\n\n${formatGroups(groups)}` : ''}`;
  } finally {
    await reader.close();
  }
}

/**
 * The diagnosed runs grouped by `key` ('group' or a parameter). A key no run has is an error naming the
 * parameters the runs do have (a misspelt key would otherwise put every run in one group).
 */
export async function groupReport(reader: RunReader, report: DoctorReport, key: string): Promise<RunGroup[]> {
  const records = new Map((await reader.listRuns()).map((r) => [r.id, r]));
  const runs = report.runs.map((diagnosis) => {
    const r = records.get(diagnosis.id);
    return { group: r?.group ?? null, params: r?.params ?? {}, diagnosis };
  });
  const known = new Set(['group', ...runs.flatMap((r) => Object.keys(r.params))]);
  if (runs.length > 0 && !known.has(key)) {
    const near = closestName(key, known);
    throw new UserError(
      `--group-by: no run has '${key}'${near ? `; did you mean '${near}'?` : ''} (the runs have: ${[...known].join(', ')})`,
    );
  }
  return groupRuns(runs, key);
}

/** The layers whose verdict or a cause is in `failOn`, as "run/layer (verdict, cause)". */
export function failing(report: DoctorReport, failOn: Set<string>): string[] {
  return report.runs.flatMap((run) =>
    run.layers
      .filter((l) => failOn.has(l.verdict) || l.causes.some((c) => failOn.has(c)))
      .map((l) => `${run.name}/${l.layer} (${[l.verdict, ...l.causes].join(', ')})`),
  );
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'diagnose every recurrent layer: learning a long-term dependency, a short one, or nothing, and why',
    )
    .argument('<db>', 'database file (e.g. runs.gradscope) or postgres:// URL')
    .option('--run <run...>', 'only these runs (names or ids; default: every run)')
    .option('--json', 'print { runs: [{ id, name, layers: [{ layer, verdict, causes, evidence }] }] }')
    .option(
      '--group-by <key>',
      "read the runs as groups: by their group ('group') or a parameter (e.g. cell, lr, units); with --json adds groups: [{ group, runs, verdicts, evidence }]",
    )
    .option(
      '--fail-on <list>',
      `exit 1 when any layer's verdict or cause is listed (comma-separated: ${FAILABLE.join(', ')})`,
    )
    .action(
      async (db: string, opts: { run?: string[]; json?: boolean; failOn?: string; groupBy?: string }) => {
        const failOn = opts.failOn === undefined ? undefined : parseFailOn(opts.failOn);
        if (opts.groupBy !== undefined && opts.groupBy.trim() === '')
          throw new UserError("--group-by needs a key: 'group' or a parameter name such as cell or lr");
        const reader = openRunReader(db);
        let report: DoctorReport;
        let groups: RunGroup[] | undefined;
        try {
          await resolveRuns(reader, opts.run ?? []);
          report = await diagnoseReader(reader, opts.run);
          if (opts.groupBy !== undefined) groups = await groupReport(reader, report, opts.groupBy);
        } finally {
          await reader.close();
        }
        if (opts.json)
          process.stdout.write(`${JSON.stringify(groups ? { ...report, groups } : report, null, 2)}\n`);
        else if (report.runs.length === 0) process.stdout.write(`no runs in ${db}\n`);
        else
          process.stdout.write(
            `${formatDiagnosis(report.runs)}\n${groups ? `\n${formatGroups(groups)}\n` : ''}`,
          );
        if (failOn === undefined) return;
        const failed = failing(report, failOn);
        if (failed.length > 0)
          throw new UserError(
            `doctor: ${failed.length} layer${failed.length === 1 ? '' : 's'} matched --fail-on ${[...failOn].join(',')}: ${failed.join('; ')}`,
          );
      },
    );
}
