// The diagnosis: is a recurrent layer learning a long-term dependency, a short one, or nothing, and why.
// Pure functions over what a capture holds in memory and a store holds on disk (per-timestep norms of the
// `jacobian` and `input-grad` kinds, the probe loss and its baseline, non-finite counts, the saturation of
// the layer output, per-unit weight-gradient norms): the callback, the CLI's doctor, the server and the
// viewer all read their verdicts from here. docs/diagnosis.md gives every rule and threshold and why.

/** What a layer is doing, read at one iteration or for the run as a whole. */
export const VERDICTS = ['learning-long', 'learning-short', 'not-learning', 'insufficient-data'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Why a layer is not learning (or learns only short dependencies). */
export const CAUSES = ['vanishing', 'exploding', 'non-finite', 'saturated', 'dead-units'] as const;
export type Cause = (typeof CAUSES)[number];

/** The rules' thresholds (docs/diagnosis.md says why each has its value). */
export const DIAGNOSIS_RULES = {
  /** The model has learned when its probe loss is at most this fraction of the baseline's. */
  learnedRatio: 0.5,
  /**
   * A learned dependency is long when this share of the loss gradient's energy (input-grad, Σ norm²) lies
   * more than T/2 steps back: the loss uses inputs from the first half of the sequence. Measured on the
   * labelled runs: short-lag learners ≤ 0.005, long-lag learners ≥ 0.16.
   */
  longShare: 0.03,
  /** …and the state can carry it: the jacobian keeps at least this fraction of its peak beyond T/2. */
  longFraction: 1e-2,
  /**
   * Without input-grad, the jacobian alone: long when it keeps this fraction of its peak beyond T/2 (a
   * state remembers more than its model uses: short-lag learners measured 0.07, long-lag ones ≥ 0.25).
   */
  longFractionJacobianOnly: 0.15,
  /** Vanishing: every norm beyond T/2 steps back is below this fraction of the peak (AUTOTRAINER's 1e-3). */
  vanishingFraction: 1e-3,
  /** Exploding: the norm at the farthest lag exceeds the one at lag 0 by this factor (AUTOTRAINER's 70). */
  explodingGrowth: 70,
  /** Exploding: the probe loss exceeds this multiple of the baseline (updates overshoot). */
  explodingLossRatio: 10,
  /** An output value is saturated at or beyond this magnitude (tanh'(x) < 0.02 there). */
  saturationLevel: 0.99,
  /** Saturated: more than this share of the output values are (DeepDiagnosis: more than half). */
  saturatedShare: 0.5,
  /** A unit is dead when its weight-gradient norm is at most this fraction of the largest unit's. */
  deadUnitFraction: 1e-8,
  /** The fractions of the peak the reach is measured at. */
  reachFractions: [1e-2, 1e-4],
} as const;

/** The per-timestep norms of one series of a layer at one iteration (input time order). */
export interface NormProfile {
  kind: 'jacobian' | 'input-grad';
  /** null for the whole tensor; 'forward' | 'backward' for a direction of a Bidirectional layer. */
  part: string | null;
  /** L2 norm per timestep over every other axis. */
  norms: ArrayLike<number>;
}

/** What was recorded of one layer at one iteration. */
export interface IterationObservation {
  iteration: number;
  /** The probe loss of the capture (the batch loss in batch mode), null when unknown. */
  loss: number | null;
  /** Non-finite values over every snapshot of the layer at this iteration. */
  nonFinite: number;
  profiles: NormProfile[];
  /** Share of the layer output's values with |h| ≥ saturationLevel, when `output` was captured. */
  saturatedShare?: number;
  /** Per direction ('' or 'forward'/'backward'): each unit's weight-gradient L2 norm over all its weights. */
  unitGradNorms?: { part: string; norms: ArrayLike<number> }[];
}

export interface LayerObservations {
  layer: string;
  layerClass: string;
  /** In iteration order. */
  iterations: IterationObservation[];
}

/** How the loss is judged: the constant predictor's loss on the probe, or failing that the first probe loss. */
export interface LossBaseline {
  value: number;
  method: 'constant-predictor' | 'first-probe-loss';
}

export interface RunObservations {
  id: string;
  name: string;
  /** The constant predictor's loss (the `probe/baseline` scalar); null when the loss has no known constant. */
  baseline: number | null;
  layers: LayerObservations[];
}

/** The decay of one norm profile with lag, at one iteration. */
export interface ReachEvidence {
  kind: 'jacobian' | 'input-grad';
  part: string | null;
  timesteps: number;
  /** Decades lost per timestep back (a Theil–Sen fit of log10 norm against lag); negative when it grows. */
  decadesPerStep: number | null;
  /** The farthest lag (timesteps back from the last step) whose norm is ≥ 1e-2 of the peak. */
  reach1e2: number;
  /** The farthest lag whose norm is ≥ 1e-4 of the peak. */
  reach1e4: number;
  /** Σ norm² beyond T/2 steps back ÷ Σ norm². */
  shareBeyondHalf: number;
  /** The largest norm beyond T/2 steps back ÷ the peak. */
  farRatio: number;
  /** The norm at the farthest lag ÷ the norm at lag 0. */
  growth: number | null;
}

export interface Evidence {
  /** The iteration the verdict is read at; null when nothing was recorded. */
  iteration: number | null;
  loss: number | null;
  baseline: number | null;
  baselineMethod: LossBaseline['method'] | null;
  /** loss ÷ baseline. */
  lossRatio: number | null;
  /** The loss ratio at the first capture, for the trend. */
  firstLossRatio: number | null;
  /** log10 of the loss ratio's change over the later half of the captures (negative: falling). */
  lossTrend: number | null;
  reach: ReachEvidence[];
  /** Non-finite values at the iteration and over the whole run. */
  nonFinite: number;
  nonFiniteTotal: number;
  saturatedShare: number | null;
  /** Units whose weight gradient stayed zero at every capture, and how many units there were. */
  deadUnits: number | null;
  units: number | null;
}

export interface IterationVerdict {
  iteration: number;
  verdict: Verdict;
  causes: Cause[];
  lossRatio: number | null;
}

export interface LayerDiagnosis {
  layer: string;
  layerClass: string;
  verdict: Verdict;
  causes: Cause[];
  evidence: Evidence;
  /** One line in words: what was found and the numbers behind it. */
  summary: string;
  iterations: IterationVerdict[];
}

export interface RunDiagnosis {
  id: string;
  name: string;
  layers: LayerDiagnosis[];
}

const R = DIAGNOSIS_RULES;

/** Median of a non-empty list (sorted in place). */
function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const m = values.length >> 1;
  return values.length % 2 === 1 ? values[m]! : (values[m - 1]! + values[m]!) / 2;
}

