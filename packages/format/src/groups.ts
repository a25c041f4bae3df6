// Many runs read as one answer: the diagnoses of runs grouped by their group or by one parameter (seeds of
// one configuration, the cells or learning rates of a sweep), summarized per layer position: how many
// runs reach each verdict, and the spread of the loss ratio and the reach. A pure function over what
// `diagnose` returns, for the doctor (`gradscope doctor --group-by`) and the viewer.
import {
  CAUSES,
  type Cause,
  decisiveReach,
  formatNumber,
  type RunDiagnosis,
  VERDICTS,
  type Verdict,
} from './diagnosis.js';
import { paramText } from './params.js';

/** A diagnosed run with what it is grouped by. */
export interface GroupableRun {
  /** RunRecord.group: null or absent when the run has none. */
  group?: string | null;
  /** RunRecord.params. */
  params?: Record<string, unknown>;
  diagnosis: RunDiagnosis;
}

/** The spread of one number over the runs of a group (the runs where it is known and finite). */
export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation (ddof = 0). */
  std: number;
}

/** The evidence of one layer position over the runs of a group. */
export interface GroupEvidence {
  /** 0 for each run's first diagnosed (recurrent) layer, 1 for its second, … */
  position: number;
  /** The layer names at this position, distinct, in run order (tfjs numbers layers per process). */
  layers: string[];
  /** Runs that have a layer at this position. */
  runs: number;
  /** Runs with each cause at this position (causes no run has are left out). */
  causes: Partial<Record<Cause, number>>;
  /** loss ÷ baseline. */
  lossRatio: Spread | null;
  /** The decisive reach's largest norm beyond T/2 steps back ÷ its peak. */
  farRatio: Spread | null;
  /** The decisive reach's farthest lag at ≥ 1% of the peak. */
  reach1e2: Spread | null;
}

export interface RunGroup {
  /** What the runs are grouped by: 'group' or a parameter name. */
  key: string;
  /** The value as text (paramText); null for the runs without one. */
  group: string | null;
  /** The value itself (a number stays a number); null for the runs without one. */
  value: unknown;
  /** Run ids, in the order given. */
  runs: string[];
  /** Per layer position: runs with each verdict (every verdict listed, 0 when none). */
  verdicts: Record<Verdict, number>[];
  /** Per layer position. */
  evidence: GroupEvidence[];
  /** Per layer position, in words: "learning-long in 3 of 5 runs (loss ÷ baseline median 0.04, range 0.01–1)". */
  summary: string[];
}

/** The value a run is grouped by: its group for 'group', else params[key]; null when it has none. */
export function groupValue(run: Pick<GroupableRun, 'group' | 'params'>, key: string): unknown {
  const value = key === 'group' ? run.group : run.params?.[key];
  return value === undefined ? null : value;
}

/** Median, range, mean and population standard deviation of the finite values; null when there are none. */
export function spread(values: readonly (number | null | undefined)[]): Spread | null {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (finite.length === 0) return null;
  finite.sort((a, b) => a - b);
  const n = finite.length;
  const m = n >> 1;
  const median = n % 2 === 1 ? finite[m]! : (finite[m - 1]! + finite[m]!) / 2;
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(finite.reduce((a, v) => a + (v - mean) ** 2, 0) / n);
  return { n, median, min: finite[0]!, max: finite[n - 1]!, mean, std };
}

/** Numbers in numeric order, then text in natural order ('seed 2' before 'seed 10'), the runs without a value last. */
function compareValues(a: unknown, b: unknown): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return paramText(a).localeCompare(paramText(b), 'en', { numeric: true });
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One layer position of a group in words. */
function describePosition(e: GroupEvidence, verdicts: Record<Verdict, number>): string {
  const counts = VERDICTS.filter((v) => verdicts[v] > 0).sort((a, b) => verdicts[b] - verdicts[a]);
  const words = counts
    .map((v, i) =>
      i === 0 ? `${v} in ${verdicts[v]} of ${plural(e.runs, 'run')}` : `${v} in ${verdicts[v]}`,
    )
    .join(', ');
  const causes = Object.entries(e.causes)
    .map(([c, n]) => `${c} in ${n}`)
    .join(', ');
  const loss =
    e.lossRatio === null
      ? 'no probe loss'
      : e.lossRatio.n === 1
        ? `loss ÷ baseline ${formatNumber(e.lossRatio.median)}`
        : `loss ÷ baseline median ${formatNumber(e.lossRatio.median)}, range ${formatNumber(e.lossRatio.min)}–${formatNumber(e.lossRatio.max)}`;
  const far =
    e.farRatio === null
      ? ''
      : `; far/peak median ${formatNumber(e.farRatio.median, 3)}${e.farRatio.n > 1 ? `, range ${formatNumber(e.farRatio.min, 3)}–${formatNumber(e.farRatio.max, 3)}` : ''}`;
  const names = e.layers.length <= 3 ? e.layers.join(', ') : `${e.layers.slice(0, 3).join(', ')}, …`;
  return `layer ${e.position + 1} (${names}): ${words}${causes ? `; ${causes}` : ''} (${loss}${far})`;
}

/**
 * Groups diagnosed runs by `key` ('group', or a parameter name such as 'cell' or 'lr') and summarizes each
 * layer position over each group's runs. Groups are in value order (numbers ascending, text in natural
 * order), the runs without a value last; the runs of a group in the order given.
 */
export function groupRuns(runs: readonly GroupableRun[], key: string): RunGroup[] {
  const byValue = new Map<string, { value: unknown; members: GroupableRun[] }>();
  for (const run of runs) {
    const value = groupValue(run, key);
    // One group per value: 0.01 and "0.01" are different values, JSON tells them apart.
    const id = JSON.stringify(value);
    const entry = byValue.get(id) ?? { value, members: [] };
    entry.members.push(run);
    byValue.set(id, entry);
  }
  return [...byValue.values()]
    .sort((a, b) => compareValues(a.value, b.value))
    .map(({ value, members }) => {
      const positions = Math.max(0, ...members.map((r) => r.diagnosis.layers.length));
      const verdicts: Record<Verdict, number>[] = [];
      const evidence: GroupEvidence[] = [];
      for (let p = 0; p < positions; p++) {
        const layers = members.flatMap((r) => r.diagnosis.layers[p] ?? []);
        const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
        const causes: Partial<Record<Cause, number>> = {};
        for (const l of layers) {
          counts[l.verdict]++;
          for (const c of l.causes) causes[c] = (causes[c] ?? 0) + 1;
        }
        const ordered = Object.fromEntries(
          CAUSES.filter((c) => causes[c] !== undefined).map((c) => [c, causes[c]!]),
        ) as Partial<Record<Cause, number>>;
        const reach = layers.map((l) => decisiveReach(l.evidence.reach));
        verdicts.push(counts);
        evidence.push({
          position: p,
          layers: [...new Set(layers.map((l) => l.layer))],
          runs: layers.length,
          causes: ordered,
          lossRatio: spread(layers.map((l) => l.evidence.lossRatio)),
          farRatio: spread(reach.map((r) => r?.farRatio)),
          reach1e2: spread(reach.map((r) => r?.reach1e2)),
        });
      }
      return {
        key,
        group: value === null ? null : paramText(value),
        value,
        runs: members.map((r) => r.diagnosis.id),
        verdicts,
        evidence,
        summary: evidence.map((e, p) => describePosition(e, verdicts[p]!)),
      };
    });
}
