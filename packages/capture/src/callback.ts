// The tfjs callback: decides which iterations are due and records them in probe or batch mode.
import {
  checkGroup,
  checkOptions,
  checkParams,
  diagnose,
  type IterationObservation,
  lastAxisNorms,
  type OptionKeys,
  type RunDiagnosis,
  saturatedShare,
  timestepNorms,
  UnitGradNorms,
} from '@gradscope/format';
import * as tf from '@tensorflow/tfjs';
import { constantBaseline } from './baseline.js';
import { type Batch, checkBatch, type Kept, probePass, toSnapshots } from './capture.js';
import { GradscopeError } from './errors.js';
import {
  coreModel,
  describeModel,
  type Layer,
  type LayerSpec,
  type LayerVariable,
  type Model,
  makeTarget,
  resolveLayers,
  type Target,
  targetVariables,
} from './layers.js';
import { autoParams, type FitParams } from './run-params.js';
import { ScalarRecorder } from './scalars.js';
import { MemorySink, SinkGuard, type SinkStats } from './sink.js';
import { OptimizerTap, Taps } from './tap.js';
import { KINDS, type Kind, type RunInfo, type Sink, type Snapshot } from './types.js';

export interface GradientCallbackArgs {
  /** Layers to record: 'recurrent' (default: every SimpleRNN/LSTM/GRU/Bidirectional), or names, indices or Layer objects. */
  layers?: LayerSpec;
  /** Record every N iterations (optimizer steps completed, counted across epochs and fits). Default 20 unless `at` is given. */
  every?: number;
  /** Record at these iterations. 0 records the untrained model when training begins (probe mode only). */
  at?: number[];
  /**
   * 'probe' (default): after a due step, one extra forward + backward pass on the fixed probe batch in
   * inference mode (dropout off), so iterations are comparable. 'batch': the real training batch of the
   * due step, read during the step itself at no extra forward/backward cost.
   */
  mode?: 'probe' | 'batch';
  /** The probe batch; required in probe mode. Sample weights apply to the probe loss. */
  probe?: Batch;
  /**
   * What to record. Default ['output-grad', 'input-grad', 'jacobian'] in mode 'probe' (what the diagnosis
   * reads), ['output-grad', 'input-grad'] in mode 'batch'. 'input-grad' is d loss / d layer input (the decay
   * through the layer's own recurrence); 'jacobian' is the loss-free d h_T / d x_t (probe mode only); only
   * 'weight-grad' makes the probe's backward pass reach the weights.
   */
  capture?: Kind[];
  /** 1 (default): print the diagnosis, one line per layer, when `fit` ends; 0: print nothing. */
  verbose?: 0 | 1;
  /** Where snapshots go. Default: a new MemorySink (see `callback.sink`). */
  sink?: Sink;
  /** Name of the run (default: `<model name> <ISO time>`). */
  runName?: string;
  /** JSON-serialisable metadata stored with the run (a description, tags, a gallery entry). */
  runMeta?: Record<string, unknown>;
  /**
   * The group of the run, e.g. the seed-free name of its configuration ('gru-lr0.005'): the runs of one
   * group are read as one answer (`gradscope doctor --group-by group`).
   */
  group?: string;
  /**
   * The run's parameters, a JSON object (e.g. `{ seed: 3, task: 'recall' }`), stored beside what the
   * callback reads itself (cell, units, recurrentLayers, timesteps, optimizer, lr, batchSize, epochs,
   * loss); a key given here wins over the one read.
   */
  params?: Record<string, unknown>;
  /** What a failing or stalled sink does: 'warn' (default) drops snapshots and warns once; 'throw' stops fit. */
  onSinkError?: 'warn' | 'throw';
  /**
   * Record the training loss and every metric of the `fit` logs at every optimizer step (and `val_*` at
   * each epoch end, `probe/loss` at each probe snapshot) through `sink.writeScalars`, when the sink has it.
   * Read back in batches of 50 steps, never waited for by training. Default true.
   */
  scalars?: boolean;
  /** Sink writes in flight before new ones wait. Default 8. */
  maxPendingWrites?: number;
  /** Longest wait for a sink before a snapshot is dropped, in ms. Default 10000. */
  sinkTimeoutMs?: number;
}