/** Theil–Sen slope of y against x: the median of the pairwise slopes (robust to a few outlying timesteps). */
export function theilSen(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const slopes: number[] = [];
  const n = x.length;
  // At most 200 points: 19,900 pairs.
  const step = Math.max(1, Math.ceil(n / 200));
  for (let i = 0; i < n; i += step)
    for (let j = i + step; j < n; j += step)
      if (x[j] !== x[i]) slopes.push((y[j]! - y[i]!) / (x[j]! - x[i]!));
  return slopes.length === 0 ? null : median(slopes);
}

/** Timesteps back from the state a profile is of: the last step, or step 0 for a backward direction. */
function lagOf(t: number, timesteps: number, part: string | null): number {
  return part === 'backward' ? t : timesteps - 1 - t;
}

/** How far back a norm profile reaches; null when every norm is zero or non-finite. */
export function reachOf(profile: NormProfile): ReachEvidence | null {
  const T = profile.norms.length;
  const byLag = new Float64Array(T);
  let peak = 0;
  for (let t = 0; t < T; t++) {
    const v = profile.norms[t]!;
    const value = Number.isFinite(v) ? v : 0;
    byLag[lagOf(t, T, profile.part)] = value;
    if (value > peak) peak = value;
  }
  if (!(peak > 0)) return null;
  let reach1e2 = 0;
  let reach1e4 = 0;
  let far = 0;
  let farEnergy = 0;
  let energy = 0;
  const lags: number[] = [];
  const logs: number[] = [];
  for (let lag = 0; lag < T; lag++) {
    const r = byLag[lag]! / peak;
    if (r >= R.reachFractions[0]) reach1e2 = lag;
    if (r >= R.reachFractions[1]) reach1e4 = lag;
    energy += byLag[lag]! ** 2;
    if (lag >= T / 2) {
      farEnergy += byLag[lag]! ** 2;
      if (r > far) far = r;
    }
    if (r > 0) {
      lags.push(lag);
      logs.push(Math.log10(r));
    }
  }
  const slope = theilSen(lags, logs);
  const near = byLag[0]!;
  return {
    kind: profile.kind,
    part: profile.part,
    timesteps: T,
    decadesPerStep: slope === null ? null : -slope,
    reach1e2,
    reach1e4,
    shareBeyondHalf: energy > 0 ? farEnergy / energy : 0,
    farRatio: far,
    growth: near > 0 ? byLag[T - 1]! / near : null,
  };
}

