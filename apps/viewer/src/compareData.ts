// What the compare page shows, worked out from what it has loaded: pure functions, as resolve.ts is for the run
// page. Three steps around two rounds of requests: the runs the URL names (pickRecords); their layers matched
// by role and the kind to draw (matchSeries: the kind the verdict rests on unless one is asked for); then every
// run's loss, baseline, flow and verdicts, and, with `by`, its group (assembleCompare). Each step says what it
// replaced (notices) and what the URL should say instead (fixes).
import type { LayerOutcome, RunOutcomeJson, Verdict } from '@gradscope/format';
import { paramText, VERDICTS } from '@gradscope/format';
import type { FlowResponse, LayerInfo, RunDetails, RunRecord, ScalarsResponse, SeriesKey } from './api';
import { type CompareState, MAX_RUNS, MIN_RUNS } from './compareState';
import { defaultIterations } from './iterations';
import { isWeightKind, pickRun } from './resolve';
import { hasTimeAxis, type LayerMatch, matchLayers } from './roles';
import { runKey, runLabel } from './runNames';
import { compareCells } from './runRows';
import { KINDS, type Kind } from './state';
import { decodeScalars, lossName, pickBaseline, pickLoss, runColor, wholePart } from './training';

/** Step 1: the runs the URL names, in its order (a name or id not found is left out, and said). */
export function pickRecords(
  s: Pick<CompareState, 'runs' | 'by'>,
  runs: readonly RunRecord[],
): { records: RunRecord[]; notices: string[] } {
  const notices: string[] = [];
  const records: RunRecord[] = [];
  for (const want of s.runs) {
    const r = pickRun(want, runs).run;
    if (!r) notices.push(`no run "${want}" on this server: left out`);
    else if (!records.includes(r)) records.push(r);
  }
  if (s.by === null && records.length < MIN_RUNS)
    notices.unshift(`compare needs ${MIN_RUNS} to ${MAX_RUNS} runs: add one below`);
  return { records, notices };
}

/**
 * The kind to compare: the wanted one when any matched layer has it; without one (null), the kind the verdict
 * rests on (diagnosis: the jacobian when recorded, else input-grad); else the one most of the layers have.
 */
export function pickKind(wanted: Kind | null, layers: readonly (LayerInfo | null)[]): Kind {
  const has = (k: Kind) => layers.filter((l) => l?.kinds[k]).length;
  if (wanted !== null && has(wanted) > 0) return wanted;
  if (wanted === null) for (const k of ['jacobian', 'input-grad'] as const) if (has(k) > 0) return k;
  const order: Kind[] = [
    'output-grad',
    'input-grad',
    'jacobian',
    ...KINDS.filter((k) => k !== 'jacobian' && k !== 'output-grad' && k !== 'input-grad'),
  ];
  let best: Kind = wanted ?? 'output-grad';
  let count = 0;
  for (const k of order.filter((k) => !isWeightKind(k))) {
    if (has(k) > count) {
      best = k;
      count = has(k);
    }
  }
  return best;
}

export interface SeriesMatch {
  match: LayerMatch & { unknown: boolean };
  /** Each run's layer playing the role (null: none). */
  layers: (LayerInfo | null)[];
  kind: Kind;
  /** The flow each run is asked for (null: it has no per-timestep series of the kind for the layer). */
  flowKeys: (SeriesKey | null)[];
  notices: string[];
}

/** Step 2: each run's layer playing the chosen role, the kind to draw and the flow to ask each run for. */
export function matchSeries(
  s: Pick<CompareState, 'layer' | 'kind'>,
  details: readonly RunDetails[],
  layerLists: readonly LayerInfo[][],
): SeriesMatch {
  const notices: string[] = [];
  const match = matchLayers(
    details.map((d, i) => ({ model: d.model.layers, recorded: layerLists[i]!.map((l) => l.layer) })),
    s.layer,
  );
  if (match.unknown) notices.push(`no layer or role "${s.layer}" in these runs: showing ${match.label}`);
  const layers = match.names.map((n, i) => layerLists[i]!.find((l) => l.layer === n) ?? null);
  const kind = pickKind(s.kind, layers);
  if (s.kind !== null && kind !== s.kind)
    notices.push(`no ${s.kind} recorded for ${match.label}: showing ${kind}`);
  const flowKeys = layers.map((l, i) =>
    l?.kinds[kind] && hasTimeAxis(details[i]!.model.layers, l.layer, kind)
      ? { layer: l.layer, kind, part: wholePart(l.kinds[kind]!) }
      : null,
  );
  return { match, layers, kind, flowKeys, notices };
}

/** A run's loss curve as compare draws it: what it is, its points, and its baseline when recorded. */
export interface RunLoss {
  /** In words: "training batch loss", "probe loss", … */
  name: string;
  iterations: Float64Array;
  values: Float64Array;
  /** Points recorded before the server downsampled them. */
  count: number;
}

/** One compared run, loaded. */
export interface ComparedRun {
  record: RunRecord;
  details: RunDetails;
  layers: LayerInfo[];
  /** The layer of this run playing the chosen role; null when it has none. */
  layer: string | null;
  /** Its flow matrix for the layer and kind; null when it has none. */
  flow: FlowResponse | null;
  loss: RunLoss | null;
  /** The constant predictor's probe loss (`probe/baseline`), null when not recorded. */
  baseline: number | null;
  /** Its verdicts (GET /api/outcomes), null when not known. */
  verdicts: LayerOutcome[] | null;
  /** Its line's colour: its own, or its group's. */
  color: string;
  /** What the URL names it by (runNames.ts' runKey) and what the page calls it (runLabel: "name #2"). */
  key: string;
  label: string;
  /** Its group's label when grouped. */
  group: string | null;
}

