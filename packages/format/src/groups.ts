// Many runs read as one answer: the diagnoses of runs grouped by their group or by one parameter (seeds of
// one configuration, the cells or learning rates of a sweep), summarized per layer position: how many
// runs reach each verdict, and the spread of the loss ratio and the reach. A pure function over what
// `diagnose` returns, for the doctor (`gradscope doctor --group-by`) and the viewer.
import {
  CAUSES,
  type Cause,
  decisiveReach,
  dependenceReach,
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
  /** The ids of the runs with each verdict at this position, in the group's order (verdicts no run has left out). */
  runsByVerdict: Partial<Record<Verdict, string[]>>;
  /** Runs with each cause at this position (causes no run has are left out). */
  causes: Partial<Record<Cause, number>>;
  /** loss ÷ baseline. */
  lossRatio: Spread | null;
  /**
   * The share of the loss gradient (input-grad) beyond T/2 steps back, 0–1: how far back the loss depends on
   * the input, the measure learning-long and learning-short rest on (dependenceReach).
   */
  shareBeyondHalf: Spread | null;
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
  /**
   * Per layer position, in words: "learning-long in 3 of 5 runs (loss ÷ baseline median 0.04, range 0.01–1; …)";
   * when the runs are one configuration at several seeds (params equal but for a `seed` of each run's own),
   * counted in seeds, each verdict naming its
   * seeds when there is more than one: "not-learning in 2 of 3 seeds (seeds 2, 3), learning-long in 1 (seed 1) (…)".
   */
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

/** Text split into its numbers (decimals and exponents included) and the text between them. */
const NUMBER_IN_TEXT = /(\d+(?:\.\d+)?(?:e[-+]?\d+)?)/i;

/**
 * Text in natural order, a number within it compared by its value: 'seed 2' before 'seed 10', and
 * 'gru-lr0.005' before 'gru-lr0.01' (as 0.005 < 0.01, where digit runs alone would put 01 before 005).
 * A comparator for Array.prototype.sort.
 */
export function compareNatural(a: string, b: string): number {
  const x = a.split(NUMBER_IN_TEXT);
  const y = b.split(NUMBER_IN_TEXT);
  // split with a capture group: text at even indices, numbers at odd ones.
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const order =
      i % 2 === 1 ? Number(x[i]) - Number(y[i]) : x[i]!.localeCompare(y[i]!, 'en', { numeric: true });
    if (order !== 0) return order;
  }
  return x.length - y.length || a.localeCompare(b);
}

/** Numbers in numeric order, then text in natural order (compareNatural), the runs without a value last. */
function compareValues(a: unknown, b: unknown): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return compareNatural(paramText(a), paramText(b));
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A spread in words: "median 0.04, range 0.01–1", or "0.5" for one run, "1 in all 3" when they agree. */
function spreadWords(label: string, s: Spread, digits = 2, scale = 1, unit = ''): string {
  const f = (v: number) => `${formatNumber(scale * v, digits)}${unit}`;
  if (s.n === 1) return `${label} ${f(s.median)}`;
  if (s.min === s.max) return `${label} ${f(s.median)} in all ${s.n}`;
  return `${label} median ${f(s.median)}, range ${f(s.min)}–${f(s.max)}`;
}

/**
 * One layer position of a group in words. With `seeds` (each run's params.seed, when every run of the group
 * has its own) the runs are counted as seeds and each verdict names its seeds.
 */