/**
 * The reach a verdict rests on: the loss-free jacobian when recorded (the state's own memory), else the
 * input gradient; of several parts (directions), the one that reaches farthest.
 */
export function decisiveReach(reach: readonly ReachEvidence[]): ReachEvidence | undefined {
  const jacobian = reach.filter((r) => r.kind === 'jacobian');
  const pool = jacobian.length > 0 ? jacobian : reach.filter((r) => r.kind === 'input-grad');
  // A Bidirectional's whole input-grad sums its directions: prefer the directions when present.
  const directed = pool.filter((r) => r.part !== null);
  const candidates = directed.length > 0 ? directed : pool;
  let best: ReachEvidence | undefined;
  for (const r of candidates) if (best === undefined || r.farRatio > best.farRatio) best = r;
  return best;
}

/**
 * How far back the loss depends on the layer's input: the input-grad part (a direction of a Bidirectional
 * when recorded) with the largest share of its energy beyond T/2.
 */
export function dependenceReach(reach: readonly ReachEvidence[]): ReachEvidence | undefined {
  const pool = reach.filter((r) => r.kind === 'input-grad');
  const directed = pool.filter((r) => r.part !== null);
  let best: ReachEvidence | undefined;
  for (const r of directed.length > 0 ? directed : pool)
    if (best === undefined || r.shareBeyondHalf > best.shareBeyondHalf) best = r;
  return best;
}

/** Learned, and long? From the loss's dependence (input-grad) and the state's memory (jacobian). */
function isLong(reach: readonly ReachEvidence[]): boolean | undefined {
  const dependence = dependenceReach(reach);
  const memory = reach.some((r) => r.kind === 'jacobian') ? decisiveReach(reach) : undefined;
  if (dependence !== undefined)
    return (
      dependence.shareBeyondHalf >= R.longShare && (memory === undefined || memory.farRatio >= R.longFraction)
    );
  if (memory !== undefined) return memory.farRatio >= R.longFractionJacobianOnly;
  return undefined;
}

/** Evidence in one order on every surface: the jacobian first, then input-grad; the whole, forward, backward. */
function reachOrder(r: ReachEvidence): number {
  return (r.kind === 'jacobian' ? 0 : 3) + (r.part === null ? 0 : r.part === 'forward' ? 1 : 2);
}

function judge(
  lossRatio: number | null,
  observation: IterationObservation | undefined,
  reach: ReachEvidence[],
  deadUnits: number | null,
): { verdict: Verdict; causes: Cause[] } {
  const causes: Cause[] = [];
  const nonFinite = (observation?.nonFinite ?? 0) > 0 || (lossRatio !== null && !Number.isFinite(lossRatio));
  if (nonFinite) causes.push('non-finite');
  const decisive = decisiveReach(reach);
  const exploding =
    (lossRatio !== null && Number.isFinite(lossRatio) && lossRatio >= R.explodingLossRatio) ||
    (decisive?.growth != null && decisive.growth > R.explodingGrowth);
  if (exploding) causes.push('exploding');
  if (decisive !== undefined && decisive.farRatio < R.vanishingFraction) causes.push('vanishing');
  if (observation?.saturatedShare !== undefined && observation.saturatedShare > R.saturatedShare)
    causes.push('saturated');
  if (deadUnits !== null && deadUnits > 0) causes.push('dead-units');
  if (nonFinite) return { verdict: 'not-learning', causes };
  if (lossRatio === null) return { verdict: 'insufficient-data', causes };
  if (lossRatio > R.learnedRatio) return { verdict: 'not-learning', causes };
  const long = isLong(reach);
  if (long === undefined) return { verdict: 'insufficient-data', causes };
  return { verdict: long ? 'learning-long' : 'learning-short', causes };
}

/** Units whose weight-gradient norm stayed at zero at every capture that recorded weight gradients. */
function countDeadUnits(iterations: IterationObservation[]): { dead: number; units: number } | null {
  const withGrads = iterations.filter((o) => o.unitGradNorms !== undefined && o.unitGradNorms.length > 0);
  if (withGrads.length === 0) return null;
  const alive = new Map<string, boolean[]>();
  for (const o of withGrads) {
    for (const { part, norms } of o.unitGradNorms!) {
      let largest = 0;
      for (let u = 0; u < norms.length; u++) if (norms[u]! > largest) largest = norms[u]!;
      const flags = alive.get(part) ?? new Array<boolean>(norms.length).fill(false);
      for (let u = 0; u < norms.length; u++)
        if (norms[u]! > R.deadUnitFraction * largest && largest > 0) flags[u] = true;
      alive.set(part, flags);
    }
  }
  let dead = 0;
  let units = 0;
  for (const flags of alive.values()) {
    units += flags.length;
    dead += flags.filter((f) => !f).length;
  }
  return { dead, units };
}