/** The runs sharing one value of `by`, drawn as one band. */
export interface ComparedGroup {
  /** The value as text ("no lr" for the runs without one). */
  label: string;
  value: unknown;
  color: string;
  runs: ComparedRun[];
  /** Runs with each verdict at the matched layer (runs without a known verdict in none). */
  verdicts: Record<Verdict, number>;
}

export interface CompareView {
  runs: ComparedRun[];
  /** With `by`: the groups in value order (numbers ascending, text naturally, the runs without a value last). */
  groups: ComparedGroup[] | null;
  /** Every iteration any run's flow has, ascending. */
  iterations: number[];
  /** The iterations of the norm lines: the URL's, else the first, middle and last. */
  chosen: number[];
  /** The loss drawn divided by each run's baseline ("loss ÷ baseline"): when every run with a loss has one. */
  lossRatio: boolean;
  notices: string[];
  /** What the URL should say instead (runs by their keys, the kind drawn). */
  fixes: Partial<CompareState>;
}

/** The value a run is grouped by: its group for 'group', else its parameter; null when it has none. */
export function groupOf(run: Pick<RunRecord, 'group' | 'params'>, by: string): unknown {
  const v = by === 'group' ? run.group : run.params?.[by];
  return v === undefined ? null : v;
}

/** The verdict of the matched layer of a run (its first diagnosed layer when the match is by another name). */
function verdictAt(v: LayerOutcome[] | null, layer: string | null): Verdict | null {
  if (!v || v.length === 0) return null;
  return (v.find((x) => x.layer === layer) ?? v[0]!).verdict;
}

/** Step 3: the page's runs (and groups), from everything loaded. `outcomes` null: verdicts unknown. */
export function assembleCompare(
  s: CompareState,
  all: readonly RunRecord[],
  records: readonly RunRecord[],
  details: readonly RunDetails[],
  layerLists: readonly LayerInfo[][],
  scalars: readonly (ScalarsResponse | null)[],
  series: SeriesMatch,
  flows: readonly (FlowResponse | null)[],
  outcomes: readonly RunOutcomeJson[] | null,
): CompareView {
  const notices: string[] = [];
  const byId = new Map((outcomes ?? []).map((o) => [o.id, o]));
  const runs: ComparedRun[] = records.map((record, i) => {
    const decoded = scalars[i] ? decodeScalars(scalars[i]!) : null;
    const l = decoded ? pickLoss(decoded) : null;
    return {
      record,
      details: details[i]!,
      layers: layerLists[i]!,
      layer: series.match.names[i] ?? null,
      flow: flows[i] ?? null,
      loss: l ? { name: lossName(l.name), iterations: l.iterations, values: l.values, count: l.count } : null,
      baseline: decoded ? pickBaseline(decoded) : null,
      verdicts: byId.get(record.id)?.verdicts ?? null,
      color: runColor(i),
      key: runKey(record, all),
      label: runLabel(record, all),
      group: null,
    };
  });
  for (const c of runs) {
    if (c.layer === null) notices.push(`${c.label}: no ${series.match.label}`);
    else if (!c.flow) notices.push(`${c.label}: no per-timestep ${series.kind} recorded for ${c.layer}`);
    if (!c.loss) notices.push(`${c.label}: no training scalars recorded`);
  }
  let groups: ComparedGroup[] | null = null;
  if (s.by !== null) {
    const by = s.by;
    const map = new Map<string, ComparedGroup>();
    for (const c of runs) {
      const value = groupOf(c.record, by);
      const id = JSON.stringify(value);
      let g = map.get(id);
      if (!g) {
        g = {
          label: value === null ? `no ${by}` : paramText(value),
          value,
          color: '',
          runs: [],
          verdicts: Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>,
        };
        map.set(id, g);
      }
      g.runs.push(c);
      c.group = g.label;
      const v = verdictAt(c.verdicts, c.layer);
      if (v) g.verdicts[v]++;
    }
    const cell = (v: unknown) =>
      v === null ? null : typeof v === 'number' ? v : typeof v === 'string' ? v : JSON.stringify(v);
    groups = [...map.values()].sort((a, b) => {
      const x = cell(a.value);
      const y = cell(b.value);
      if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
      return compareCells(x, y);
    });
    groups.forEach((g, i) => {
      g.color = runColor(i);
      for (const c of g.runs) c.color = g.color;
    });
    if (runs.length > 0 && runs.every((c) => groupOf(c.record, by) === null))
      notices.push(`none of these runs has a ${by === 'group' ? 'group' : `parameter "${by}"`}: one group`);
  }
  const iterations = [...new Set(runs.flatMap((c) => c.flow?.iterations ?? []))].sort((a, b) => a - b);
  const withLoss = runs.filter((c) => c.loss);
  const fixes: Partial<CompareState> = {};
  const keys = runs.map((c) => c.key);
  if (keys.join(',') !== s.runs.join(',')) fixes.runs = keys;
  if (s.kind !== null && series.kind !== s.kind) fixes.kind = series.kind;
  return {
    runs,
    groups,
    iterations,
    chosen: s.iterations.length > 0 ? [...s.iterations] : defaultIterations(iterations),
    lossRatio: withLoss.length > 0 && withLoss.every((c) => c.baseline !== null && c.baseline > 0),
    notices,
    fixes,
  };
}