function describePosition(
  e: GroupEvidence,
  verdicts: Record<Verdict, number>,
  seeds: Map<string, unknown> | undefined,
): string {
  const counts = VERDICTS.filter((v) => verdicts[v] > 0).sort((a, b) => verdicts[b] - verdicts[a]);
  // The seeds are named where the group splits: "3 of 3 seeds (seeds 1, 2, 3)" would say nothing more.
  const which = (v: Verdict) => {
    if (seeds === undefined || counts.length === 1) return '';
    const named = (e.runsByVerdict[v] ?? []).map((id) => paramText(seeds.get(id)));
    named.sort(compareNatural);
    return ` (${named.length === 1 ? 'seed' : 'seeds'} ${named.join(', ')})`;
  };
  const words = counts
    .map((v, i) =>
      i === 0
        ? `${v} in ${verdicts[v]} of ${plural(e.runs, seeds ? 'seed' : 'run')}${which(v)}`
        : `${v} in ${verdicts[v]}${which(v)}`,
    )
    .join(', ');
  const causes = Object.entries(e.causes)
    .map(([c, n]) => `${c} in ${n}`)
    .join(', ');
  const numbers = [
    e.lossRatio === null ? 'no probe loss' : spreadWords('loss ÷ baseline', e.lossRatio),
    ...(e.shareBeyondHalf === null
      ? []
      : [spreadWords('loss gradient beyond T/2', e.shareBeyondHalf, 2, 100, '%')]),
    ...(e.farRatio === null ? [] : [spreadWords('far/peak', e.farRatio, 3)]),
  ];
  const names = e.layers.length <= 3 ? e.layers.join(', ') : `${e.layers.slice(0, 3).join(', ')}, …`;
  return `layer ${e.position + 1} (${names}): ${words}${causes ? `; ${causes}` : ''} (${numbers.join('; ')})`;
}

/** Params as text, keys sorted, without `seed`: equal for the runs of one configuration. */
const configuration = (params: Record<string, unknown> = {}) =>
  JSON.stringify(
    Object.keys(params)
      .filter((k) => k !== 'seed')
      .sort()
      .map((k) => [k, params[k]]),
  );

/**
 * Each run's params.seed when the runs are one configuration at several seeds: every run has a seed, no two
 * share one, and their other parameters are equal. Else undefined (the runs are counted as runs).
 */
function seedsOf(members: readonly GroupableRun[]): Map<string, unknown> | undefined {
  const seeds = new Map(members.map((r) => [r.diagnosis.id, r.params?.seed]));
  const values = [...seeds.values()];
  if (values.some((v) => v === undefined || v === null)) return undefined;
  if (new Set(values.map((v) => JSON.stringify(v))).size !== values.length) return undefined;
  if (new Set(members.map((r) => configuration(r.params))).size !== 1) return undefined;
  return seeds;
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
      const seeds = seedsOf(members);
      const positions = Math.max(0, ...members.map((r) => r.diagnosis.layers.length));
      const verdicts: Record<Verdict, number>[] = [];
      const evidence: GroupEvidence[] = [];
      for (let p = 0; p < positions; p++) {
        const held = members.flatMap((r) => {
          const l = r.diagnosis.layers[p];
          return l === undefined ? [] : [{ id: r.diagnosis.id, layer: l }];
        });
        const layers = held.map((h) => h.layer);
        const byVerdict: Partial<Record<Verdict, string[]>> = {};
        const causes: Partial<Record<Cause, number>> = {};
        for (const { id, layer: l } of held) {
          const ids = byVerdict[l.verdict];
          if (ids === undefined) byVerdict[l.verdict] = [id];
          else ids.push(id);
          for (const c of l.causes) causes[c] = (causes[c] ?? 0) + 1;
        }
        const ordered = Object.fromEntries(
          CAUSES.filter((c) => causes[c] !== undefined).map((c) => [c, causes[c]!]),
        ) as Partial<Record<Cause, number>>;
        const counts = Object.fromEntries(VERDICTS.map((v) => [v, byVerdict[v]?.length ?? 0])) as Record<
          Verdict,
          number
        >;
        const reach = layers.map((l) => decisiveReach(l.evidence.reach));
        verdicts.push(counts);
        evidence.push({
          position: p,
          layers: [...new Set(layers.map((l) => l.layer))],
          runs: layers.length,
          runsByVerdict: Object.fromEntries(
            VERDICTS.filter((v) => byVerdict[v] !== undefined).map((v) => [v, byVerdict[v]!]),
          ),
          causes: ordered,
          lossRatio: spread(layers.map((l) => l.evidence.lossRatio)),
          shareBeyondHalf: spread(layers.map((l) => dependenceReach(l.evidence.reach)?.shareBeyondHalf)),
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
        summary: evidence.map((e, p) => describePosition(e, verdicts[p]!, seeds)),
      };
    });
}