/** Two decimals from 1 up, two significant digits below (0.0056, not 0.01), exponent form below 1e-3. */
export const formatNumber = (v: number, digits = 2): string => {
  const abs = Math.abs(v);
  const text =
    abs >= 1 || v === 0 ? v.toFixed(digits) : abs >= 1e-3 ? v.toPrecision(digits) : v.toExponential(1);
  return text.includes('e') ? text : text.replace(/\.?0+$/, '');
};
const fmt = formatNumber;

/** The verdict in words, with the two or three numbers behind it. */
export function describeDiagnosis(
  d: Pick<LayerDiagnosis, 'layer' | 'verdict' | 'causes' | 'evidence'>,
): string {
  const e = d.evidence;
  const against =
    e.baselineMethod === 'constant-predictor' ? 'the constant predictor' : 'the first probe loss';
  const loss =
    e.lossRatio === null
      ? 'no probe loss recorded'
      : `loss ${fmt(e.lossRatio)}× ${against}${e.firstLossRatio !== null && e.firstLossRatio !== e.lossRatio ? `, from ${fmt(e.firstLossRatio)}×` : ''}`;
  const dependence = dependenceReach(e.reach);
  const memory = e.reach.some((r) => r.kind === 'jacobian') ? decisiveReach(e.reach) : undefined;
  const back = (r: ReachEvidence) => `${Math.ceil(r.timesteps / 2)} steps back`;
  const named = (r: ReachEvidence) => `${r.kind}${r.part ? ` ${r.part}` : ''}`;
  const reach = [
    dependence === undefined
      ? undefined
      : `${named(dependence)}: ${fmt(100 * dependence.shareBeyondHalf, 2)}% of the loss gradient lies beyond ${back(dependence)}`,
    memory === undefined
      ? undefined
      : `${named(memory)} keeps ${fmt(memory.farRatio, 3)} of its peak ${dependence === undefined ? `beyond ${back(memory)}` : 'there'}`,
  ]
    .filter((p) => p !== undefined)
    .join('; ');
  const words: Record<Verdict, string> = {
    'learning-long': 'learning a long-term dependency',
    'learning-short': 'learning, but only short-term dependencies',
    'not-learning': 'not learning',
    'insufficient-data': 'not enough data to tell',
  };
  const why = d.causes.length > 0 ? `; ${d.causes.join(', ')}` : '';
  const parts = [loss, reach].filter((p) => p !== '').join('; ');
  const hint =
    d.verdict === 'insufficient-data' && reach === '' && e.lossRatio !== null
      ? "; record 'jacobian' or 'input-grad' to tell long from short"
      : '';
  return `${d.layer}: ${words[d.verdict]}${why} (${parts}${hint})`;
}

/**
 * Diagnoses every layer of a run: a verdict at each recorded iteration, and for the run as a whole the
 * verdict at the last iteration with a probe loss (where training ended).
 */
export function diagnose(run: RunObservations): RunDiagnosis {
  return {
    id: run.id,
    name: run.name,
    layers: run.layers.map((layer) => diagnoseLayer(layer, run.baseline)),
  };
}