/** GradientCallbackArgs' keys: anything else given to gradientCallback is an error. */
const CALLBACK_OPTIONS = {
  layers: true,
  every: true,
  at: true,
  mode: true,
  probe: true,
  capture: true,
  verbose: true,
  sink: true,
  runName: true,
  runMeta: true,
  group: true,
  params: true,
  onSinkError: true,
  scalars: true,
  maxPendingWrites: true,
  sinkTimeoutMs: true,
} as const satisfies OptionKeys<GradientCallbackArgs>;

export interface CaptureStats extends SinkStats {
  /** Captures taken (one per due iteration). */
  captures: number;
  /** Snapshots that held NaN or ±Infinity. */
  nonFiniteSnapshots: number;
}

function checkIteration(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new GradscopeError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkPositive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new GradscopeError(`${name} must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

async function hostName(): Promise<string> {
  // process.getBuiltinModule (Node ≥ 20.16) rather than `import('node:os')`: a browser bundler would
  // otherwise externalize node:os and warn in every user's build.
  const proc = (
    globalThis as {
      process?: { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> };
    }
  ).process;
  if (proc?.getBuiltinModule)
    return (proc.getBuiltinModule('node:os') as typeof import('node:os')).hostname();
  if (proc?.env?.HOSTNAME) return proc.env.HOSTNAME;
  return (globalThis as { location?: { host: string } }).location?.host ?? 'unknown';
}

/** What the diagnosis reads: the default `capture` in each mode. */
const DEFAULT_PROBE_CAPTURE: Kind[] = ['output-grad', 'input-grad', 'jacobian'];
const DEFAULT_BATCH_CAPTURE: Kind[] = ['output-grad', 'input-grad'];

/** Steps of scalars read back and sent together. */
const SCALAR_BATCH_STEPS = 50;

/**
 * A random RFC 4122 version 4 id. `crypto.randomUUID` exists only in secure contexts (https, localhost):
 * a trainer page served over plain http still has `crypto.getRandomValues`.
 */
export function randomId(): string {
  const crypto = (
    globalThis as {
      crypto?: { randomUUID?: () => string; getRandomValues?: (array: Uint8Array) => Uint8Array };
    }
  ).crypto;
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof crypto?.getRandomValues === 'function') crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Snapshots a queueing sink accepted (its write() resolved) and then never stored: a store's failed
 * commits, an HttpSink's snapshots given up on. The Sink contract's optional `stats().failed`; 0 for a
 * sink that does not say.
 */
function failedBySink(sink: Sink): number {
  if (typeof sink.stats !== 'function') return 0;
  try {
    const failed = sink.stats()?.failed;
    return typeof failed === 'number' && Number.isFinite(failed) ? failed : 0;
  } catch {
    return 0;
  }
}

async function scalarOf(value: unknown): Promise<number> {
  if (typeof value === 'number') return value;
  if (value instanceof tf.Tensor && !value.isDisposed) return (await value.data())[0]!;
  return Number.NaN;
}

/**
 * The smallest trainable weight of the model: fit differentiates w.r.t. every trainable weight, so a
 * tap anchored to one is crossed by the training step's own backward pass (for input-grad of the first
 * layer, whose input is the model input, nothing else would reach it); its zero gradient costs least.
 */
function smallestTrainableWeight(model: Model): tf.Variable | undefined {
  const weights = coreModel(model).trainableWeights as unknown as LayerVariable[];
  let best: tf.Variable | undefined;
  for (const w of weights) {
    const v = w.read();
    if (best === undefined || v.size < best.size) best = v;
  }
  return best;
}

/**
 * Records per-timestep RNN gradients during `model.fit`. Build it with `gradientCallback()`.
 */
export class GradientCallback extends tf.Callback {
  readonly sink: Sink;
  /** Id of the run every snapshot of this callback belongs to. */
  readonly runId: string = randomId();
  /** Optimizer steps completed so far, across every fit this callback took part in. */
  iteration = 0;

  private readonly every: number | undefined;
  private readonly at: Set<number>;
  private readonly mode: 'probe' | 'batch';
  private readonly kinds: Set<Kind>;
  private readonly layerSpec: LayerSpec;
  private readonly probe: Batch | undefined;
  private readonly runName: string | undefined;
  private readonly runMeta: Record<string, unknown> | undefined;
  private readonly group: string | undefined;
  private readonly userParams: Record<string, unknown> | undefined;
  private readonly guard: SinkGuard;
  private epoch = 0;
  private targets: Target[] = [];
  private taps: Taps | undefined;
  private optimizerTap: OptimizerTap | undefined;
  private captures = 0;
  private nonFiniteSnapshots = 0;
  private warnedNonFinite = false;
  /** Collects scalars when the sink takes them. */
  private readonly scalars: ScalarRecorder | undefined;
  private scalarSteps = 0;
  /** The sink's failed count when this callback first trained (a store may be shared with earlier runs). */
  private failedAtStart: number | undefined;
  private readonly verbose: 0 | 1;
  /** The constant predictor's loss on the probe (undefined until the first fit begins; null: no known constant). */
  private baseline: number | null | undefined;
  /** What the diagnosis reads, per layer, one entry per capture. */
  private readonly observations = new Map<
    string,
    { layerClass: string; iterations: IterationObservation[] }
  >();

  constructor(args: GradientCallbackArgs = {}) {
    super();
    checkOptions(args, CALLBACK_OPTIONS, 'gradientCallback', (message) => new GradscopeError(message));
    this.mode = args.mode ?? 'probe';
    if (this.mode !== 'probe' && this.mode !== 'batch') {
      throw new GradscopeError(`mode must be 'probe' or 'batch', got ${JSON.stringify(args.mode)}`);
    }
    if (args.every !== undefined) this.every = checkIteration(args.every, 'every', 1);
    if (args.at !== undefined && !Array.isArray(args.at)) {
      throw new GradscopeError(`at must be an array of iterations, got ${JSON.stringify(args.at)}`);
    }
    this.at = new Set((args.at ?? []).map((v, i) => checkIteration(v, `at[${i}]`, 0)));
    if (this.at.has(0) && this.mode === 'batch') {
      throw new GradscopeError("at: iteration 0 (before training) can only be recorded in mode 'probe'");
    }
    if (args.every === undefined && args.at === undefined) this.every = 20;
    const capture = args.capture ?? (this.mode === 'probe' ? DEFAULT_PROBE_CAPTURE : DEFAULT_BATCH_CAPTURE);
    if (!Array.isArray(capture) || capture.length === 0) {
      throw new GradscopeError(
        `capture must be a non-empty array of ${KINDS.join(', ')}, got ${JSON.stringify(capture)}`,
      );
    }
    for (const kind of capture) {
      if (!KINDS.includes(kind)) {
        throw new GradscopeError(
          `capture: unknown kind ${JSON.stringify(kind)}; expected one of ${KINDS.join(', ')}`,
        );
      }
    }
    if (this.mode === 'batch' && capture.includes('jacobian')) {
      throw new GradscopeError(
        "capture: 'jacobian' is computed on the probe (it needs the layer input in inference mode): use mode 'probe'",
      );
    }
    this.kinds = new Set(capture);
    if (args.verbose !== undefined && args.verbose !== 0 && args.verbose !== 1) {
      throw new GradscopeError(`verbose must be 0 or 1, got ${JSON.stringify(args.verbose)}`);
    }
    this.verbose = args.verbose ?? 1;
    const layers = args.layers ?? 'recurrent';
    if (layers !== 'recurrent' && !Array.isArray(layers)) {
      throw new GradscopeError(
        `layers must be 'recurrent' or an array of names, indices or layers, got ${JSON.stringify(layers)}`,
      );
    }
    this.layerSpec = layers;
    if (this.mode === 'probe') {
      if (args.probe === undefined || args.probe.x === undefined || args.probe.y === undefined) {
        throw new GradscopeError("probe: { x, y } is required in mode 'probe' (or use mode: 'batch')");
      }
      this.probe = args.probe;
    } else if (args.probe !== undefined) {
      throw new GradscopeError("probe is only used in mode 'probe'; remove it or set mode: 'probe'");
    }
    const sink = args.sink ?? new MemorySink();
    if (typeof sink.write !== 'function') throw new GradscopeError('sink must have a write(snapshot) method');
    this.sink = sink;
    const onSinkError = args.onSinkError ?? 'warn';
    if (onSinkError !== 'warn' && onSinkError !== 'throw') {
      throw new GradscopeError(`onSinkError must be 'warn' or 'throw', got ${JSON.stringify(onSinkError)}`);
    }
    this.guard = new SinkGuard(sink, {
      onSinkError,
      maxPendingWrites: checkIteration(args.maxPendingWrites ?? 8, 'maxPendingWrites', 1),
      sinkTimeoutMs: checkPositive(args.sinkTimeoutMs ?? 10_000, 'sinkTimeoutMs'),
    });
    if (args.scalars !== undefined && typeof args.scalars !== 'boolean') {
      throw new GradscopeError(`scalars must be true or false, got ${JSON.stringify(args.scalars)}`);
    }
    if (args.scalars !== false && typeof sink.writeScalars === 'function')
      this.scalars = new ScalarRecorder();
    this.runName = args.runName;
    if (args.runMeta !== undefined && (typeof args.runMeta !== 'object' || args.runMeta === null)) {
      throw new GradscopeError(`runMeta must be an object, got ${JSON.stringify(args.runMeta)}`);
    }
    this.runMeta = args.runMeta;
    const fail = (message: string) => new GradscopeError(message);
    if (args.group !== undefined) this.group = checkGroup(args.group, 'group', fail);
    if (args.params !== undefined) this.userParams = checkParams(args.params, 'params', fail);
  }

  /** What happened to the snapshots and scalars so far; `dropped` is final once the sink is flushed or closed. */
  get stats(): CaptureStats {
    const lost =
      this.failedAtStart === undefined ? 0 : Math.max(0, failedBySink(this.sink) - this.failedAtStart);
    return {
      ...this.guard.stats,
      // A snapshot the sink accepted and later lost moves from written to dropped.
      written: Math.max(0, this.guard.stats.written - lost),
      dropped: this.guard.stats.dropped + lost,
      captures: this.captures,
      nonFiniteSnapshots: this.nonFiniteSnapshots,
    };
  }

  /** True when iteration `i` is to be recorded. */
  isDue(i: number): boolean {
    return (this.every !== undefined && i > 0 && i % this.every === 0) || this.at.has(i);
  }

  override async onTrainBegin(): Promise<void> {
    const model = this.model as unknown as Model;
    if (model === undefined || model === null) throw new GradscopeError('gradientCallback: no model was set');
    this.targets = resolveLayers(model, this.layerSpec).map(makeTarget);
    if (this.probe !== undefined) checkBatch(model, this.probe, 'probe');
    this.failedAtStart ??= failedBySink(this.sink);
    const info = await this.runInfo(model);
    await this.guard.call('startRun', () => this.sink.startRun?.(info));
    if (this.baseline === undefined && this.probe !== undefined) {
      this.baseline = await constantBaseline(model, this.probe);
      if (this.baseline !== null)
        this.scalars?.add(this.iteration, 'probe/baseline', this.baseline, Date.now());
    }
    if (this.mode === 'batch') this.installBatchTaps(model);
    else if (this.iteration === 0 && this.at.has(0))
      await this.record(model, { epoch: 0, batch: 0, loss: undefined });
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }

  override async onBatchBegin(): Promise<void> {
    const due = this.isDue(this.iteration + 1);
    if (this.taps) this.taps.armed = due;
    if (this.optimizerTap) this.optimizerTap.armed = due;
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    this.iteration++;
    if (this.scalars !== undefined) {
      this.guard.check();
      this.scalars.addLogs(this.iteration, logs, Date.now());
      if (++this.scalarSteps >= SCALAR_BATCH_STEPS) this.sendScalars();
    }
    if (!this.isDue(this.iteration)) return;
    await this.record(this.model as unknown as Model, { epoch: this.epoch, batch, loss: logs?.loss });
  }

  override async onEpochEnd(_epoch: number, logs?: tf.Logs): Promise<void> {
    // Validation metrics exist only per epoch; the training ones were recorded at every step.
    this.scalars?.addLogs(this.iteration, logs, Date.now(), (name) => name.startsWith('val_'));
  }

  override async onTrainEnd(): Promise<void> {
    this.removeTaps();
    this.sendScalars();
    await this.guard.flush();
    this.guard.check();
    await this.guard.call('endRun', () => this.sink.endRun?.(this.runId, 'finished'));
    if (this.verbose === 1)
      for (const layer of this.diagnosis().layers) console.log(`gradscope: ${layer.summary}`);
  }

  /**
   * The diagnosis of every recorded layer from what this callback captured so far (the same rules as
   * `gradscope doctor` and the viewer): a verdict, its causes and the evidence behind them.
   */
  diagnosis(): RunDiagnosis {
    return diagnose({
      id: this.runId,
      name: this.runName ?? this.runId,
      baseline: this.baseline ?? null,
      layers: [...this.observations].map(([layer, o]) => ({ layer, ...o })),
    });
  }

  /** Keeps what the diagnosis reads of one capture's snapshots: norms per timestep and per unit, counts. */
  private observe(snapshots: Snapshot[]): void {
    const byLayer = new Map<string, IterationObservation>();
    const unitNorms = new Map<string, UnitGradNorms>();
    const saturation = new Map<string, number[]>();
    for (const s of snapshots) {
      let o = byLayer.get(s.layer);
      if (o === undefined) {
        o = { iteration: s.iteration, loss: s.loss, nonFinite: 0, profiles: [] };
        byLayer.set(s.layer, o);
        const entry = this.observations.get(s.layer) ?? { layerClass: s.layerClass, iterations: [] };
        entry.iterations.push(o);
        this.observations.set(s.layer, entry);
      }
      o.nonFinite += s.nonFinite;
      const timed = s.dims[1] === 'timestep' && s.shape.length >= 3;
      if ((s.kind === 'jacobian' || s.kind === 'input-grad') && timed) {
        o.profiles.push({ kind: s.kind, part: s.part ?? null, norms: timestepNorms(s.data, s.shape) });
      } else if (s.kind === 'output') {
        const share = saturatedShare(s.data);
        if (share !== null) saturation.set(s.layer, [...(saturation.get(s.layer) ?? []), share]);
      } else if (s.kind === 'weight-grad') {
        const units = unitNorms.get(s.layer) ?? new UnitGradNorms();
        units.add(s.part ?? '', lastAxisNorms(s.data, s.shape));
        unitNorms.set(s.layer, units);
      }
    }
    for (const [layer, shares] of saturation)
      byLayer.get(layer)!.saturatedShare = shares.reduce((a, b) => a + b, 0) / shares.length;
    for (const [layer, units] of unitNorms) byLayer.get(layer)!.unitGradNorms = units.result();
  }

  /** Hands the collected scalars over: read back and sent in the background. */
  private sendScalars(): void {
    if (this.scalars === undefined) return;
    this.scalarSteps = 0;
    if (this.scalars.size > 0) this.guard.sendScalars(this.runId, this.scalars.flush());
  }

  private async runInfo(model: Model): Promise<RunInfo> {
    const layers: Layer[] = this.targets.map((t) => t.layer);
    const summary = describeModel(model, layers);
    return {
      id: this.runId,
      name: this.runName ?? `${model.name.replace(/_model$/, '')} ${new Date().toISOString()}`,
      startedAt: Date.now(),
      model: summary,
      options: {
        mode: this.mode,
        ...(this.every !== undefined ? { every: this.every } : {}),
        ...(this.at.size > 0 ? { at: [...this.at].sort((a, b) => a - b) } : {}),
        capture: [...this.kinds],
        layers: this.targets.map((t) => t.name),
      },
      backend: tf.getBackend(),
      tfjsVersion: tf.version_core,
      host: await hostName(),
      ...(this.runMeta !== undefined ? { meta: this.runMeta } : {}),
      ...(this.group !== undefined ? { group: this.group } : {}),
      params: { ...autoParams(model, summary, this.params as FitParams), ...this.userParams },
    };
  }

  private installBatchTaps(model: Model): void {
    this.removeTaps();
    const anchor = smallestTrainableWeight(model);
    this.taps = new Taps(
      this.targets.flatMap((t) => [...t.points, ...t.inputPoints]),
      {
        output: this.kinds.has('output'),
        grad: this.kinds.has('output-grad'),
        inputGrad: this.kinds.has('input-grad'),
        trainingOnly: true,
        ...(anchor !== undefined ? { anchor } : {}),
      },
    );
    this.taps.install();
    if (this.kinds.has('weight-grad')) {
      const optimizer = coreModel(model).optimizer as unknown as ConstructorParameters<
        typeof OptimizerTap
      >[0];
      const names = new Set(targetVariables(this.targets).map((v) => v.read().name));
      this.optimizerTap = new OptimizerTap(optimizer, names);
      this.optimizerTap.install();
    }
  }

  private removeTaps(): void {
    this.taps?.discard();
    this.taps?.remove();
    this.taps = undefined;
    this.optimizerTap?.remove();
    this.optimizerTap = undefined;
  }

  private async record(model: Model, at: { epoch: number; batch: number; loss: unknown }): Promise<void> {
    const kept =
      this.mode === 'probe'
        ? probePass(model, this.targets, this.probe!, this.kinds)
        : this.takeBatch(at.loss);
    const snapshots = await toSnapshots(this.targets, await kept, this.kinds, {
      run: this.runId,
      iteration: this.iteration,
      epoch: at.epoch,
      batch: at.batch,
      time: Date.now(),
    });
    this.captures++;
    this.observe(snapshots);
    const first = snapshots[0];
    if (this.mode === 'probe' && first !== undefined)
      this.scalars?.add(this.iteration, 'probe/loss', first.loss, first.time);
    for (const snapshot of snapshots) {
      if (snapshot.nonFinite > 0) this.flagNonFinite(snapshot.layer, snapshot.kind, snapshot.nonFinite);
      await this.guard.write(snapshot);
    }
  }

  private async takeBatch(loss: unknown): Promise<Kept> {
    const taken = this.taps!.take();
    this.taps!.armed = false;
    const weightGrads = this.optimizerTap?.take() ?? new Map();
    if (this.optimizerTap) this.optimizerTap.armed = false;
    return { loss: await scalarOf(loss), ...taken, shapes: this.taps!.shapes, weightGrads };
  }

  private flagNonFinite(layer: string, kind: Kind, count: number): void {
    this.nonFiniteSnapshots++;
    if (this.warnedNonFinite) return;
    this.warnedNonFinite = true;
    console.warn(
      `gradscope: ${count} non-finite values in ${kind} of layer '${layer}' at iteration ${this.iteration} (exploding gradients?). Recorded and counted in snapshot.nonFinite.`,
    );
  }
}

/**
 * A callback for `model.fit` that records, for each RNN layer, the gradient of the loss w.r.t. its
 * output at every timestep (and on request its activations, weight gradients and weights per gate).
 *
 * ```ts
 * import { gradientCallback } from '@gradscope/capture';
 * import { openStore } from '@gradscope/store';
 * const store = openStore('runs.gradscope');
 * await model.fit(x, y, {
 *   epochs: 10,
 *   callbacks: [gradientCallback({ every: 20, at: [200, 400], probe: { x: px, y: py }, sink: store })],
 * });
 * await store.close();
 * ```
 */
export function gradientCallback(args: GradientCallbackArgs = {}): GradientCallback {
  return new GradientCallback(args);
}