function diagnoseLayer(layer: LayerObservations, constantBaseline: number | null): LayerDiagnosis {
  const observations = [...layer.iterations].sort((a, b) => a.iteration - b.iteration);
  const withLoss = observations.filter((o) => o.loss !== null);
  const baseline: LossBaseline | null =
    constantBaseline !== null && constantBaseline > 0 && Number.isFinite(constantBaseline)
      ? { value: constantBaseline, method: 'constant-predictor' }
      : withLoss[0] !== undefined && withLoss[0].loss! > 0 && Number.isFinite(withLoss[0].loss!)
        ? { value: withLoss[0].loss!, method: 'first-probe-loss' }
        : null;
  const ratio = (o: IterationObservation | undefined) =>
    o?.loss == null || baseline === null ? null : o.loss / baseline.value;
  const dead = countDeadUnits(observations);
  const reachAt = (o: IterationObservation) =>
    o.profiles
      .map(reachOf)
      .filter((r): r is ReachEvidence => r !== null)
      .sort((a, b) => reachOrder(a) - reachOrder(b));
  const iterations = observations.map((o) => {
    const lossRatio = ratio(o);
    return { iteration: o.iteration, ...judge(lossRatio, o, reachAt(o), dead?.dead ?? null), lossRatio };
  });
  // The run as a whole: the last iteration with a loss; failing that, the last recorded.
  const final = withLoss.at(-1) ?? observations.at(-1);
  const lossRatio = ratio(final);
  const reach = final === undefined ? [] : reachAt(final);
  const { verdict, causes } = judge(lossRatio, final, reach, dead?.dead ?? null);
  const ratios = withLoss.map((o) => ratio(o)!);
  const mid = ratios[Math.floor((ratios.length - 1) / 2)];
  const evidence: Evidence = {
    iteration: final?.iteration ?? null,
    loss: final?.loss ?? null,
    baseline: baseline?.value ?? null,
    baselineMethod: baseline?.method ?? null,
    lossRatio,
    firstLossRatio: ratios[0] ?? null,
    lossTrend:
      lossRatio !== null && mid !== undefined && mid > 0 && lossRatio > 0
        ? Math.log10(lossRatio / mid)
        : null,
    reach,
    nonFinite: final?.nonFinite ?? 0,
    nonFiniteTotal: observations.reduce((sum, o) => sum + o.nonFinite, 0),
    saturatedShare: final?.saturatedShare ?? null,
    deadUnits: dead?.dead ?? null,
    units: dead?.units ?? null,
  };
  const base = { layer: layer.layer, layerClass: layer.layerClass, verdict, causes, evidence };
  return { ...base, summary: describeDiagnosis(base), iterations };
}

/** Share of values with |v| ≥ saturationLevel (finite values only); null for an empty tensor. */
export function saturatedShare(data: ArrayLike<number>): number | null {
  let n = 0;
  let saturated = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) continue;
    n++;
    if (Math.abs(v) >= R.saturationLevel) saturated++;
  }
  return n === 0 ? null : saturated / n;
}

/**
 * Per-timestep L2 norms of a row-major [sample, timestep, ...] tensor, over every other axis (the store's
 * write-time `timestepNorms`, computed the same way for a capture held in memory).
 */
export function timestepNorms(data: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [n, T] = shape as [number, number];
  const block = data.length / (n * T);
  const out = new Float64Array(T);
  for (let s = 0; s < n; s++)
    for (let t = 0; t < T; t++) {
      let sum = 0;
      const from = (s * T + t) * block;
      for (let k = 0; k < block; k++) {
        const v = data[from + k]!;
        if (Number.isFinite(v)) sum += v * v;
      }
      out[t]! += sum;
    }
  for (let t = 0; t < T; t++) out[t] = Math.sqrt(out[t]!);
  return out;
}

/** L2 norm per index of the last axis (a weight gradient's per-unit norm). */
export function lastAxisNorms(data: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const width = shape.at(-1) ?? 1;
  const out = new Float64Array(width);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isFinite(v)) out[i % width]! += v * v;
  }
  for (let u = 0; u < width; u++) out[u] = Math.sqrt(out[u]!);
  return out;
}

/**
 * Each unit's weight-gradient norm over all the weights and gates of its direction, from the per-unit norms of
 * a layer's weight-grad snapshots at one capture (IterationObservation.unitGradNorms): the capture adds its
 * snapshots' norms, the store their write-time channel norms.
 */
export class UnitGradNorms {
  private readonly squares = new Map<string, Float64Array>();

  /** `part` is the snapshot's, e.g. 'kernel/z' or 'backward/recurrent_kernel/o'. */
  add(part: string, norms: ArrayLike<number>): void {
    const direction = /^(forward|backward)\//.exec(part)?.[1] ?? '';
    const sums = this.squares.get(direction) ?? new Float64Array(norms.length);
    if (sums.length !== norms.length) return;
    for (let u = 0; u < norms.length; u++) sums[u]! += norms[u]! ** 2;
    this.squares.set(direction, sums);
  }

  result(): { part: string; norms: Float64Array }[] {
    return [...this.squares].map(([part, sums]) => ({ part, norms: sums.map(Math.sqrt) }));
  }
}

/** The JSON `gradscope doctor --json` prints and `GET /api/runs/:run/diagnosis` answers (one run). */
export interface DoctorReport {
  runs: RunDiagnosis[];
}
